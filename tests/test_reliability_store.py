"""Issue 11, items 6, 11 and 12: no record lost on a full disk, readers never create or
change a store, and a store that could not take the record is refused before the job.
The real CLI in a subprocess; real SQLite files, real git repositories, real mounts."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

try:
    from tests.harness import (
        PY,
        WRITE_METRICS,
        assert_exit,
        job,
        pepr_gate,
        perf_config,
        write_config,
    )
except ImportError:
    from harness import (  # type: ignore[no-redef]
        PY,
        WRITE_METRICS,
        assert_exit,
        job,
        pepr_gate,
        perf_config,
        write_config,
    )


def _mount_tmpfs(where: Path, size: str) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True, check=False)
    return done.returncode == 0


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 64 KiB file system (tmpfs; needs root, as on the CI runner's container)."""
    where = tmp_path / "disk"
    if not _mount_tmpfs(where, "64k"):
        pytest.skip("mounting a tmpfs needs root")
    yield where
    subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(disk: Path) -> None:
    with (disk / "filler").open("wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError:
            pass


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- item 6: disk full while writing the record ---------------------------------------------
def test_disk_full_keeps_the_run_in_the_store_and_leaves_no_broken_file(
    tmp_path: Path, tiny_disk: Path
) -> None:
    write_config(tmp_path, perf_config(WRITE_METRICS))
    store = f"sqlite:///{tmp_path / 'h.db'}"
    _fill(tiny_disk)
    out = tiny_disk / "record.json"
    proc = pepr_gate("run", "--store", store, "--out", str(out), cwd=tmp_path)
    assert_exit(proc, 2, str(out), "No space left on device", "bytes free", "stored in")
    assert not out.exists()
    assert [p.name for p in tiny_disk.iterdir()] == ["filler"]  # no temp file left behind
    listed = pepr_gate("history", "--store", store, "--all-branches", "--format", "json",
                       cwd=tmp_path)
    assert_exit(listed, 0)
    (stored,) = json.loads(listed.stdout)
    assert stored["status"] == "ok" and stored["performance"]["value"] == 0.9


def test_a_damaged_record_file_in_a_folder_is_skipped_with_a_warning(tmp_path: Path) -> None:
    write_config(tmp_path, perf_config(WRITE_METRICS))
    for _ in range(2):
        assert_exit(pepr_gate("run", "--no-store", cwd=tmp_path), 0)
    runs = tmp_path / ".pepr" / "runs"
    (runs / "20250101T000000Z-broken.json").write_bytes(b"")  # what a full disk left before
    proc = pepr_gate("score", str(runs), "--resource", "time", "--json", "lb.json",
                     cwd=tmp_path)
    assert_exit(proc, 0, "warning: skipping", "20250101T000000Z-broken.json")
    assert len(json.loads((tmp_path / "lb.json").read_text())["rows"]) == 2
    # Named on the command line, the same file is an error.
    proc = pepr_gate("score", str(runs / "20250101T000000Z-broken.json"), cwd=tmp_path)
    assert_exit(proc, 2, "20250101T000000Z-broken.json")


# -- item 11: readers never create or change a store ----------------------------------------
def test_readers_refuse_a_missing_sqlite_file_and_create_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "typo" / "histroy.db"
    url = f"sqlite:///{missing}"
    (tmp_path / "cand.json").write_text(_record_json())
    for args in (("history", "--store", url),
                 ("check", "--store", url, "--candidate", "cand.json"),
                 ("score", "--store", url)):
        assert_exit(pepr_gate(*args, cwd=tmp_path), 2, str(missing))
    assert not missing.exists() and not missing.parent.exists()


def test_another_applications_sqlite_file_is_refused_unchanged(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO users (name) VALUES ('ada')")
    conn.close()
    before = _sha(db)
    url = f"sqlite:///{db}"
    (tmp_path / "cand.json").write_text(_record_json())
    for args in (("history", "--store", url),
                 ("check", "--store", url, "--candidate", "cand.json"),
                 ("score", "--store", url),
                 ("run", "--store", url, "--", PY, "-c", "pass")):
        assert_exit(pepr_gate(*args, cwd=tmp_path), 2, str(db), "another application's tables")
    assert _sha(db) == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("app.db")) == \
        ["app.db"]  # no -wal or -journal file either
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert [n for (n,) in conn.execute("SELECT name FROM sqlite_master")] == ["users"]
    conn.close()


# -- item 12: an unstorable record is found before the job ----------------------------------
def _marker_job(tmp_path: Path) -> list[str]:
    """A job that leaves a file behind: its absence proves the job never started."""
    return [PY, "-c", f"open({str(tmp_path / 'job-ran')!r}, 'w').close()"]


def test_a_read_only_sqlite_store_is_refused_before_the_job(tmp_path: Path) -> None:
    disk = tmp_path / "ro"
    if not _mount_tmpfs(disk, "1m"):
        pytest.skip("mounting a tmpfs needs root")
    try:
        url = f"sqlite:///{disk / 'h.db'}"
        assert_exit(pepr_gate("run", "--store", url, "--", PY, "-c", "pass", cwd=tmp_path), 0)
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        proc = pepr_gate("run", "--store", url, "--", *_marker_job(tmp_path), cwd=tmp_path)
        assert_exit(proc, 2, str(disk / "h.db"), "nothing was run")
        assert not (tmp_path / "job-ran").exists()
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def checkout(tmp_path: Path, git_env: dict[str, str]) -> Path:
    origin = tmp_path / "origin.git"
    _git("init", "-q", "--bare", "-b", "main", str(origin), cwd=tmp_path)
    work = tmp_path / "work"
    _git("init", "-q", "-b", "main", str(work), cwd=tmp_path)
    (work / "train.py").write_text("print('hi')\n")
    _git("add", "-A", cwd=work)
    _git("commit", "-q", "-m", "code", cwd=work)
    _git("remote", "add", "origin", str(origin), cwd=work)
    _git("push", "-q", "origin", "main", cwd=work)
    _git("branch", "feature", cwd=work)  # a local code branch, never pushed
    return work


@pytest.mark.parametrize(("store", "needle"), [
    ("git:main", "not a pepr-gate store"),
    ("git:feature", "holds this repository's code"),
])
def test_a_code_branch_as_git_store_is_refused_before_the_job(
    checkout: Path, store: str, needle: str
) -> None:
    proc = pepr_gate("run", "--store", store, "--", *_marker_job(checkout.parent), cwd=checkout)
    assert_exit(proc, 2, needle, "nothing was run")
    assert not (checkout.parent / "job-ran").exists()


@pytest.mark.parametrize(("store", "needle"), [
    ("git:refs/heads/main", "not a ref"),
    ("git:refs/heads/pepr-data", "not a ref"),
    ("git:a..b", "not a valid branch name"),
    ("git:x.lock", "not a valid branch name"),
])
def test_a_ref_or_invalid_name_as_git_store_is_refused_before_the_job(
    checkout: Path, store: str, needle: str
) -> None:
    origin = checkout.parent / "origin.git"
    before = subprocess.run(["git", "for-each-ref"], cwd=origin, capture_output=True,
                            text=True, check=True).stdout
    proc = pepr_gate("run", "--store", store, "--", *_marker_job(checkout.parent), cwd=checkout)
    assert_exit(proc, 2, needle, "nothing was run")
    assert not (checkout.parent / "job-ran").exists()
    after = subprocess.run(["git", "for-each-ref"], cwd=origin, capture_output=True,
                           text=True, check=True).stdout
    assert after == before and "refs/heads/refs/" not in after  # origin untouched


def test_an_unreachable_git_origin_is_refused_before_the_job(checkout: Path) -> None:
    _git("remote", "set-url", "origin", str(checkout.parent / "gone.git"), cwd=checkout)
    proc = pepr_gate("run", "--store", "git:pepr-data", "--", *_marker_job(checkout.parent),
                     cwd=checkout)
    assert_exit(proc, 2, "cannot fetch", "nothing was run")
    assert not (checkout.parent / "job-ran").exists()


def test_a_new_data_branch_is_accepted_and_the_run_stored(checkout: Path) -> None:
    proc = pepr_gate("run", "--store", "git:pepr-data", "--", *_marker_job(checkout.parent),
                     cwd=checkout)
    assert_exit(proc, 0)
    assert (checkout.parent / "job-ran").exists()
    listed = pepr_gate("history", "--store", "git:pepr-data", "--all-branches", "--format",
                       "json", cwd=checkout)
    assert_exit(listed, 0)
    assert len(json.loads(listed.stdout)) == 1


def _record_json() -> str:
    try:
        from tests.factories import make_record
    except ImportError:
        from factories import make_record  # type: ignore[no-redef]
    return make_record().to_json()


def test_helpers_build_real_commands() -> None:
    assert json.loads(job("pass"))[0] == PY and os.path.isabs(PY)
