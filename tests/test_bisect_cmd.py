"""`pepr-gate bisect` in a real git repository of 8 commits where commit 5 doubles the work.

Scored as PePR-T (wall time of a job that sleeps), so the drop is the same on any machine.
The real CLI in a subprocess, real `git bisect` and `git worktree`, real signals.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pepr_gate.store import open_store

TRAIN = """\
import json, os, pathlib, time
WORK = {work}  # commit {n}
mark = os.environ.get("BISECT_STARTED")
if mark:
    pathlib.Path(mark).write_text(os.getcwd())
    time.sleep(float(os.environ.get("BISECT_SLEEP", "0")))
time.sleep(WORK)
pathlib.Path("metrics.json").write_text(json.dumps({{"accuracy": 0.9}}))
"""
CONFIG = f"""\
[run]
stages = [{{ name = "train", cmd = ["{sys.executable}", "train.py"] }}]

[performance]
file = "metrics.json"
key = "accuracy"

[score]
resource = "time"

[score.scale]
time = 4.0

[meter]
kind = "process"

[store]
url = "sqlite:///.pepr/history.db"

[gate]
max_pepr_drop = 0.05
"""
PAIRS = 4  # the fewest whose spread the paired rule measures from the pairs alone


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path, git_env: dict[str, str]) -> tuple[Path, list[str]]:
    """Commits 1..8; commit 5 doubles the job's work (0.5 s -> 1 s of sleep)."""
    root = tmp_path / "repo"
    git("init", "-q", "-b", "main", str(root), cwd=tmp_path)
    (root / "pepr.toml").write_text(CONFIG)
    (root / ".gitignore").write_text(".pepr/\nmetrics.json\n")
    shas = []
    for n in range(1, 9):
        (root / "train.py").write_text(TRAIN.format(work=1.0 if n >= 5 else 0.5, n=n))
        git("add", "-A", cwd=root)
        git("commit", "-q", "-m", f"commit {n}" + (": twice the work" if n == 5 else ""),
            cwd=root)
        shas.append(git("rev-parse", "HEAD", cwd=root))
    return root, shas


def left_behind(root: Path) -> list[str]:
    """Worktrees other than the checkout, and any git bisect state."""
    trees = [ln for ln in git("worktree", "list", "--porcelain", cwd=root).splitlines()
             if ln.startswith("worktree ") and ln != f"worktree {root}"]
    state = [p.name for p in (root / ".git").iterdir() if p.name.startswith("BISECT_")]
    return trees + state


def test_bisect_names_commit_5_and_leaves_nothing(repo: tuple[Path, list[str]]) -> None:
    root, shas = repo
    head_before = git("rev-parse", "HEAD", cwd=root)
    done = subprocess.run(
        [sys.executable, "-m", "pepr_gate", "bisect", "--good", shas[0], "--bad", "main",
         "--pairs", str(PAIRS), "--threshold", "5%"],
        cwd=root, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert "about 3 step(s) x 8 runs" in lines[0]
    steps = [ln for ln in lines if "bisect step" in ln]
    assert 1 <= len(steps) <= 3, done.stdout
    assert f"first bad commit {shas[4]} commit 5: twice the work" in done.stdout
    report = (root / ".pepr" / "bisect.md").read_text()
    assert shas[4][:12] in report and "| step |" in report
    found = next(ln for ln in lines if "First commit whose PePR fell" in ln)
    drop = float(found.rsplit("PePR ", 1)[1].rstrip("%")) / 100
    assert -0.15 < drop < -0.05  # 0.9/1.125 -> 0.9/1.25 in PePR-T: -10% (less with startup)
    with open_store("sqlite:///.pepr/history.db", root=root, must_exist=True) as store:
        stored = store.runs("pepr-bisect")
    assert len(stored) == len(steps) * 2 * PAIRS
    assert all(r.paired is not None for r in stored)
    assert left_behind(root) == []
    assert git("rev-parse", "HEAD", cwd=root) == head_before
    assert git("status", "--porcelain", cwd=root) == ""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_bisect_restores_the_repository(repo: tuple[Path, list[str]],
                                                     tmp_path: Path, sig: int) -> None:
    root, shas = repo
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    started = tmp_path / "started"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pepr_gate", "bisect", "--good", shas[0], "--bad", shas[-1],
         "--pairs", "1", "--no-store"], cwd=root,
        env={**os.environ, "TMPDIR": str(tmp), "BISECT_STARTED": str(started),
             "BISECT_SLEEP": "60"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not started.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert started.exists(), proc.communicate()[1]
    assert (root / ".git" / "BISECT_START").exists()
    assert len(left_behind(root)) >= 2  # two worktrees and the bisect state
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, err
    assert "/pepr_gate/" not in err  # the job's own KeyboardInterrupt traceback is allowed
    assert left_behind(root) == []
    assert list(tmp.iterdir()) == []
    assert git("status", "--porcelain", cwd=root) == ""


def test_bad_requests_are_exit_2_and_leave_nothing(repo: tuple[Path, list[str]]) -> None:
    root, shas = repo

    def bisect(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "pepr_gate", "bisect", *args], cwd=root,
                              capture_output=True, text=True, timeout=120)

    backwards = bisect("--good", shas[-1], "--bad", shas[0])
    assert backwards.returncode == 2 and "not an older ancestor" in backwards.stderr
    missing = bisect("--good", "no-such-ref", "--bad", "main")
    assert missing.returncode == 2 and "no-such-ref" in missing.stderr
    git("bisect", "start", cwd=root)
    busy = bisect("--good", shas[0], "--bad", "main")
    assert busy.returncode == 2 and "already in progress" in busy.stderr
    git("bisect", "reset", cwd=root)
    assert left_behind(root) == []


@pytest.mark.parametrize("threshold", ["2", "1", "-0.1", "150%"])
def test_a_threshold_check_refuses_is_also_refused_before_any_run(
        repo: tuple[Path, list[str]], threshold: str) -> None:
    root, shas = repo
    done = subprocess.run([sys.executable, "-m", "pepr_gate", "bisect", "--good", shas[0],
                           "--bad", "main", "--pairs", "1", "--threshold", threshold],
                          cwd=root, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "--threshold" in done.stderr and "[0, 1)" in done.stderr
    assert "bisect: about" not in done.stdout  # refused before the cost line, so before any run
    assert not (root / ".pepr" / "history.db").exists() and left_behind(root) == []


def test_an_unknown_good_or_bad_names_the_flag_given(repo: tuple[Path, list[str]]) -> None:
    root, shas = repo
    for flag, args in (("--good", ["--good", "nosuch", "--bad", "main"]),
                       ("--bad", ["--good", shas[0], "--bad", "nosuch"])):
        done = subprocess.run([sys.executable, "-m", "pepr_gate", "bisect", *args], cwd=root,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 2
        assert f"{flag} 'nosuch': no such commit" in done.stderr
        assert "--base" not in done.stderr
