"""`pepr-gate ab`: paired A/B against the base commit in a real git repository.

The real CLI in a subprocess, real `git worktree`, the replay meter (steady energy), and a
real SIGINT to the running command to show the temporary worktree is removed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pepr_gate.services.ab import abba
from pepr_gate.store import open_store

ROOT = Path(__file__).resolve().parents[1]
TRACE = ROOT / "examples" / "traces" / "a100-train.json"
TRAIN = """\
import json, os, pathlib, time
ACCURACY = {accuracy}
mark = os.environ.get("AB_STARTED")
if mark:
    pathlib.Path(mark).write_text(os.getcwd())
    time.sleep(float(os.environ.get("AB_SLEEP", "0")))
pathlib.Path("metrics.json").write_text(json.dumps({{"accuracy": ACCURACY}}))
"""
CONFIG = f"""\
[run]
stages = [{{ name = "train", cmd = ["{sys.executable}", "train.py"] }}]

[performance]
file = "metrics.json"
key = "accuracy"

[score.scale]
energy = 1.0

[meter]
kind = {json.dumps(f"replay:{TRACE}")}

[store]
url = "sqlite:///.pepr/history.db"

[gate]
max_pepr_drop = 0.05
"""


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path, git_env: dict[str, str]) -> Path:
    root = tmp_path / "repo"
    git("init", "-q", "-b", "main", str(root), cwd=tmp_path)
    (root / "train.py").write_text(TRAIN.format(accuracy=0.90))
    (root / "pepr.toml").write_text(CONFIG)
    (root / ".gitignore").write_text(".pepr/\nmetrics.json\n")
    git("add", "-A", cwd=root)
    git("commit", "-q", "-m", "base", cwd=root)
    git("checkout", "-q", "-b", "feature", cwd=root)
    return root


def pepr_ab(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pepr_gate", "ab", *args], cwd=root,
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=300)


def worktrees(root: Path) -> list[str]:
    return [ln for ln in git("worktree", "list", "--porcelain", cwd=root).splitlines()
            if ln.startswith("worktree ")]


def test_abba_order_alternates_the_sides() -> None:
    sides = "".join("A" if s == "base" else "B" for _, s in abba(4))
    assert sides == "ABBAABBA"


def test_a_regression_in_the_head_fails_and_both_sides_are_stored(repo: Path) -> None:
    (repo / "train.py").write_text(TRAIN.format(accuracy=0.80))
    git("commit", "-q", "-am", "a worse model", cwd=repo)
    done = pepr_ab(repo, "--base", "main", "--pairs", "4", "--json", "ab.json")
    assert done.returncode == 1, done.stderr
    first = done.stdout.splitlines()[0]
    assert "4 pair(s) = 8 runs" in first and "ABBA" in first
    result = json.loads((repo / "ab.json").read_text())
    assert result["verdict"] == "fail"
    assert result["baseline"]["performance"] == pytest.approx(0.90)
    assert result["candidate"]["performance"] == pytest.approx(0.80)
    assert "paired" in " ".join(result["reasons"] + result["notes"]).lower()
    records = [json.loads(p.read_text()) for p in (repo / ".pepr" / "runs").glob("ab-*.json")]
    assert sorted((r["paired"]["side"], r["paired"]["index"]) for r in records) == [
        *[("base", i) for i in range(4)], *[("head", i) for i in range(4)]]
    assert {r["git"]["branch"] for r in records if r["paired"]["side"] == "head"} == {"feature"}
    with open_store("sqlite:///.pepr/history.db", root=repo, must_exist=True) as store:
        stored = {b: store.runs(b) for b in ("main", "feature")}
    assert [r.paired.side for r in stored["main"] if r.paired] == ["base"] * 4
    assert [r.paired.side for r in stored["feature"] if r.paired] == ["head"] * 4
    assert worktrees(repo) == [f"worktree {repo}"]


def test_unchanged_code_passes(repo: Path) -> None:
    done = pepr_ab(repo, "--base", "main", "--pairs", "4", "--no-store", "--json", "ab.json")
    assert done.returncode == 0, done.stderr
    result = json.loads((repo / "ab.json").read_text())
    assert result["verdict"] == "pass" and abs(result["pepr_change"]) < 0.001
    assert not (repo / ".pepr" / "history.db").exists()


def test_a_bad_ref_is_exit_2_and_leaves_nothing(repo: Path) -> None:
    done = pepr_ab(repo, "--base", "no-such-branch")
    assert done.returncode == 2
    assert "--base 'no-such-branch'" in done.stderr and "fetch-depth: 0" in done.stderr
    assert worktrees(repo) == [f"worktree {repo}"]


def test_a_failing_stage_removes_the_worktree(repo: Path) -> None:
    (repo / "train.py").write_text("raise SystemExit(5)\n")
    git("commit", "-q", "-am", "broken", cwd=repo)
    done = pepr_ab(repo, "--base", "main", "--pairs", "1", "--no-store")
    assert done.returncode == 3, done.stderr
    assert worktrees(repo) == [f"worktree {repo}"]


def test_ctrl_c_during_a_run_removes_the_worktree(repo: Path, tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    started = tmp_path / "started"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pepr_gate", "ab", "--base", "main", "--no-store"], cwd=repo,
        env={**os.environ, "TMPDIR": str(tmp), "AB_STARTED": str(started), "AB_SLEEP": "60"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not started.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert started.exists(), proc.communicate()[1]
    # The first run is the base side, inside the temporary worktree.
    assert Path(started.read_text()).is_relative_to(tmp)
    assert len(worktrees(repo)) == 2
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert worktrees(repo) == [f"worktree {repo}"]
    assert list(tmp.iterdir()) == []


def test_ci_with_a_paired_baseline_runs_ab_against_the_prs_base_sha(
    repo: Path, tmp_path: Path
) -> None:
    # The gate's settings are the base's: main chose the paired baseline.
    git("checkout", "-q", "main", cwd=repo)
    (repo / "pepr.toml").write_text(CONFIG.replace("[gate]\n", '[gate]\nbaseline = "paired"\n'))
    git("commit", "-q", "-am", "paired baseline", cwd=repo)
    git("checkout", "-q", "-B", "feature", cwd=repo)
    base_sha = git("rev-parse", "main", cwd=repo)
    (repo / "train.py").write_text(TRAIN.format(accuracy=0.80))
    git("commit", "-q", "-am", "a worse model", cwd=repo)
    head_sha = git("rev-parse", "HEAD", cwd=repo)
    event = tmp_path / "pr.json"
    event.write_text(json.dumps({"action": "synchronize", "number": 7, "pull_request": {
        "number": 7, "labels": [],
        "base": {"ref": "main", "sha": base_sha, "repo": {"full_name": "octo/net"}},
        "head": {"ref": "feature", "sha": head_sha, "repo": {"full_name": "octo/net"}}},
        "repository": {"full_name": "octo/net"}}))
    summary = tmp_path / "summary.md"
    store = tmp_path / "keep" / "history.db"
    env = {**os.environ, "GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": str(event),
           "GITHUB_REPOSITORY": "octo/net", "GITHUB_REF": "refs/pull/7/merge",
           "GITHUB_SHA": head_sha, "GITHUB_STEP_SUMMARY": str(summary),
           "GITHUB_OUTPUT": str(tmp_path / "out"), "GITHUB_WORKSPACE": str(repo),
           "PEPR_CONFIG": "pepr.toml", "PEPR_STORE": f"sqlite:///{store}", "PEPR_REPEATS": "4",
           "PEPR_COMMENT": "never"}
    env.pop("GITHUB_TOKEN", None)
    done = subprocess.run([sys.executable, "-m", "pepr_gate", "ci"], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr
    assert "4 pair(s) = 8 runs" in done.stdout and "4 pair(s) = 8 runs" in summary.read_text()
    check = json.loads((repo / ".pepr" / "ci" / "check.json").read_text())
    assert check["verdict"] == "fail"
    records = [json.loads(p.read_text()) for p in (repo / ".pepr" / "ci" / "runs").glob("*.json")]
    sides = sorted(r["paired"]["side"] for r in records)
    assert sides == ["base"] * 4 + ["head"] * 4
    assert {r["git"]["sha"] for r in records if r["paired"]["side"] == "base"} == {base_sha}
    assert worktrees(repo) == [f"worktree {repo}"]


def test_a_cancelled_job_sigterm_removes_the_worktree(repo: Path, tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    started = tmp_path / "started"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pepr_gate", "ab", "--base", "main", "--no-store"], cwd=repo,
        env={**os.environ, "TMPDIR": str(tmp), "AB_STARTED": str(started), "AB_SLEEP": "60"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not started.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert started.exists(), proc.communicate()[1]
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err  # SIGTERM's documented code (docs/commands.md)
    assert worktrees(repo) == [f"worktree {repo}"]
    assert list(tmp.iterdir()) == []


NOISY = """\
import json, os, pathlib
count = pathlib.Path(os.environ["AB_COUNT"])
n = int(count.read_text()) if count.exists() else 0
count.write_text(str(n + 1))
pathlib.Path("metrics.json").write_text(json.dumps({"accuracy": [0.90, 0.83][n % 2]}))
"""


def test_a_too_noisy_ab_says_to_run_more_pairs_not_repeats(repo: Path, tmp_path: Path) -> None:
    (repo / "train.py").write_text(NOISY)  # the head's accuracy swings run to run
    git("commit", "-q", "-am", "a noisy model", cwd=repo)
    done = pepr_ab(repo, "--base", "main", "--pairs", "2", "--no-store", "--json", "ab.json",
                   AB_COUNT=str(tmp_path / "count"), COLUMNS="200")
    result = json.loads((repo / "ab.json").read_text())
    assert result["verdict"] == "inconclusive", result["reasons"]
    n = result["repeats_needed"]
    assert n and n > 2
    assert f"`pepr-gate ab --pairs {n}`" in " ".join(result["reasons"])
    assert f"next step: run the A/B again with {n} pairs (`pepr-gate ab --pairs {n}`)" \
        in done.stdout
    assert "--repeats" not in done.stdout + " ".join(result["reasons"])


@pytest.mark.parametrize("threshold", ["2", "1", "-0.1", "150%"])
def test_a_threshold_check_refuses_is_also_refused_before_any_run(repo: Path,
                                                                   threshold: str) -> None:
    done = pepr_ab(repo, "--base", "main", "--pairs", "1", "--threshold", threshold,
                   "--no-store")
    assert done.returncode == 2, done.stderr
    assert "--threshold" in done.stderr and "[0, 1)" in done.stderr
    assert "paired A/B:" not in done.stdout  # refused before the cost line, so before any run
    assert worktrees(repo) == [f"worktree {repo}"]
