"""action/examples/watch.yml's script against the local GitHub server: one issue per
change point that made main worse, updated on later runs, never duplicated."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from pepr_gate.records import RunRecord
from pepr_gate.store import open_store
from tests.github_server import FakeGitHub

ROOT = Path(__file__).resolve().parents[1]
REPO = "acme/model"
Make = Callable[..., RunRecord]


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub().start()
    yield fake
    fake.stop()


def _step() -> dict[str, object]:
    doc = yaml.safe_load((ROOT / "action" / "examples" / "watch.yml").read_text())
    return next(s for s in doc["jobs"]["watch"]["steps"] if "--open-issues" in s.get("run", ""))


def _run_watch(folder: Path, github: FakeGitHub) -> subprocess.CompletedProcess[str]:
    """The workflow step's own script and env, with the store and GitHub made local."""
    step = _step()
    bin_dir = folder / "bin"
    bin_dir.mkdir(exist_ok=True)
    shim = bin_dir / "pepr-gate"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m pepr_gate "$@"\n')
    shim.chmod(0o755)
    env = {**os.environ, **{k: str(v) for k, v in dict(step["env"]).items()},  # type: ignore[call-overload]
           "GITHUB_TOKEN": github.token, "GITHUB_REPOSITORY": REPO,
           "GITHUB_API_URL": github.api_url, "GITHUB_SERVER_URL": "https://github.example",
           "PEPR_STORE": "sqlite:///h.db", "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(ROOT)}
    return subprocess.run(["bash", "-e", "-c", str(step["run"])], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=120)


def _fill(folder: Path, make_record: Make, values: list[float]) -> None:
    with open_store("sqlite:///h.db", root=folder) as store:
        for i, v in enumerate(values):
            store.append(make_record(pepr=v, sha=f"{len(store.runs('main')) + i:040x}"))


def _levels(n: int, step_at: int | None, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [0.6 * (0.9 if step_at is not None and i >= step_at else 1.0)
            * (1 + rng.gauss(0, 0.03)) for i in range(n)]


def test_one_issue_per_change_point_updated_not_duplicated(
    tmp_path: Path, github: FakeGitHub, make_record: Make
) -> None:
    _fill(tmp_path, make_record, _levels(40, 20, seed=4))
    first = _run_watch(tmp_path, github)
    assert first.returncode == 0, first.stderr
    [issue] = github.issues[REPO]
    assert "opened issue #1" in first.stdout
    assert issue["title"].startswith("pepr-gate: PePR -") and "on main at" in issue["title"]
    assert "pepr-gate bisect --good " in issue["body"]
    assert [lb["name"] for lb in issue["labels"]] == ["pepr-gate"]
    assert "https://github.example/acme/model/commit/" in issue["body"]

    again = _run_watch(tmp_path, github)
    assert again.returncode == 0, again.stderr
    assert len(github.issues[REPO]) == 1 and "is up to date" in again.stdout

    _fill(tmp_path, make_record, _levels(10, 0, seed=5))  # more runs after the step
    later = _run_watch(tmp_path, github)
    assert later.returncode == 0, later.stderr
    assert len(github.issues[REPO]) == 1 and "updated issue #1" in later.stdout
    posts = [e for e in github.log if e[0] == "POST"]
    assert len(posts) == 1


def test_a_closed_issue_is_updated_not_reopened(
    tmp_path: Path, github: FakeGitHub, make_record: Make
) -> None:
    _fill(tmp_path, make_record, _levels(40, 20, seed=4))
    assert _run_watch(tmp_path, github).returncode == 0
    github.issues[REPO][0]["state"] = "closed"
    _fill(tmp_path, make_record, _levels(6, 0, seed=6))
    assert _run_watch(tmp_path, github).returncode == 0
    assert [i["state"] for i in github.issues[REPO]] == ["closed"]


def test_a_flat_history_opens_no_issue(
    tmp_path: Path, github: FakeGitHub, make_record: Make
) -> None:
    _fill(tmp_path, make_record, _levels(40, None, seed=9))
    done = _run_watch(tmp_path, github)
    assert done.returncode == 0, done.stderr
    assert github.issues.get(REPO, []) == [] and "no change points" in done.stdout


def test_missing_token_is_exit_2(tmp_path: Path, github: FakeGitHub, make_record: Make) -> None:
    _fill(tmp_path, make_record, _levels(12, None, seed=9))
    done = subprocess.run([sys.executable, "-m", "pepr_gate", "history", "--changes",
                           "--branch", "main", "--store", "sqlite:///h.db", "--open-issues"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={k: v for k, v in os.environ.items() if k != "GITHUB_TOKEN"})
    assert done.returncode == 2 and "GITHUB_TOKEN" in done.stderr
