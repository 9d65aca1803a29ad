"""What the workflow run is about, read from the Actions environment and event payload.

GitHub writes the triggering webhook payload to `$GITHUB_EVENT_PATH`; everything a PR
author controls (branch names, titles, bodies) arrives through it and is treated as
data: it is parsed, never executed or pasted into a shell.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from pepr_gate.errors import InputError
from pepr_gate.fileio.readfile import read_text_limited
from pepr_gate.publish.github import payload
from pepr_gate.publish.github.payload import obj
from pepr_gate.publish.github.payload import sha as sha_field

ZERO_SHA = "0" * 40
Kind = Literal["pull_request", "push", "tag", "other"]
PR_EVENTS = ("pull_request", "pull_request_target")
# Inputs a `workflow_dispatch` may carry to say which pull request to measure.
DISPATCH_PR_INPUTS = ("pr", "pull_request", "pull-request", "pr_number", "pr-number")


@dataclass(frozen=True)
class EventContext:
    event_name: str
    kind: Kind
    repo: str  # owner/name of the repository the workflow runs in
    api_url: str
    server_url: str
    sha: str | None  # the commit measured
    ref: str | None
    branch: str | None  # branch the runs are stored under
    pr_number: int | None = None
    base_ref: str | None = None
    base_sha: str | None = None
    head_ref: str | None = None
    head_sha: str | None = None
    head_repo: str | None = None
    fork: bool = False
    new_branch: bool = False
    deleted: bool = False
    tag: str | None = None
    run_id: str | None = None
    run_attempt: str | None = None
    # A dispatch names a PR by number only; its refs come from the API later.
    needs_pr_lookup: bool = False
    labels: tuple[str, ...] = ()  # the pull request's labels (an accept label, say)

    @property
    def run_url(self) -> str | None:
        return workflow_run_url({"GITHUB_SERVER_URL": self.server_url,
                                 "GITHUB_REPOSITORY": self.repo,
                                 "GITHUB_RUN_ID": self.run_id or "",
                                 "GITHUB_RUN_ATTEMPT": self.run_attempt or ""})

    def with_pull(self, pull: Mapping[str, Any]) -> EventContext:
        """This context completed with a pull request object from the REST API."""
        return replace(self, needs_pr_lookup=False, **_pull_fields(pull, self.repo))


def _pull_fields(pr: Mapping[str, Any], repo: str) -> dict[str, Any]:
    base = payload.obj(pr.get("base"), "pull_request.base")
    head = payload.obj(pr.get("head"), "pull_request.head")
    base_repo = payload.text(payload.obj(base.get("repo"), "pull_request.base.repo").get(
        "full_name"), "pull_request.base.repo.full_name") or repo
    # A deleted fork shows `head.repo: null`; it is still not this repository.
    head_repo = payload.text(payload.obj(head.get("repo"), "pull_request.head.repo").get(
        "full_name"), "pull_request.head.repo.full_name")
    fork = head_repo is None or head_repo.lower() != base_repo.lower()
    head_ref = payload.text(head.get("ref"), "pull_request.head.ref")
    # Runs of a fork's branch are stored under its `owner:branch` label, so a fork's
    # `main` never lands in this repository's `main` history (the baseline of every PR).
    label = payload.text(head.get("label"), "pull_request.head.label")
    branch = (label or f"{head_repo}:{head_ref}") if fork else head_ref
    head_sha = payload.sha(head.get("sha"), "pull_request.head.sha")
    number = pr.get("number")
    if not isinstance(number, int) or isinstance(number, bool) or number <= 0:
        raise InputError(
            f"the pull request in the event has no numeric 'number' (found {str(number)[:40]!r})",
            hint="the event payload (GITHUB_EVENT_PATH, field pull_request.number) is not a "
            "pull_request webhook payload; run on `pull_request` events",
        )
    labels = tuple(
        str(label["name"]) for label in payload.items(pr.get("labels"), "pull_request.labels")
        if isinstance(label, dict) and isinstance(label.get("name"), str)
    )
    return {
        "labels": labels,
        "pr_number": number,
        "base_ref": payload.text(base.get("ref"), "pull_request.base.ref"),
        "base_sha": payload.sha(base.get("sha"), "pull_request.base.sha"),
        "head_ref": head_ref,
        "head_sha": head_sha,
        "head_repo": head_repo,
        "fork": fork,
        "branch": branch,
        "sha": head_sha,
    }


def _dispatch_pr_number(payload: Mapping[str, Any]) -> int | None:
    inputs = obj(payload.get("inputs"), "inputs")
    for name in DISPATCH_PR_INPUTS:
        raw = inputs.get(name)
        if raw is None or str(raw).strip() == "":
            continue
        text = str(raw).strip().lstrip("#")
        if not re.fullmatch(r"[0-9]{1,10}", text) or int(text) == 0:
            raise InputError(
                f"workflow_dispatch input '{name}' = {str(raw)[:40]!r} is not a PR number",
                hint="give the number only, e.g. 42",
            )
        return int(text)
    return None


def load_event(env: Mapping[str, str]) -> EventContext:
    """Parse the Actions environment; raises InputError naming the variable at fault."""
    event_name = env.get("GITHUB_EVENT_NAME", "").strip()
    if not event_name:
        raise InputError(
            "GITHUB_EVENT_NAME is not set: `pepr-gate ci` runs inside GitHub Actions",
            hint="outside Actions use `pepr-gate run` and `pepr-gate check`",
        )
    event = _read_payload(env)
    repo = env.get("GITHUB_REPOSITORY") or payload.text(payload.obj(
        event.get("repository"), "repository").get("full_name"), "repository.full_name") or ""
    server_url = env.get("GITHUB_SERVER_URL") or "https://github.com"
    api_url = env.get("GITHUB_API_URL") or default_api_url(server_url)
    ref = env.get("GITHUB_REF") or payload.text(event.get("ref"), "ref")
    sha = _env_sha(env)
    common: dict[str, Any] = {
        "event_name": event_name,
        "repo": repo,
        "api_url": api_url.rstrip("/"),
        "server_url": server_url.rstrip("/"),
        "ref": ref,
        "run_id": env.get("GITHUB_RUN_ID") or None,
        "run_attempt": env.get("GITHUB_RUN_ATTEMPT") or None,
    }
    if event_name in PR_EVENTS:
        pull = _pull_object(event_name, event, env)
        return EventContext(kind="pull_request", **common, **_pull_fields(pull, repo))
    number = _dispatch_pr_number(event) if event_name == "workflow_dispatch" else None
    if number is not None:
        return EventContext(kind="pull_request", sha=sha, branch=None, pr_number=number,
                            needs_pr_lookup=True, **common)
    if ref and ref.startswith("refs/tags/"):
        return EventContext(
            kind="tag", sha=sha, branch=None, tag=ref[len("refs/tags/") :], **common
        )
    if (
        event_name in ("push", "workflow_dispatch", "schedule")
        and ref
        and ref.startswith("refs/heads/")
    ):
        return _branch_event(event, ref, sha, common)
    return EventContext(kind="other", sha=sha, branch=None, **common)


def _env_sha(env: Mapping[str, str]) -> str | None:
    value = env.get("GITHUB_SHA") or None
    if value is not None and not re.fullmatch(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}", value):
        raise InputError(f"GITHUB_SHA={value[:60]!r} is not a commit SHA (40 or 64 "
                         "hexadecimal characters)", hint="GitHub Actions sets GITHUB_SHA; "
                         "leave it as the runner set it")
    return None if value is None else value.lower()


def _pull_object(event_name: str, payload: Mapping[str, Any],
                 env: Mapping[str, str]) -> Mapping[str, Any]:
    """A pull request event's `pull_request`; without one there is nothing to check."""
    pull = payload.get("pull_request")
    if isinstance(pull, dict):
        return pull
    path = env.get("GITHUB_EVENT_PATH")
    where = f"the event payload {path}" if path else "GITHUB_EVENT_PATH is not set: the payload"
    raise InputError(
        f"GITHUB_EVENT_NAME={event_name}, but {where} has no 'pull_request' object: there "
        "is no pull request to check",
        hint="run `pepr-gate ci` in the workflow's own event (GitHub sets GITHUB_EVENT_PATH), "
        "or point GITHUB_EVENT_PATH at a pull_request payload")


def _branch_event(payload: Mapping[str, Any], ref: str, sha: str | None,
                  common: dict[str, Any]) -> EventContext:
    """A push (or dispatch/schedule) on a branch; a deleted branch is nothing to measure."""
    after = sha_field(payload.get("after"), "after")
    deleted = bool(payload.get("deleted")) or after == ZERO_SHA
    new_branch = payload.get("before") == ZERO_SHA or bool(payload.get("created"))
    return EventContext(
        kind="other" if deleted else "push",
        sha=(after if after and after != ZERO_SHA else sha),
        branch=ref[len("refs/heads/") :],
        new_branch=new_branch,
        deleted=deleted,
        **common,
    )


def measuring_run_url(env: Mapping[str, str]) -> str | None:
    """The run whose result a `workflow_run` job comments on (the one that measured, from
    the event's `workflow_run.html_url`), else this job's own run."""
    if env.get("GITHUB_EVENT_NAME") == "workflow_run":
        try:
            run = _read_payload(env).get("workflow_run") or {}
        except InputError:
            run = {}
        url = run.get("html_url") if isinstance(run, dict) else None
        server = (env.get("GITHUB_SERVER_URL") or "https://github.com").rstrip("/")
        if isinstance(url, str) and re.fullmatch(re.escape(server) + r"/[\w.-]+/[\w.-]+"
                                                 r"/actions/runs/\d+(/attempts/\d+)?", url):
            return url
    return workflow_run_url(env)


def workflow_run_url(env: Mapping[str, str]) -> str | None:
    """The page of the workflow run this job belongs to (None outside Actions)."""
    repo, run_id = env.get("GITHUB_REPOSITORY", ""), env.get("GITHUB_RUN_ID", "")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", repo) or not run_id.isdigit():
        return None
    server = (env.get("GITHUB_SERVER_URL") or "https://github.com").rstrip("/")
    url = f"{server}/{repo}/actions/runs/{run_id}"
    attempt = env.get("GITHUB_RUN_ATTEMPT", "")
    if attempt.isdigit() and attempt != "1":
        url += f"/attempts/{attempt}"
    return url


def default_api_url(server_url: str) -> str:
    # GitHub Enterprise Server serves the REST API under /api/v3 of its own host.
    if server_url.rstrip("/") in ("https://github.com", "http://github.com"):
        return "https://api.github.com"
    return server_url.rstrip("/") + "/api/v3"


def _read_payload(env: Mapping[str, str]) -> dict[str, Any]:
    path = env.get("GITHUB_EVENT_PATH")
    if not path:
        return {}
    try:
        data = json.loads(read_text_limited(path))
    except FileNotFoundError:
        raise InputError(
            f"GITHUB_EVENT_PATH={path}: event payload not found",
            hint="run inside GitHub Actions, or point GITHUB_EVENT_PATH at a webhook payload",
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"GITHUB_EVENT_PATH={path}: unreadable event payload: {exc}") from None
    except RecursionError:
        raise InputError(f"GITHUB_EVENT_PATH={path}: event payload nested too deeply to read"
                         ) from None
    if not isinstance(data, dict):
        raise InputError(f"GITHUB_EVENT_PATH={path}: event payload is not a JSON object")
    return data
