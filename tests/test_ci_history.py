"""`pepr-gate ci` with no store configured: the history lives on `git:pepr-data` of origin.

A real clone of a local bare origin (as a runner's checkout), the real CLI in a
subprocess, the replay meter and a local fake GitHub API.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

try:
    from tests.github_server import FakeGitHub
    from tests.test_ci_cmd import REPO, Project, write_project
except ImportError:
    from github_server import FakeGitHub  # type: ignore[no-redef]
    from test_ci_cmd import REPO, Project, write_project  # type: ignore[no-redef]


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture
def gitproject(tmp_path: Path, git_env: dict[str, str]) -> Iterator[Project]:
    origin = tmp_path / "origin.git"
    git("init", "-q", "--bare", "-b", "main", str(origin), cwd=tmp_path)
    root = tmp_path / "proj"
    git("init", "-q", "-b", "main", str(root), cwd=tmp_path)
    write_project(root)
    (root / ".gitignore").write_text(".pepr/\nmetrics.json\n")
    git("add", "-A", cwd=root)
    git("commit", "-q", "-m", "initial", cwd=root)
    git("remote", "add", "origin", str(origin), cwd=root)
    git("push", "-q", "origin", "main", cwd=root)
    gh = FakeGitHub().start()
    head = git("rev-parse", "HEAD", cwd=root)  # the checkout is the PR's head
    gh.add_pull(REPO, 2, head_sha=head)
    yield Project(root, "", gh, tmp_path, head_sha=head, base_sha=head)
    gh.stop()


def stored(origin: Path) -> list[str]:
    found = subprocess.run(["git", "ls-tree", "-r", "--name-only", "pepr-data", "runs/"],
                           cwd=origin, capture_output=True, text=True)
    return found.stdout.split()


def test_history_survives_on_the_data_branch_per_branch_and_not_for_forks(
    gitproject: Project,
) -> None:
    origin = gitproject.tmp / "origin.git"
    event = gitproject.tmp / "push-main.json"
    event.write_text(json.dumps({"ref": "refs/heads/main", "before": "1" * 40,
                                 "after": gitproject.head_sha, "repository": {"full_name": REPO}}))
    push = gitproject.ci(event="push", ref="refs/heads/main", payload=event, PEPR_STORE="",
                         GITHUB_WORKSPACE=str(gitproject.root), SELFTEST_ACCURACY="0.9")
    assert push.code == 0, push.stderr
    assert {p.split("/")[1] for p in stored(origin)} == {"main"}
    # A fresh checkout (what `clean: true` leaves) still finds the baseline on origin.
    subprocess.run(["rm", "-rf", str(gitproject.root / ".pepr")], check=True)
    pr = gitproject.ci(PEPR_STORE="", GITHUB_WORKSPACE=str(gitproject.root),
                       SELFTEST_ACCURACY="0.9")
    assert pr.code == 0, pr.stderr
    assert pr.outputs["verdict"] == "pass"
    assert pr.outputs["baseline-pepr"]
    assert {p.split("/")[1] for p in stored(origin)} == {"feature", "main"}
    assert "::warning" not in pr.stdout
    stored_before = len(stored(origin))
    fork = gitproject.ci(payload=gitproject.event(head_repo="mallory/net", head_ref="main"),
                         PEPR_STORE="", SELFTEST_ACCURACY="0.9")
    assert fork.code == 0, fork.stderr
    assert fork.outputs["verdict"] == "pass"  # compared with main's history all the same
    assert len(stored(origin)) == stored_before  # but the fork's run is not stored
    assert "not stored" in fork.summary


def test_a_sqlite_store_inside_the_workspace_gets_a_warning_with_the_fix(
    gitproject: Project,
) -> None:
    res = gitproject.ci(PEPR_STORE="sqlite:///.pepr/history.db",
                        GITHUB_WORKSPACE=str(gitproject.root), SELFTEST_ACCURACY="0.9")
    assert res.code == 0, res.stderr
    warning = next(line for line in res.stdout.splitlines() if line.startswith("::warning"))
    assert ".pepr/history.db inside the checkout" in warning
    assert "clean: true" in warning and "git:pepr-data" in warning
    assert "clean: true" in res.summary
    outside = gitproject.tmp / "keep" / "history.db"
    quiet = gitproject.ci(PEPR_STORE=f"sqlite:///{outside}",
                          GITHUB_WORKSPACE=str(gitproject.root), SELFTEST_ACCURACY="0.9")
    assert quiet.code == 0 and "::warning" not in quiet.stdout


def test_the_config_store_wins_over_the_ci_default(gitproject: Project) -> None:
    (gitproject.root / "pepr.toml").write_text(
        (gitproject.root / "pepr.toml").read_text()
        + f'\n[store]\nurl = "sqlite:///{gitproject.tmp / "cfg.db"}"\n'
    )
    res = gitproject.ci(PEPR_STORE="", SELFTEST_ACCURACY="0.9",
                        GITHUB_WORKSPACE=str(gitproject.root))
    assert res.code == 0, res.stderr
    assert (gitproject.tmp / "cfg.db").is_file()
    assert stored(gitproject.tmp / "origin.git") == []
    assert os.path.getsize(gitproject.tmp / "cfg.db") > 0
