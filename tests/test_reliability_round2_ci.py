"""Issue 20, hostile round two: `pepr-gate ci` under odd events, a token that cannot push,
runner files that cannot be written, device and FIFO config files, stale CI files.

The real CLI in a subprocess, the local GitHub server, real SQLite, real git with a
local bare origin whose pre-receive hook refuses pushes (as a read-only token is refused).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

try:
    from tests.test_ci_cmd import REPO, Project, project
except ImportError:
    from test_ci_cmd import REPO, Project, project  # type: ignore[no-redef]  # noqa: F401


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_a_pull_request_event_without_its_pull_request_is_exit_2(project: Project) -> None:
    empty = project.tmp / "empty-event.json"
    empty.write_text(json.dumps({"action": "opened", "repository": {"full_name": "octo/net"}}))
    res = project.ci(payload=empty)
    assert res.code == 2, res.stderr
    assert (f"GITHUB_EVENT_NAME=pull_request, but the event payload {empty} has no "
            "'pull_request' object") in res.stderr
    assert res.outputs["verdict"] == "error"
    res = project.ci(GITHUB_EVENT_PATH="")
    assert res.code == 2
    assert "GITHUB_EVENT_PATH is not set: the payload has no 'pull_request' object" \
        in res.stderr
    assert not (project.root / ".pepr" / "runs").exists()  # nothing was measured


def test_merge_group_is_skipped_and_says_so(project: Project) -> None:
    res = project.ci(event="merge_group", ref="refs/heads/gh-readonly-queue/main/pr-2-abc")
    assert res.code == 0, res.stderr
    assert res.outputs["verdict"] == "skipped"
    said = "merge queue (merge_group): not measured; this job passes without a verdict"
    assert f"::notice title=pepr-gate::{said}" in res.stdout
    assert said.replace("(", "\\(").replace(")", "\\)").replace("_", "\\_") in res.summary


def test_pull_request_target_from_a_fork_comments_and_never_says_read_only(
        project: Project) -> None:
    project.baseline("0.90")
    payload = project.event(head_repo="mallory/net", head_ref="main")
    res = project.ci(event="pull_request_target", payload=payload)
    assert res.code == 0, res.stderr
    assert "read-only" not in res.summary
    assert len(project.comments()) == 1  # the _target token can write


def test_unwritable_output_and_summary_keep_the_verdicts_exit_code(project: Project) -> None:
    project.baseline("0.99")  # the head (0.90) regresses: exit 1
    folder = project.tmp / "a-folder"
    folder.mkdir()
    res = project.ci(GITHUB_OUTPUT=str(folder), GITHUB_STEP_SUMMARY="/dev/full")
    assert res.code == 1, res.stderr
    assert f"pepr-gate: warning: cannot write GITHUB_OUTPUT={folder}: Is a directory" \
        in res.stderr
    assert "cannot write GITHUB_STEP_SUMMARY=/dev/full: No space left on device" in res.stderr
    assert "internal error" not in res.stderr
    check = json.loads((project.root / ".pepr/ci/check.json").read_text())
    assert check["verdict"] == "fail"


@pytest.mark.parametrize("kind", ["device", "fifo"])
def test_a_device_or_fifo_as_the_config_is_refused_at_once(project: Project, kind: str) -> None:
    if kind == "device":
        config, said = "/dev/zero", "not a regular file (a device)"
    else:
        config = str(project.tmp / "config.fifo")
        os.mkfifo(config)
        said = "not a regular file (a FIFO)"
    res = project.ci(PEPR_CONFIG=config)  # the subprocess has a 120 s timeout
    assert res.code == 2, res.stderr
    assert f"{config}: cannot read config: {said}; pass a plain file" in res.stderr


def test_an_older_jobs_check_json_never_sits_beside_this_jobs_error(project: Project) -> None:
    project.baseline("0.90")
    assert project.ci().code == 0
    ci_dir = project.root / ".pepr" / "ci"
    assert (ci_dir / "check.json").exists() and list((ci_dir / "runs").glob("*.json"))
    res = project.ci(PEPR_CONFIG="missing.toml")
    assert res.code == 2
    assert (ci_dir / "error.json").exists()
    assert not (ci_dir / "check.json").exists()
    assert not list((ci_dir / "runs").glob("*.json"))


REFUSE = """#!/bin/sh
echo "Permission to octo/net.git denied to github-actions[bot]." >&2
exit 1
"""


@pytest.mark.parametrize("dashboard", ["false", "true"])
def test_a_token_that_cannot_push_still_gives_the_verdict(project: Project, dashboard: str,
                                                         git_env: dict[str, str]) -> None:
    """A read-only token: the history is read, the verdict is given, the summary says the
    runs were not stored and where their records are; one push, no six retries."""
    origin = project.tmp / "origin.git"
    git("init", "-q", "--bare", "-b", "main", str(origin), cwd=project.tmp)
    git("init", "-q", "-b", "main", cwd=project.root)
    (project.root / ".gitignore").write_text(".pepr/\n*.json\n")
    git("add", "-A", cwd=project.root)
    git("commit", "-q", "-m", "project", cwd=project.root)
    git("remote", "add", "origin", str(origin), cwd=project.root)
    git("push", "-q", "origin", "main", cwd=project.root)
    head = git("rev-parse", "HEAD", cwd=project.root)  # the checkout is the PR's head
    project.gh.add_pull(REPO, 2, head_sha=head)
    project.head_sha = project.base_sha = head
    project.store = "git:pepr-data"
    project.baseline("0.99")
    hook = origin / "hooks" / "pre-receive"
    hook.write_text(REFUSE)
    hook.chmod(0o755)
    res = project.ci(PEPR_DASHBOARD=dashboard)  # true: runs and site go in one commit
    assert res.code == 1, res.stderr  # the gate's verdict: a regression
    assert res.outputs["verdict"] == "fail"
    assert "the runs were NOT stored in git:pepr-data" in res.summary
    assert "after 1 try" in res.summary and "Permission to octo/net.git denied" in res.summary
    assert "history \\--import" in res.summary or "history --import" in res.summary
    kept = list((project.root / ".pepr" / "runs").glob("*.json"))
    assert kept and list((project.root / ".pepr" / "ci" / "runs").glob("*.json"))
    stored = git("ls-tree", "-r", "--name-only", "pepr-data", cwd=origin).splitlines()
    assert stored and all(n.startswith("runs/main/") for n in stored if n.startswith("runs/"))
