"""The same SQL store on a real PostgreSQL server (PEPR_TEST_POSTGRES_URL; .ci/run starts one).

Each test gets its own schema, so runs in parallel or after a crash never collide.
Without the variable these tests skip, except in CI (`CI` or PEPR_REQUIRE_POSTGRES=1 set),
where a missing server is a failure: the store must really be tested there.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pepr_gate.errors import StoreError
from pepr_gate.records import RunRecord
from pepr_gate.store import open_store
from pepr_gate.store.codec import SCHEMA_VERSION

pytestmark = pytest.mark.postgres
Make = Callable[..., RunRecord]


def _server_url() -> str:
    url = os.environ.get("PEPR_TEST_POSTGRES_URL")
    if url:
        return url
    if os.environ.get("CI") or os.environ.get("PEPR_REQUIRE_POSTGRES") == "1":
        pytest.fail("PEPR_TEST_POSTGRES_URL is not set but CI requires the PostgreSQL tests; "
                    "run them through .ci/run (it sources .ci/postgres.sh)")
    pytest.skip("PEPR_TEST_POSTGRES_URL not set (source .ci/postgres.sh to start a server)")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A store URL whose tables live in a fresh schema, dropped afterwards."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    server = make_url(_server_url())
    schema = f"pepr_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server.set(drivername="postgresql+psycopg"))
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = server.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def test_round_trip_filters_and_plain_postgresql_scheme(pg_url: str, make_record: Make) -> None:
    assert pg_url.startswith("postgresql+psycopg://")
    plain = "postgresql://" + pg_url.split("://", 1)[1]
    old, failed, new = (make_record(), make_record(status="failed"), make_record())
    other = make_record(branch="dev", fingerprint="hw-other")
    with open_store(plain) as store:
        assert store.url.startswith("postgresql+psycopg://")
        for record in (old, failed, other, new):
            store.append(record)
    with open_store(pg_url) as store:
        assert store.runs("main") == [new, failed, old]
        assert store.runs("main", status="ok", limit=1) == [new]
        assert store.runs(fingerprint="hw-other") == [other]
        assert store.latest() == other  # created last, on another branch
        assert store.latest("main") == new
        with pytest.raises(StoreError, match="already stored"):
            store.append(make_record(id=old.id))


def test_newer_schema_refused_and_corrupted_row_skipped(
    pg_url: str, make_record: Make, capsys: pytest.CaptureFixture[str]
) -> None:
    from sqlalchemy import create_engine, text

    good, bad = make_record(), make_record()
    with open_store(pg_url) as store:
        store.append(good)
        store.append(bad)
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE pepr_runs SET record = '[1, 2' WHERE id = :i"), {"i": bad.id})
    with open_store(pg_url) as store:
        assert store.runs() == [good]
    assert f"skipping corrupted run '{bad.id}'" in capsys.readouterr().err
    with engine.begin() as conn:
        conn.execute(text("UPDATE pepr_meta SET value = :v WHERE key = 'schema_version'"),
                     {"v": str(SCHEMA_VERSION + 1)})
    with pytest.raises(StoreError, match="newer than this pepr-gate reads"):
        open_store(pg_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT value FROM pepr_meta")).scalar() == str(
            SCHEMA_VERSION + 1)
        assert conn.execute(text("SELECT count(*) FROM pepr_runs")).scalar() == 2
    engine.dispose()


_WRITER = """
import sys
sys.path.insert(0, sys.argv[2])
from factories import make_record
from pepr_gate.store import open_store
with open_store(sys.argv[1]) as store:
    for _ in range(10):
        store.append(make_record(branch="job-" + sys.argv[3]))
"""


def test_concurrent_writers_from_a_fresh_database_all_land(pg_url: str) -> None:
    tests_dir = str(Path(__file__).parent)
    # The processes race to create the tables too, not only to insert.
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, pg_url, tests_dir, str(n)],
                              stderr=subprocess.PIPE, text=True) for n in range(4)]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, errors
    with open_store(pg_url) as store:
        assert len({r.id for r in store.runs()}) == 40
        assert len(store.runs("job-2")) == 10


def test_history_command_reads_postgres(pg_url: str, make_record: Make, tmp_path: Path) -> None:
    records = [make_record(branch="main", pepr=p) for p in (0.61, 0.66, 0.7)]
    with open_store(pg_url) as store:
        for record in records:
            store.append(record)
    done = subprocess.run([sys.executable, "-m", "pepr_gate", "history", "--store", pg_url,
                           "--branch", "main", "--format", "json"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert [r["score"]["pepr"] for r in json.loads(done.stdout)] == [0.7, 0.66, 0.61]


def test_unreachable_server_exits_2_naming_host_and_port(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql://pepr@127.0.0.1:{port}/pepr_test"
    with pytest.raises(StoreError, match=f"127.0.0.1:{port}") as err:
        open_store(url)
    assert "is running and reachable" in (err.value.hint or "")
    done = subprocess.run([sys.executable, "-m", "pepr_gate", "history", "--store", url],
                          cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 2
    assert f"127.0.0.1:{port}" in done.stderr and "Traceback" not in done.stderr
