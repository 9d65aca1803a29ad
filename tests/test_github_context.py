"""Event parsing against real webhook payloads (tests/fixtures/github-events, octokit, MIT)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pepr_gate.errors import InputError
from pepr_gate.publish.github.context import load_event

EVENTS = Path(__file__).parent / "fixtures" / "github-events"


def env_for(event: str, payload: Path, **extra: str) -> dict[str, str]:
    env = {
        "GITHUB_EVENT_NAME": event,
        "GITHUB_EVENT_PATH": str(payload),
        "GITHUB_REPOSITORY": "Codertocat/Hello-World",
        "GITHUB_SHA": "f" * 40,
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_API_URL": "https://api.github.com",
        "GITHUB_RUN_ID": "987654",
        "GITHUB_RUN_ATTEMPT": "1",
    }
    env.update(extra)
    return env


def write_variant(tmp_path: Path, name: str, edit: Any) -> Path:
    data = json.loads((EVENTS / name).read_text())
    edit(data)
    path = tmp_path / f"variant-{name}"
    path.write_text(json.dumps(data))
    return path


def test_fixture_licence_is_kept() -> None:
    assert "MIT License" in (EVENTS / "LICENSE").read_text()


@pytest.mark.parametrize(
    "name",
    [
        "pull_request.opened.json",
        "pull_request.opened.with-null-body.json",
        "pull_request.reopened.with-organization.json",
        "pull_request.synchronize.json",
    ],
)
def test_pull_request_payloads(name: str) -> None:
    ctx = load_event(env_for("pull_request", EVENTS / name, GITHUB_REF="refs/pull/2/merge"))
    assert ctx.kind == "pull_request"
    assert ctx.pr_number == 2
    assert (ctx.base_ref, ctx.base_sha) == ("master", "f95f852bd8fca8fcc58a9a2d6c842781e32a215e")
    assert (ctx.head_ref, ctx.head_sha) == ("changes", "ec26c3e57ca3a959ca5aad62de7213c562f8c821")
    # The PR head is measured, not GitHub's merge commit in GITHUB_SHA.
    assert ctx.sha == ctx.head_sha
    assert ctx.branch == "changes"
    assert ctx.fork is False
    assert ctx.run_url == "https://github.com/Codertocat/Hello-World/actions/runs/987654"


def test_null_body_is_no_problem() -> None:
    payload = json.loads((EVENTS / "pull_request.opened.with-null-body.json").read_text())
    assert payload["pull_request"]["body"] is None
    ctx = load_event(env_for("pull_request", EVENTS / "pull_request.opened.with-null-body.json"))
    assert ctx.pr_number == 2


def test_fork_pull_request_is_detected_and_stored_under_its_label(tmp_path: Path) -> None:
    def to_fork(d: dict[str, Any]) -> None:
        d["pull_request"]["head"]["repo"]["full_name"] = "mallory/Hello-World"
        d["pull_request"]["head"]["label"] = "mallory:master"
        d["pull_request"]["head"]["ref"] = "master"

    ctx = load_event(
        env_for("pull_request", write_variant(tmp_path, "pull_request.opened.json", to_fork))
    )
    assert ctx.fork is True
    assert ctx.head_repo == "mallory/Hello-World"
    # A fork's `master` must not be stored as this repository's `master` baseline.
    assert ctx.branch == "mallory:master"


def test_deleted_fork_counts_as_fork(tmp_path: Path) -> None:
    def drop(d: dict[str, Any]) -> None:
        d["pull_request"]["head"]["repo"] = None

    ctx = load_event(
        env_for("pull_request", write_variant(tmp_path, "pull_request.opened.json", drop))
    )
    assert ctx.fork is True


def test_push_of_a_new_branch() -> None:
    ctx = load_event(
        env_for("push", EVENTS / "push.with-new-branch.json", GITHUB_REF="refs/heads/master")
    )
    assert ctx.kind == "push"
    assert ctx.branch == "master"
    assert ctx.new_branch is True
    assert ctx.sha == "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
    assert ctx.pr_number is None


def test_tag_push_is_not_measured() -> None:
    ctx = load_event(env_for("push", EVENTS / "push.json", GITHUB_REF="refs/tags/simple-tag"))
    assert ctx.kind == "tag"
    assert ctx.tag == "simple-tag"
    assert ctx.branch is None


def test_deleted_branch_is_not_measured(tmp_path: Path) -> None:
    def branch(d: dict[str, Any]) -> None:
        d["ref"] = "refs/heads/old"

    path = write_variant(tmp_path, "push.json", branch)
    ctx = load_event(env_for("push", path, GITHUB_REF="refs/heads/old"))
    assert ctx.kind == "other"
    assert ctx.deleted is True


def test_dispatch_without_pr_runs_the_branch() -> None:
    ctx = load_event(
        env_for(
            "workflow_dispatch",
            EVENTS / "workflow_dispatch.json",
            GITHUB_REF="refs/heads/master",
            GITHUB_REPOSITORY="octo-org/octo-repo",
        )
    )
    assert ctx.kind == "push"
    assert ctx.branch == "master"
    assert ctx.sha == "f" * 40


@pytest.mark.parametrize("key", ["pr", "pull_request"])
def test_dispatch_with_a_pr_number(tmp_path: Path, key: str) -> None:
    path = write_variant(
        tmp_path, "workflow_dispatch.json", lambda d: d["inputs"].update({key: "#17"})
    )
    ctx = load_event(env_for("workflow_dispatch", path, GITHUB_REF="refs/heads/master"))
    assert ctx.kind == "pull_request"
    assert ctx.pr_number == 17
    assert ctx.needs_pr_lookup is True
    filled = ctx.with_pull(
        {
            "number": 17,
            "base": {
                "ref": "main",
                "sha": "a" * 40,
                "repo": {"full_name": "Codertocat/Hello-World"},
            },
            "head": {
                "ref": "topic",
                "sha": "c" * 40,
                "label": "Codertocat:topic",
                "repo": {"full_name": "Codertocat/Hello-World"},
            },
        }
    )
    assert (filled.base_ref, filled.head_ref, filled.sha, filled.fork) == (
        "main",
        "topic",
        "c" * 40,
        False,
    )
    assert filled.needs_pr_lookup is False


def test_dispatch_with_a_bad_pr_input_names_it(tmp_path: Path) -> None:
    path = write_variant(
        tmp_path, "workflow_dispatch.json", lambda d: d["inputs"].update({"pr": "12; rm"})
    )
    with pytest.raises(InputError, match="input 'pr'"):
        load_event(env_for("workflow_dispatch", path))


def test_issue_comment_is_another_event() -> None:
    ctx = load_event(
        env_for(
            "issue_comment", EVENTS / "issue_comment.created.json", GITHUB_REF="refs/heads/master"
        )
    )
    assert ctx.kind == "other"


def test_enterprise_server_api_url() -> None:
    env = env_for(
        "pull_request",
        EVENTS / "pull_request.opened.json",
        GITHUB_SERVER_URL="https://ghe.example.com",
        GITHUB_RUN_ATTEMPT="2",
    )
    del env["GITHUB_API_URL"]
    ctx = load_event(env)
    assert ctx.api_url == "https://ghe.example.com/api/v3"
    assert (
        ctx.run_url
        == "https://ghe.example.com/Codertocat/Hello-World/actions/runs/987654/attempts/2"
    )


def test_outside_actions_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="GITHUB_EVENT_NAME"):
        load_event({})


def test_missing_payload_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="event payload not found"):
        load_event(env_for("pull_request", tmp_path / "nope.json"))
