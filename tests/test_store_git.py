"""The git:BRANCH store against a real local bare repository and real git processes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from pepr_gate.errors import StoreError
from pepr_gate.records import RunRecord
from pepr_gate.store import open_store
from pepr_gate.store.codec import SCHEMA_VERSION
from pepr_gate.store.git import GitStore, safe_name

Make = Callable[..., RunRecord]


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def make_clone(origin: Path, where: Path) -> Path:
    git("clone", "-q", str(origin), str(where), cwd=origin.parent)
    return where


@pytest.fixture
def origin(tmp_path: Path, git_env: dict[str, str]) -> Path:
    """A bare origin holding one commit on main, like a project's real remote."""
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


def test_append_and_read_back_without_touching_the_checkout(
    tmp_path: Path, origin: Path, make_record: Make
) -> None:
    work = make_clone(origin, tmp_path / "work")
    (work / "train.py").write_text("print('an uncommitted edit')\n")
    git("add", "train.py", cwd=work)
    head, index = git("rev-parse", "HEAD", cwd=work), (work / ".git" / "index").read_bytes()
    status = git("status", "--porcelain", cwd=work)
    main_run = make_record(branch="main")
    feature_run = make_record(branch="feature/fast-loader")
    with open_store("git:pepr-data", root=work) as store:
        assert store.runs() == []  # the data branch does not exist yet
        store.append(main_run)
        store.append(feature_run)
        assert store.runs("main") == [main_run]
        assert store.runs("feature/fast-loader") == [feature_run]
        assert [r.id for r in store.runs()] == [feature_run.id, main_run.id]
        assert store.latest() == feature_run
    assert git("rev-parse", "HEAD", cwd=work) == head
    assert (work / ".git" / "index").read_bytes() == index
    assert git("status", "--porcelain", cwd=work) == status
    assert git("branch", "--list", cwd=work) == "* main"
    files = git("ls-tree", "-r", "--name-only", "pepr-data", cwd=origin).splitlines()
    assert "pepr-store.json" in files
    assert f"runs/main/{main_run.created_at:%Y%m%dT%H%M%S}.000000Z-{main_run.id}.json" in files
    assert any(f.startswith(f"runs/{safe_name('feature/fast-loader')}/") for f in files)
    # The data branch is an orphan: no history shared with the code.
    unrelated = subprocess.run(["git", "merge-base", "main", "pepr-data"], cwd=origin,
                               capture_output=True)
    assert unrelated.returncode == 1


def test_branch_names_are_sanitised_and_never_collide() -> None:
    assert safe_name("main") == "main"
    names = {safe_name(b) for b in ("feature/x", "feature_x", "feature:x", "../x", "..")}
    assert len(names) == 5
    assert all("/" not in n and not n.startswith(".") for n in names)
    assert safe_name(None) == "_no-branch"


def test_duplicate_id_is_refused(tmp_path: Path, origin: Path, make_record: Make) -> None:
    work = make_clone(origin, tmp_path / "work")
    record = make_record()
    with open_store("git:pepr-data", root=work) as store:
        store.append(record)
        with pytest.raises(StoreError, match="already stored"):
            store.append(make_record(id=record.id, performance=0.1))
        assert store.runs() == [record]


_WRITER = """
import sys
sys.path.insert(0, sys.argv[3])
from pathlib import Path
from factories import make_record
from pepr_gate.store import open_store
store = open_store("git:pepr-data", root=Path(sys.argv[1]))
for _ in range(int(sys.argv[2])):
    store.append(make_record(branch=f"job-{Path(sys.argv[1]).name}"))
"""


def test_four_concurrent_writers_lose_nothing(tmp_path: Path, origin: Path) -> None:
    clones = [make_clone(origin, tmp_path / f"w{n}") for n in range(4)]
    tests_dir = str(Path(__file__).parent)
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(c), "4", tests_dir],
                              stderr=subprocess.PIPE, text=True) for c in clones]
    errors = [p.communicate(timeout=180)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
    reader = make_clone(origin, tmp_path / "reader")
    with open_store("git:pepr-data", root=reader) as store:
        runs = store.runs()
        assert len(runs) == 16 and len({r.id for r in runs}) == 16
        assert all(len(store.runs(f"job-w{n}")) == 4 for n in range(4))


def test_a_push_that_keeps_failing_keeps_the_record_locally(
    tmp_path: Path, origin: Path, make_record: Make
) -> None:
    work = make_clone(origin, tmp_path / "work")
    hook = origin / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'protected branch' >&2\nexit 1\n")
    hook.chmod(0o755)
    record = make_record()
    store = GitStore("pepr-data", root=work, tries=2, backoff_s=0.01)
    with pytest.raises(StoreError, match="after 2 tries") as err:
        store.append(record)
    assert err.value.exit_code == 2
    # The remote's reason is shown, not only git's "failed to push some refs".
    assert "remote: protected branch" in err.value.message
    assert "pre-receive hook declined" in err.value.message
    kept = work / ".pepr" / "runs" / f"{record.id}.json"
    assert kept.is_file()
    assert f"--store git:pepr-data --import {kept}" in (err.value.hint or "")
    assert "refs/heads/pepr-data" not in git("for-each-ref", cwd=origin)
    # Once the remote accepts pushes again, the printed command stores it.
    hook.unlink()
    done = subprocess.run([sys.executable, "-m", "pepr_gate", "history", "--store",
                           "git:pepr-data", "--import", str(kept)],
                          cwd=work, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert [r.id for r in GitStore("pepr-data", root=work).runs()] == [record.id]


def test_missing_remote_and_no_repository_are_store_errors(tmp_path: Path,
                                                          git_env: dict[str, str]) -> None:
    alone = tmp_path / "alone"
    git("init", "-q", str(alone), cwd=tmp_path)
    with pytest.raises(StoreError, match="has no remote 'origin'") as err:
        open_store("git:pepr-data", root=alone)
    assert "git remote add origin" in (err.value.hint or "")
    outside = tmp_path / "outside"
    outside.mkdir()
    with pytest.raises(StoreError, match="not inside a git repository"):
        open_store("git:pepr-data", root=outside)
    git("remote", "add", "origin", str(tmp_path / "gone.git"), cwd=alone)
    with pytest.raises(StoreError, match="cannot fetch branch 'pepr-data'"):
        open_store("git:pepr-data", root=alone).runs()


def test_corrupted_file_skipped_and_foreign_or_newer_branches_refused(
    tmp_path: Path, origin: Path, make_record: Make, capsys: pytest.CaptureFixture[str]
) -> None:
    work = make_clone(origin, tmp_path / "work")
    good = make_record()
    with open_store("git:pepr-data", root=work) as store:
        store.append(good)
    editor = tmp_path / "editor"
    git("clone", "-q", "-b", "pepr-data", str(origin), str(editor), cwd=tmp_path)
    (editor / "runs" / "main" / "20990101T000000.000000Z-broken.json").write_text("{nope")
    git("add", "-A", cwd=editor)
    git("commit", "-q", "-m", "a hand edit gone wrong", cwd=editor)
    git("push", "-q", "origin", "pepr-data", cwd=editor)
    with open_store("git:pepr-data", root=work) as store:
        assert store.runs("main") == [good]
    assert "skipping corrupted file runs/main/20990101T000000.000000Z-broken.json" in (
        capsys.readouterr().err)

    (editor / "pepr-store.json").write_text(f'{{"schema_version": {SCHEMA_VERSION + 1}}}\n')
    git("commit", "-q", "-am", "from the future", cwd=editor)
    git("push", "-q", "origin", "pepr-data", cwd=editor)
    tip = git("rev-parse", "pepr-data", cwd=origin)
    with pytest.raises(StoreError, match="newer than this pepr-gate reads"):
        open_store("git:pepr-data", root=work).append(make_record())
    assert git("rev-parse", "pepr-data", cwd=origin) == tip

    with pytest.raises(StoreError, match="not a pepr-gate store"):
        open_store("git:main", root=work).append(make_record())
    assert git("ls-tree", "--name-only", "main", cwd=origin) == "train.py"
