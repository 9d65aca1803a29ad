"""`pepr-gate ci` with `dashboard: true`: the real CLI, a real git data branch on a local
bare origin, the replay meter and the local fake GitHub (tests/test_ci_cmd.py's project)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pepr_gate.cli import main

try:
    from tests.github_server import FakeGitHub
    from tests.test_ci_cmd import EVENTS, HEAD_SHA, REPO, Project, write_project
except ImportError:
    from github_server import FakeGitHub  # type: ignore[no-redef]
    from test_ci_cmd import EVENTS, HEAD_SHA, REPO, Project, write_project  # type: ignore[no-redef]


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture
def project(tmp_path: Path, git_env: dict[str, str]) -> Iterator[Project]:
    gh = FakeGitHub().start()
    gh.add_pull(REPO, 2, head_sha=HEAD_SHA)
    gh.history = [HEAD_SHA]
    root = tmp_path / "proj"
    write_project(root)
    bare = tmp_path / "origin.git"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    git("init", "-q", "-b", "main", str(root), cwd=tmp_path)
    (root / ".gitignore").write_text(".pepr/\nmetrics.json\npages/\n")
    git("add", "-A", cwd=root)
    git("commit", "-q", "-m", "project", cwd=root)
    git("remote", "add", "origin", str(bare), cwd=root)
    git("push", "-q", "origin", "main", cwd=root)
    head = git("rev-parse", "HEAD", cwd=root)  # the checkout is the PR's head
    gh.add_pull(REPO, 2, head_sha=head)
    yield Project(root, "git:pepr-data", gh, tmp_path, head_sha=head, base_sha=head)
    gh.stop()


def push_event(project: Project) -> Path:
    data = json.loads((EVENTS / "push.with-new-branch.json").read_text())
    data["after"] = project.head_sha  # the commit checked out
    path = project.tmp / "push.json"
    path.write_text(json.dumps(data))
    return path


def site_data(origin: Path, rev: str = "pepr-data") -> dict[str, Any]:
    text = git("show", f"{rev}:site/data/runs.js", cwd=origin)
    data: dict[str, Any] = json.loads(text[len("window.PEPR_DASHBOARD="):-1])
    return data


def test_push_commits_runs_and_site_together_and_writes_the_pages_folder(
    project: Project,
) -> None:
    origin = project.tmp / "origin.git"
    total = 0
    for n in (1, 2):
        res = project.ci(event="push", ref="refs/heads/main", payload=push_event(project),
                         PEPR_DASHBOARD="true", PEPR_DASHBOARD_PATH="pages")
        assert res.code == 0, res.stderr
        commits = git("log", "--format=%H", "pepr-data", cwd=origin).splitlines()
        assert len(commits) == n  # each job: exactly one commit with its run and the site
        changed = git("show", "--name-only", "--format=", commits[0], cwd=origin).splitlines()
        made = len(res.outputs["record-path"].splitlines())  # runs this job measured
        total += made
        assert made >= 1 and sum(c.startswith("runs/main/") for c in changed) == made
        assert "site/data/runs.js" in changed  # the site changed in the same commit
        tree = git("ls-tree", "-r", "--name-only", commits[0], "site/", cwd=origin)
        assert "site/index.html" in tree.splitlines()
        data = site_data(origin)
        assert len(data["runs"]["id"]) == total and data["branches"] == ["main"]
        assert data["repo_url"] == f"https://github.example/{REPO}"
        assert "dashboard written to the site/ folder" in res.stdout
    verdicts = json.loads(git("show", "pepr-data:site/verdicts.json", cwd=origin))["runs"]
    assert set(verdicts) == set(data["runs"]["id"])  # every run was judged by its job's check
    assert {v["verdict"] for v in verdicts.values()} <= {"inconclusive", "pass"}
    # A local build from the data branch shows the verdicts `ci` kept there.
    local = project.tmp / "local-site"
    assert main(["dashboard", "--store", "git:pepr-data", "--out", str(local),
                 "--config", str(project.root / "pepr.toml")]) == 0
    rebuilt = json.loads((local / "verdicts.json").read_text())["runs"]
    assert rebuilt == verdicts
    pages = project.root / "pages"
    assert (pages / "index.html").is_file()
    assert (pages / "data" / "runs.js").read_text() == git(
        "show", "pepr-data:site/data/runs.js", cwd=origin) + "\n"


def test_a_failed_command_is_still_stored_with_the_site(project: Project) -> None:
    write_project(project.root, stage=["python3", "-c", "import sys; sys.exit(7)"])
    res = project.ci(event="push", ref="refs/heads/main", payload=push_event(project),
                     PEPR_DASHBOARD="true")
    assert res.code == 3
    data = site_data(project.tmp / "origin.git")
    assert data["runs"]["ok"] == [0]  # the failed run is kept, as without a dashboard


def test_sqlite_store_writes_the_site_to_the_path_only(project: Project) -> None:
    store = f"sqlite:///{project.tmp / 'h.db'}"
    res = project.ci(event="push", ref="refs/heads/main", payload=push_event(project),
                     PEPR_DASHBOARD="true", PEPR_DASHBOARD_PATH="pages", PEPR_STORE=store)
    assert res.code == 0, res.stderr
    assert (project.root / "pages" / "index.html").is_file()
    ls = subprocess.run(["git", "ls-remote", "origin"], cwd=project.root, capture_output=True,
                        text=True, check=True).stdout
    assert "pepr-data" not in ls


def test_bad_dashboard_input_exits_2_before_measuring(project: Project) -> None:
    res = project.ci(event="push", ref="refs/heads/main", payload=push_event(project),
                     PEPR_DASHBOARD="sometimes")
    assert res.code == 2 and "`dashboard`" in res.stderr
    assert not (project.root / "metrics.json").exists()
