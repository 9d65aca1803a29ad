"""The SQLite history store, for real: files on disk, concurrent processes, bad files."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta, timezone
from pathlib import Path

import pytest

from pepr_gate.errors import StoreError
from pepr_gate.records import RunRecord
from pepr_gate.store import open_store
from pepr_gate.store.codec import SCHEMA_VERSION

Make = Callable[..., RunRecord]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_runs_come_back_newest_first_with_filters(tmp_path: Path, make_record: Make) -> None:
    old = make_record(branch="main")
    failed = make_record(branch="main", status="failed")
    other_hw = make_record(branch="main", fingerprint="hw-other")
    feature = make_record(branch="feature/x", config_hash="cfg-other")
    new = make_record(branch="main")
    with open_store("sqlite:///h.db", root=tmp_path) as store:
        for record in (old, failed, other_hw, feature, new):
            store.append(record)
        assert [r.id for r in store.runs("main")] == [new.id, other_hw.id, failed.id, old.id]
        assert [r.id for r in store.runs("main", status="ok", limit=2)] == [new.id, other_hw.id]
        assert [r.id for r in store.runs("main", fingerprint="hw-other")] == [other_hw.id]
        assert [r.id for r in store.runs(config_hash="cfg-other")] == [feature.id]
        assert len(store.runs()) == 5
        assert store.latest("feature/x") == feature
        assert store.latest("no-such-branch") is None
        assert store.runs("main", limit=0) == []
    # A fresh process sees the same records, whole and equal.
    with open_store("sqlite:///h.db", root=tmp_path) as again:
        assert again.runs("main")[0] == new


def test_relative_path_resolves_against_root_and_creates_folders(
    tmp_path: Path, make_record: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "project"
    root.mkdir()
    with open_store("sqlite:///.pepr/deep/history.db", root=root) as store:
        store.append(make_record())
    assert (root / ".pepr" / "deep" / "history.db").is_file()
    assert not (tmp_path / ".pepr").exists()
    absolute = tmp_path / "abs" / "h.db"
    with open_store(f"sqlite:///{absolute}", root=root) as store:
        store.append(make_record())
    con = sqlite3.connect(absolute)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()


def test_duplicate_id_is_refused_and_the_stored_run_kept(tmp_path: Path, make_record: Make) -> None:
    first = make_record(performance=0.9)
    clash = make_record(id=first.id, performance=0.1)
    with open_store("sqlite:///h.db", root=tmp_path) as store:
        store.append(first)
        with pytest.raises(StoreError, match=f"run '{first.id}' is already stored") as err:
            store.append(clash)
        assert err.value.exit_code == 2
        assert store.runs() == [first]


def test_unwritable_folder_names_the_path(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the history folder should go\n")
    with pytest.raises(StoreError, match=r"cannot create the folder .*not-a-dir") as err:
        open_store("sqlite:///not-a-dir/history.db", root=tmp_path)
    assert "writable" in (err.value.hint or "")
    assert blocker.read_text() == "a file where the history folder should go\n"


def test_a_file_that_is_not_sqlite_is_left_untouched(tmp_path: Path) -> None:
    bogus = tmp_path / "history.db"
    bogus.write_bytes(b"id,pepr\nrun-1,0.8\n" * 100)
    before = _digest(bogus)
    with pytest.raises(StoreError, match=r"history\.db is not a SQLite database") as err:
        open_store("sqlite:///history.db", root=tmp_path)
    assert err.value.exit_code == 2
    assert _digest(bogus) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.db"]


def test_a_newer_schema_version_is_refused_never_overwritten(
    tmp_path: Path, make_record: Make
) -> None:
    path = tmp_path / "h.db"
    with open_store(f"sqlite:///{path}") as store:
        store.append(make_record())
    con = sqlite3.connect(path)
    con.execute("UPDATE pepr_meta SET value = ? WHERE key = 'schema_version'",
                (str(SCHEMA_VERSION + 1),))
    con.commit()
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    before = _digest(path)
    with pytest.raises(StoreError, match=rf"schema version {SCHEMA_VERSION + 1}, newer") as err:
        open_store(f"sqlite:///{path}")
    assert "upgrade pepr-gate" in (err.value.hint or "")
    assert _digest(path) == before


def test_corrupted_rows_are_skipped_with_a_warning_naming_them(
    tmp_path: Path, make_record: Make, capsys: pytest.CaptureFixture[str]
) -> None:
    good = [make_record() for _ in range(4)]
    path = tmp_path / "h.db"
    with open_store(f"sqlite:///{path}") as store:
        for record in good:
            store.append(record)
    con = sqlite3.connect(path)
    # The two newest rows are broken: one is not JSON, one is JSON but not a run record.
    con.execute("UPDATE pepr_runs SET record = '{\"schema\": \"pepr-gate/run/1\", tru' "
                "WHERE id = ?", (good[3].id,))
    broken = json.loads(good[2].model_dump_json(by_alias=True))
    broken["status"] = "exploded"
    con.execute("UPDATE pepr_runs SET record = ? WHERE id = ?", (json.dumps(broken), good[2].id))
    con.commit()
    con.close()
    with open_store(f"sqlite:///{path}") as store:
        assert [r.id for r in store.runs("main", limit=2)] == [good[1].id, good[0].id]
        assert [r.id for r in store.runs()] == [good[1].id, good[0].id]
    err = capsys.readouterr().err
    assert f"skipping corrupted run '{good[3].id}'" in err
    assert "not valid JSON" in err
    assert f"skipping corrupted run '{good[2].id}'" in err
    assert "field 'status'" in err


def test_unsupported_scheme_lists_the_supported_ones(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"unsupported store URL 'mysql://x/y'") as err:
        open_store("mysql://x/y", root=tmp_path)
    assert err.value.exit_code == 2
    for scheme in ("sqlite:///", "postgresql://", "git:BRANCH"):
        assert scheme in (err.value.hint or "")
    with pytest.raises(StoreError, match="unsupported SQLite store URL"):
        open_store("sqlite://host/x.db", root=tmp_path)


_WRITER = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from factories import make_record
from pepr_gate.store import open_store
store = open_store(sys.argv[1])
for i in range(int(sys.argv[2])):
    store.append(make_record(branch=f"writer-{sys.argv[4]}"))
store.close()
"""


def test_eight_concurrent_processes_all_land(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    tests_dir = str(Path(__file__).parent)
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, url, "15", tests_dir, str(n)],
                         stderr=subprocess.PIPE, text=True)
        for n in range(8)
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, errors
    with open_store(url) as store:
        runs = store.runs()
        assert len(runs) == 120
        assert len({r.id for r in runs}) == 120
        assert all(len(store.runs(f"writer-{n}")) == 15 for n in range(8))


def test_baseline_query_on_100k_runs_takes_milliseconds(tmp_path: Path, make_record: Make) -> None:
    path = tmp_path / "big.db"
    template = make_record(components=[], stages=[], id="TEMPLATE-ID")
    with open_store(f"sqlite:///{path}") as store:
        store.append(template)
    text = template.model_dump_json(by_alias=True)
    branches = ["main", "dev", "feature/a", "feature/b"]
    # Filling through sqlite3 directly keeps this test at seconds; the rows are exactly
    # what SqlStore.append writes (whole record plus its indexed columns).
    rows = []
    for i in range(100_000):
        run_id = f"run-{i:06d}"
        branch = branches[i % 4]
        created = template.created_at + timedelta(seconds=i + 1)
        rows.append((
            run_id, created.strftime("%Y-%m-%d %H:%M:%S.%f"), branch,
            "failed" if i % 10 == 3 else "ok", template.hardware.fingerprint,
            template.config_hash, "abc123", 0.8, 0.9,
            text.replace("TEMPLATE-ID", run_id).replace('"branch":"main"',
                                                        f'"branch":"{branch}"'),
        ))
    con = sqlite3.connect(path)
    con.execute("PRAGMA synchronous = OFF")
    con.executemany("INSERT INTO pepr_runs (id, created_at, branch, status, fingerprint, "
                    "config_hash, sha, pepr, performance, record) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    con.commit()
    plan = con.execute(
        "EXPLAIN QUERY PLAN SELECT id, record FROM pepr_runs WHERE branch = 'main' AND "
        "status = 'ok' AND fingerprint = 'f' AND config_hash = 'c' "
        "ORDER BY created_at DESC, id DESC LIMIT 5").fetchall()
    con.close()
    assert "ix_pepr_runs_baseline" in str(plan)
    with open_store(f"sqlite:///{path}") as store:
        timings = []
        for _ in range(5):
            start = time.perf_counter()
            window = store.runs("main", status="ok", fingerprint=template.hardware.fingerprint,
                                config_hash=template.config_hash, limit=5)
            recent = store.runs("feature/b", limit=20)
            timings.append(time.perf_counter() - start)
        assert [r.id for r in window] == [f"run-{i:06d}" for i in (99996, 99992, 99988,
                                                                    99984, 99980)]
        assert recent[0].id == "run-099999" and recent[0].branch == "feature/b"
        assert sorted(timings)[2] < 0.05, timings


_READER = """
import sys
from pepr_gate.store import open_store
with open_store(sys.argv[1], must_exist=True) as store:
    found = store.runs("main", status="ok", limit=5)
print(len(found), "sqlalchemy" in sys.modules)
"""


def test_reading_a_sqlite_store_does_not_import_sqlalchemy(
    tmp_path: Path, make_record: Make
) -> None:
    # Importing SQLAlchemy alone costs more than `pepr-gate check` may take (0.5 s).
    url = f"sqlite:///{tmp_path / 'h.db'}"
    with open_store(url) as store:
        store.append_many([make_record() for _ in range(3)])  # type: ignore[attr-defined]
    proc = subprocess.run([sys.executable, "-c", _READER, url],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["3", "False"]


def test_the_stdlib_reader_matches_the_sqlalchemy_query(tmp_path: Path, make_record: Make) -> None:
    from pepr_gate.store.sql import SqlStore

    base = make_record().created_at
    # Equal times (ties broken by id), other UTC offsets and microseconds all sort as time.
    times = [base, base, base + timedelta(microseconds=1),
             (base + timedelta(hours=1)).astimezone(timezone(timedelta(hours=-5))),
             (base - timedelta(minutes=1)).astimezone(timezone(timedelta(hours=9)))]
    records = [make_record(created_at=t, branch=b, status=s, fingerprint=f)
               for t in times for b in ("main", "dev") for s in ("ok", "failed")
               for f in ("hw-a", "hw-b")]
    with open_store(f"sqlite:///{tmp_path / 'h.db'}") as store:
        store.append_many(records)  # type: ignore[attr-defined]
        for kwargs in ({}, {"branch": "main"}, {"branch": "dev", "status": "ok", "limit": 3},
                       {"fingerprint": "hw-b", "config_hash": records[0].config_hash},
                       {"status": "failed", "limit": 7}, {"branch": "nowhere"}):
            fast = store.runs(**kwargs)  # type: ignore[arg-type]
            assert fast == SqlStore.runs(store, **kwargs)  # type: ignore[arg-type]
        assert len(store.runs()) == len(records)
        newest = max(records, key=lambda r: (r.created_at, r.id))
        assert store.runs()[0] == newest


def test_readers_open_read_only_beside_a_writer(tmp_path: Path, make_record: Make) -> None:
    path = tmp_path / "h.db"
    first, second = make_record(), make_record()
    with open_store(f"sqlite:///{path}") as store:
        store.append(first)
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # a `pepr-gate run` in the middle of its append
    writer.execute("UPDATE pepr_runs SET branch = 'moved'")
    start = time.perf_counter()
    with open_store(f"sqlite:///{path}", must_exist=True) as store:
        assert store.runs("main") == [first]  # the last commit, without waiting
    assert time.perf_counter() - start < 5
    writer.execute("ROLLBACK")
    writer.close()
    with open_store(f"sqlite:///{path}") as store:
        store.append(second)
        assert store.runs() == [second, first]
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    before = _digest(path)
    with open_store(f"sqlite:///{path}", must_exist=True) as store:
        assert len(store.runs()) == 2
    assert _digest(path) == before  # reading never writes to the store


def test_an_empty_file_reads_as_an_empty_store(tmp_path: Path, make_record: Make) -> None:
    path = tmp_path / "h.db"
    path.touch()
    with open_store(f"sqlite:///{path}", must_exist=True) as store:
        assert store.runs() == []
        store.append(record := make_record())
        assert store.runs() == [record]
