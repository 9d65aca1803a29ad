"""Issue 20, hostile round two: the git data branch's reader and `ab --base` in shallow
clones, with real git, a local bare repository as origin and depth-1 clones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from pepr_gate.records import RunRecord
from pepr_gate.store import open_store

Make = Callable[..., RunRecord]


def git(*args: str, cwd: Path, stdin: str | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True,
                          input=stdin)
    return done.stdout.strip()


def pepr(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pepr_gate", *args], cwd=cwd,
                          env=dict(os.environ), capture_output=True, text=True, timeout=300)


@pytest.fixture
def origin(tmp_path: Path, git_env: dict[str, str]) -> Path:
    bare = tmp_path / "origin.git"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    seed = tmp_path / "seed"
    git("init", "-q", "-b", "main", str(seed), cwd=tmp_path)
    (seed / "train.py").write_text("print('training')\n")
    git("add", "train.py", cwd=seed)
    git("commit", "-q", "-m", "initial", cwd=seed)
    git("remote", "add", "origin", str(bare), cwd=seed)
    git("push", "-q", "origin", "main", cwd=seed)
    return bare


def add_gitlink(origin: Path, path: str, message: str) -> None:
    """Commit a gitlink (a submodule entry) at `path` on origin's data branch, pointing at
    a commit whose message is `message`, as a careless merge or a hostile push would."""
    index = origin / "gitlink-index"
    env = {**os.environ, "GIT_INDEX_FILE": str(index)}
    # The linked commit is on the data branch's own history, so every clone has it.
    target = git("commit-tree", "pepr-data^{tree}", "-p", "pepr-data", "-m", message,
                 cwd=origin)

    def run(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=origin, env=env, capture_output=True,
                              text=True, check=True).stdout.strip()

    run("read-tree", "pepr-data")
    run("update-index", "--add", "--cacheinfo", f"160000,{target},{path}")
    new_tree = run("write-tree")
    commit = run("commit-tree", new_tree, "-p", target, "-m", "a gitlink")
    run("update-ref", "refs/heads/pepr-data", commit)
    index.unlink()


@pytest.mark.parametrize("message", ["a submodule", "x blob notanumber"])
def test_a_gitlink_on_the_data_branch_skips_itself_not_the_records_after_it(
        tmp_path: Path, origin: Path, make_record: Make, message: str) -> None:
    work = tmp_path / "work"
    git("clone", "-q", str(origin), str(work), cwd=tmp_path)
    runs = [make_record(branch="main", pepr=0.8) for _ in range(60)]
    with open_store("git:pepr-data", root=work) as store:
        for record in runs:
            store.append(record)
    # Named to sort first, so every record of its 50-file chunk comes after it.
    add_gitlink(origin, "runs/main/99999999T999999.999999Z-zz.json", message)
    shown = pepr(work, "history", "--store", "git:pepr-data", "--branch", "main",
                 "--limit", "100", "--format", "json")
    assert shown.returncode == 0, shown.stderr
    assert len(json.loads(shown.stdout)) == 60
    assert "skipping 'runs/main/99999999T999999.999999Z-zz.json'" in shown.stderr
    assert "a commit entry (mode 160000), not a run record file" in shown.stderr
    assert "corrupted" not in shown.stderr


# --- `ab --base` in shallow clones ------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
TRACE = ROOT / "examples" / "traces" / "a100-train.json"
TRAIN = """\
import json, os, pathlib, time
mark = os.environ.get("AB_STARTED")
if mark:
    pathlib.Path(mark).write_text(str(os.getpid()))
    time.sleep(60)
pathlib.Path("metrics.json").write_text(json.dumps({{"accuracy": {accuracy}}}))
"""
AB_CONFIG = f"""\
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


@pytest.fixture
def project(tmp_path: Path, git_env: dict[str, str]) -> Path:
    """A bare origin with 7 commits on main (v1.0 tags the first, accuracy 0.90 until
    the last, which drops it to 0.80), and a depth-1 clone like actions/checkout's."""
    seed = tmp_path / "seed"
    git("init", "-q", "-b", "main", str(seed), cwd=tmp_path)
    (seed / "pepr.toml").write_text(AB_CONFIG)
    (seed / ".gitignore").write_text(".pepr/\nmetrics.json\n*.json\n")
    for n in range(7):
        (seed / "train.py").write_text(TRAIN.format(accuracy=0.80 if n == 6 else 0.90))
        (seed / "notes.txt").write_text(f"commit {n}\n")
        git("add", "-A", cwd=seed)
        git("commit", "-q", "-m", f"commit {n}", cwd=seed)
        if n == 0:
            git("tag", "v1.0", cwd=seed)
    bare = tmp_path / "origin.git"
    git("clone", "-q", "--bare", str(seed), str(bare), cwd=tmp_path)
    clone = tmp_path / "clone"
    git("clone", "-q", "--depth", "1", f"file://{bare}", str(clone), cwd=tmp_path)
    assert git("rev-parse", "--is-shallow-repository", cwd=clone) == "true"
    return clone


def ab(clone: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pepr_gate", "ab", *args], cwd=clone,
                          env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=300)


def test_ab_base_head_1_in_a_depth_1_clone_deepens_it_and_measures_the_real_base(
        project: Path) -> None:
    done = ab(project, "--base", "HEAD~1", "--pairs", "4", "--json", "ab.json")
    assert done.returncode == 1, done.stdout + done.stderr
    assert ("--base HEAD~1: this clone is shallow; fetched 1 more commit(s) of history "
            "from origin to find it") in done.stdout
    result = json.loads((project / "ab.json").read_text())
    assert result["verdict"] == "fail"
    assert result["pepr_change"] == pytest.approx(-0.111, abs=0.002)
    base_sha = git("rev-parse", "HEAD~1", cwd=project)
    records = [json.loads(p.read_text()) for p in (project / ".pepr" / "runs").glob("ab-*")]
    base = [r for r in records if r["paired"]["side"] == "base"]
    # HEAD~1 is no branch: the base runs carry the commit, and no made-up branch name.
    assert {(r["git"]["sha"], r["git"]["branch"]) for r in base} == {(base_sha, None)}


def test_ab_never_takes_a_stale_fetch_head_for_an_unknown_ref(project: Path) -> None:
    git("fetch", "-q", "origin", "v1.0", cwd=project)  # FETCH_HEAD now names v1.0
    done = ab(project, "--base", "HEAD~100", "--pairs", "1", "--no-store")
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"--base 'HEAD~100': no such commit in {project} or on origin" in done.stderr
    assert "HEAD~N needs N earlier commits" in done.stderr
    assert "paired A/B:" not in done.stdout  # nothing was run
    done = ab(project, "--base", "no-such-tag", "--pairs", "1", "--no-store")
    assert done.returncode == 2
    assert "--base 'no-such-tag': no such commit" in done.stderr


def test_ab_base_tag_is_fetched_said_and_not_stored_as_a_branch(project: Path) -> None:
    done = ab(project, "--base", "v1.0", "--pairs", "1")
    assert done.returncode in (0, 1), done.stdout + done.stderr
    assert "--base v1.0: not in this checkout; fetched v1.0 from origin" in done.stdout
    v1 = git("rev-parse", "v1.0^{commit}", cwd=project.parent / "origin.git")
    assert f"(base v1.0 at {v1[:12]}" in done.stdout
    with open_store("sqlite:///.pepr/history.db", root=project, must_exist=True) as store:
        branches = {r.branch for r in store.runs() if r.paired and r.paired.side == "base"}
    assert branches == {None}
    assert not git("for-each-ref", "refs/pepr-gate/", cwd=project)  # no private ref left


def test_ab_base_branch_and_previous_branch_store_the_branch_name(project: Path) -> None:
    git("checkout", "-q", "-b", "feature", cwd=project)
    git("checkout", "-q", "-b", "other", cwd=project)
    git("checkout", "-q", "feature", cwd=project)
    done = ab(project, "--base", "@{-1}", "--pairs", "1")
    assert done.returncode in (0, 1), done.stdout + done.stderr
    with open_store("sqlite:///.pepr/history.db", root=project, must_exist=True) as store:
        base = [r for r in store.runs() if r.paired and r.paired.side == "base"]
    assert {r.branch for r in base} == {"other"}


def test_an_unreadable_base_config_is_said_not_silently_replaced(project: Path) -> None:
    (project / "pepr.toml").write_text(AB_CONFIG)
    git("checkout", "-q", "-b", "feature", cwd=project)
    (project / "pepr.toml").write_text(AB_CONFIG + "[mystery]\nx = 1\n")
    git("commit", "-q", "-am", "a config the head cannot read", cwd=project)
    git("checkout", "-q", "-b", "head", cwd=project)
    (project / "pepr.toml").write_text(AB_CONFIG)
    git("commit", "-q", "-am", "fixed", cwd=project)
    done = ab(project, "--base", "feature", "--pairs", "1", "--no-store")
    assert done.returncode in (0, 1), done.stdout + done.stderr
    assert "the base commit's pepr.toml cannot be read (" in done.stdout
    assert "the base runs the head's [run] stages instead" in done.stdout


def test_a_killed_ab_leaves_a_worktree_the_next_ab_removes(project: Path,
                                                           tmp_path: Path) -> None:
    started = tmp_path / "started"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pepr_gate", "ab", "--base", "HEAD", "--pairs", "1",
         "--no-store"], cwd=project, env={**os.environ, "AB_STARTED": str(started)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    import time

    deadline = time.monotonic() + 120
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    os.killpg(proc.pid, 9)  # SIGKILL: no cleanup can run
    proc.wait()
    left = [ln for ln in git("worktree", "list", "--porcelain", cwd=project).splitlines()
            if ln.startswith("worktree ") and "pepr-gate-ab-" in ln]
    assert len(left) == 1
    stale = Path(left[0].removeprefix("worktree "))
    assert stale.exists()
    done = ab(project, "--base", "HEAD", "--pairs", "1", "--no-store")
    assert done.returncode in (0, 1), done.stdout + done.stderr
    assert git("worktree", "list", "--porcelain", cwd=project).count("worktree ") == 1
    assert not stale.parent.exists()
