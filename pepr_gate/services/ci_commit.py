"""Which commit `ci` measures, and whose settings judge it.

Two things a team must be able to trust before any runs are made:

* The files measured are the commit the result is reported and stored as. On a pull
  request `HEAD` is the PR's head commit, or GitHub's merge commit for it (`GITHUB_SHA`,
  whose second parent is the head); on a push it is the pushed commit. Anything else is
  refused (exit 2) before the job starts: nothing is stored and the comment is left alone.
* A pull request cannot loosen its own gate: `[gate]` (budgets, guardrail, accept label)
  and `[score]` (the scale) are read from the base commit's config; the PR's own values
  are only shown beside them.
"""

from __future__ import annotations

import os
import posixpath
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pepr_gate.errors import ConfigError, InputError

if TYPE_CHECKING:
    from pepr_gate.config import Config
    from pepr_gate.publish.github.context import EventContext

JUDGING_SECTIONS = ("gate", "score")  # the settings a pull request cannot change for itself


@dataclass
class Judged:
    """The config that judges this run, and what the record and the comment say about it."""

    config: Config
    notes: list[str] = field(default_factory=list)  # shown in the comment and the summary
    record_note: str | None = None  # added to each run record (a merge commit was measured)
    # The hashed keys the pull request changes: no stored run of the base compares.
    measured_changes: list[str] = field(default_factory=list)


def judged(ctx: EventContext, config: Config, env: Mapping[str, str],
           cwd: Path | None = None) -> Judged:
    """Check the checkout against the event, then settle whose settings judge it."""
    where = cwd or Path.cwd()
    out = Judged(config)
    head = _git(where, "rev-parse", "--verify", "-q", "HEAD^{commit}")
    if head is None and not _inside_work_tree(where):
        out.notes.append(
            f"{where} is not a git checkout: pepr-gate cannot confirm that the files measured "
            f"are commit {_short(ctx.sha)}, and the gate's settings are this folder's own")
        return out
    if ctx.kind == "pull_request":
        out.record_note = _check_pull_head(ctx, head, env, where)
        out.notes += [out.record_note] if out.record_note else []
        theirs, notes = base_config(ctx, config, where)
        out.notes += notes
        if theirs is not None:
            out.config, changed = _judged_by(theirs, config)
            out.notes += changed
            out.measured_changes = measured_changes(theirs, out.config)
    else:
        _check_push_head(ctx, head)
    return out


# --- the commit checked out ---------------------------------------------------------------

def _check_pull_head(ctx: EventContext, head: str | None, env: Mapping[str, str],
                     where: Path) -> str | None:
    """None when HEAD is the PR's head; a note when it is GitHub's merge commit for it."""
    wanted = (ctx.head_sha or "").lower()
    if not wanted:
        raise InputError(
            f"the event names no head commit for pull request #{ctx.pr_number}",
            hint="the event payload's pull_request.head.sha is missing; run on pull_request "
            "events (or a workflow_dispatch with a `pr` input)")
    if head == wanted:
        return None
    merge = (env.get("GITHUB_SHA") or "").lower()
    if head and head == merge:
        parents = commit_parents(where, head)
        if len(parents) == 2 and parents[1] == wanted:
            return (f"measured the merge of {wanted[:12]} into {parents[0][:12]}: GitHub's "
                    f"merge commit {head[:12]} of this pull request's head into its base "
                    "branch; the runs are stored under the head")
    raise InputError(
        f"the checkout is commit {_short(head)}, but pull request #{ctx.pr_number}'s head is "
        f"{wanted[:12]}" + (f" and GitHub's merge commit for it is {merge[:12]}"
                            if merge and ctx.event_name != "workflow_dispatch" else "")
        + ": pepr-gate would measure one commit and report it as another, so it measured "
        "nothing, stored nothing and left the comment alone",
        hint=_pull_fix(ctx))


def _pull_fix(ctx: EventContext) -> str:
    if ctx.event_name == "workflow_dispatch":
        return ("check out the pull request's head in actions/checkout: "
                "`ref: refs/pull/${{ inputs.pr }}/head`")
    return ("leave `ref:` out of actions/checkout on pull_request events (GitHub's merge "
            "commit), or set `ref: ${{ github.event.pull_request.head.sha }}`")


def _check_push_head(ctx: EventContext, head: str | None) -> None:
    wanted = (ctx.sha or "").lower()
    if not wanted or head == wanted:
        return
    raise InputError(
        f"the checkout is commit {_short(head)}, but this {ctx.event_name} is commit "
        f"{wanted[:12]} (GITHUB_SHA) on {ctx.branch}: pepr-gate would store one commit's runs "
        "as another's, so it measured nothing and stored nothing",
        hint="leave `ref:` out of actions/checkout (it then checks out GITHUB_SHA), or set "
        "`ref: ${{ github.sha }}`")


def commit_parents(where: Path, sha: str) -> list[str]:
    """The parents written in the commit object itself.

    A depth-1 clone (actions/checkout's default) marks the commit shallow, and
    `git rev-parse SHA^2` then fails; the object still names its parents.
    """
    raw = _git(where, "cat-file", "commit", sha) or ""
    parents = []
    for line in raw.split("\n"):
        if not line:  # the headers end at the first blank line
            break
        if line.startswith("parent "):
            parents.append(line[len("parent "):].strip().lower())
    return parents


# --- whose settings judge -------------------------------------------------------------------

def base_settings(ctx: EventContext, config: Config, where: Path) -> tuple[Config, list[str]]:
    """`config` with `[gate]` and `[score]` from the base commit's copy of the same file."""
    theirs, notes = base_config(ctx, config, where)
    if theirs is None:
        return config, notes
    judged_by, changed = _judged_by(theirs, config)
    return judged_by, notes + changed


def _judged_by(base: Config, pr: Config) -> tuple[Config, list[str]]:
    """The PR's config with the base's judging sections, and what the PR changed there."""
    update = {section: getattr(base, section) for section in JUDGING_SECTIONS}
    return pr.model_copy(update=update), changed_settings(base, pr)


def measured_changes(base: Config, judged_by: Config) -> list[str]:
    """The hashed keys ([performance], [carbon], [meter]) this pull request changes: its
    runs then measure otherwise than the base's, and no stored run compares with them."""
    if base.config_hash() == judged_by.config_hash():
        return []
    old, new = base.config_keys(), judged_by.config_keys()
    return sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k)) \
        or ["(the metric, carbon or meter settings)"]


def base_config(ctx: EventContext, config: Config,
                where: Path) -> tuple[Config | None, list[str]]:
    """The base commit's copy of the config file (None when there is none to read)."""
    if not config.source:
        return None, []
    base = (ctx.base_sha or "").lower()
    name = _repo_path(where, Path(config.source))
    if not base or name is None:
        why = "the event names no base commit" if not base else "it lies outside the repository"
        return None, [f"{config.source}: {why}, so this pull request's own [gate] and "
                      "[score] settings judge it"]
    notes = _ensure_commit(where, base)
    text = _git(where, "show", f"{base}:{name}", strip=False)
    if text is None or not _holds_config(text, name):
        notes.append(f"{name} is new in this pull request (the base {base[:12]} has none): "
                     "its own [gate] and [score] settings judge it")
        return None, notes
    try:
        return _load_text(text, name), notes
    except ConfigError as exc:
        notes.append(f"the base's {name} does not load ({exc.message}): this pull request's "
                     "own [gate] and [score] settings judge it")
        return None, notes


def changed_settings(base: Config, pr: Config) -> list[str]:
    """One sentence per judging setting the pull request changes."""
    old = _flat({s: getattr(base, s).model_dump(mode="json") for s in JUDGING_SECTIONS})
    new = _flat({s: getattr(pr, s).model_dump(mode="json") for s in JUDGING_SECTIONS})
    return [
        f"this PR changes {key} {_show(old.get(key))} -> {_show(new.get(key))}: judged by "
        f"the base's {_show(old.get(key))}"
        for key in sorted(old.keys() | new.keys()) if old.get(key) != new.get(key)
    ]


def _flat(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Mapping):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _show(value: Any) -> str:
    if value is None:
        return "unset"
    return f'"{value}"' if isinstance(value, str) else str(value).lower() \
        if isinstance(value, bool) else str(value)


def _holds_config(text: str, name: str) -> bool:
    """False for a base pyproject.toml without [tool.pepr-gate]: no config there yet."""
    if Path(name).name != "pyproject.toml":
        return True
    from pepr_gate.config import tomllib

    try:
        tool = tomllib.loads(text).get("tool")
    except tomllib.TOMLDecodeError:
        return True  # the loader names the broken line
    return isinstance(tool, dict) and "pepr-gate" in tool


def _load_text(text: str, name: str) -> Config:
    """Parse the base's copy with the same loader (a pyproject.toml reads [tool.pepr-gate])."""
    from pepr_gate.config import load_config

    with tempfile.TemporaryDirectory(prefix="pepr-base-") as tmp:
        path = Path(tmp) / Path(name).name
        path.write_text(text, encoding="utf-8")
        try:
            return load_config(path)
        except ConfigError as exc:
            raise ConfigError(exc.message.replace(str(path), f"base:{name}")) from None


def _ensure_commit(where: Path, sha: str) -> list[str]:
    """Fetch the base commit when the clone lacks it (actions/checkout fetches depth 1)."""
    if _git(where, "cat-file", "-e", f"{sha}^{{commit}}") is not None:
        return []
    from pepr_gate.store.gitcmd import git_env, last_line, remote_auth

    print(f"pepr-gate: fetching the base commit {sha[:12]} to read its config", flush=True)
    origin = _git(where, "remote", "get-url", "origin")
    said = "the checkout has no remote `origin`"
    if origin is not None:
        auth = remote_auth(Path(_git(where, "rev-parse", "--show-toplevel") or where), origin)
        try:
            # `sha` was checked as hexadecimal (publish.github.payload); `--` ends the
            # options all the same, so no value can ever become one.
            done = subprocess.run(["git", "fetch", "--no-tags", "--depth=1", "--", "origin", sha],
                                  cwd=where, capture_output=True, env=git_env(auth),
                                  timeout=300, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            said = f"git did not finish: {exc}"
        else:
            if done.returncode == 0:
                return [f"the base commit {sha[:12]} was not in this clone: fetched it from "
                        "origin to read its config"]
            said = last_line(done.stderr)
    raise InputError(
        f"the pull request's base commit {sha[:12]} is not in this clone and fetching it "
        f"from origin failed ({said[:200]}): the gate's settings come from the base's "
        "config, so nothing was measured",
        hint="pass the action a `github-token` (pepr-gate fetches the base with it) or keep "
        "actions/checkout's `persist-credentials: true`; or give checkout `fetch-depth: 0`")


def _repo_path(where: Path, source: Path) -> str | None:
    """The config's path from the repository's top, as configured: never resolved.

    A `pepr.toml` that the pull request turns into a link to its own `loose.toml` is still
    judged by the base's `pepr.toml`; following the link would let the PR pick the file
    whose [gate] and [score] judge it.
    """
    if source.is_absolute():
        top = _git(where, "rev-parse", "--show-toplevel")
        if top is None:
            return None
        # The folders above the file may be links (/tmp on some systems); the file is not.
        return _inside(Path(os.path.normpath(source.parent)).resolve() / source.name,
                       Path(top).resolve())
    prefix = _git(where, "rev-parse", "--show-prefix")
    if prefix is None:
        return None
    name = posixpath.normpath(posixpath.join(prefix, source.as_posix()))
    return None if name == ".." or name.startswith("../") or name == "." else name


def _inside(path: Path, top: Path) -> str | None:
    try:
        return path.relative_to(top).as_posix()
    except ValueError:
        return None


def _inside_work_tree(where: Path) -> bool:
    return _git(where, "rev-parse", "--is-inside-work-tree") == "true"


def _short(sha: str | None) -> str:
    return sha[:12] if sha else "(none: HEAD has no commit)"


def _run(where: Path, *args: str) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(["git", *args], cwd=where, capture_output=True, text=True,
                              timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None


def _git(where: Path, *args: str, strip: bool = True) -> str | None:
    done = _run(where, *args)
    if done is None or done.returncode != 0:
        return None
    return done.stdout.strip() if strip else done.stdout
