"""SQL history (SQLAlchemy 2 Core): SQLite by default, PostgreSQL for shared history.

Each run is one row: the whole record as JSON plus the columns queries filter on, with
a composite index matching the gate's baseline query (branch, status, fingerprint,
config hash, newest first), so a store of 100,000 runs answers in milliseconds.

SQLAlchemy is imported only when it is used: the SQLite store (`sqlite.py`) reads
with the stdlib `sqlite3` module, so a `pepr-gate check` never pays for importing it.
The table and column names and the read query (`query.py`) are shared by both paths.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from functools import cache
from typing import TYPE_CHECKING, Any

from pepr_gate.errors import StoreError
from pepr_gate.records import RunRecord
from pepr_gate.store.base import Store
from pepr_gate.store.codec import SCHEMA_VERSION, DuplicateRun, check_version
from pepr_gate.store.query import (
    FILTER_COLUMNS,
    META_TABLE,
    RUNS_TABLE,
    SUMMARY_POSTGRES,
    SUMMARY_SQLITE,
    VERSION_KEY,
    collect_runs,
    collect_summaries,
    runs_query,
    texts_query,
)

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.engine import Connection, Engine

    from pepr_gate.store.summary import RunSummary

# Any constant works; it only has to be the same for every pepr-gate that creates tables.
PG_SCHEMA_LOCK = 0x70657072_67617465 & 0x7FFF_FFFF_FFFF_FFFF



def _utc(value: datetime) -> datetime:
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).astimezone(
        timezone.utc
    )


@cache
def _tables() -> tuple[Table, Table]:
    """(runs, meta), built once: importing SQLAlchemy waits until a store needs it."""
    from sqlalchemy import Column, DateTime, Float, Index, MetaData, String, Table, Text
    from sqlalchemy.types import TypeDecorator

    class UTCDateTime(TypeDecorator[datetime]):
        """UTC everywhere: timestamptz on PostgreSQL, naive-UTC text on SQLite (sorts right).

        SQLite gets SQLAlchemy's DateTime text, 'YYYY-MM-DD HH:MM:SS.ffffff', which sorts
        as time; the stdlib reader in sqlite.py orders by that same text.
        """

        impl = DateTime(timezone=True)
        cache_ok = True

        def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
            if value is None:
                return None
            value = _utc(value)
            return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

        def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
            return None if value is None else _utc(value)

    md = MetaData()
    runs = Table(
        RUNS_TABLE, md,
        Column("id", String(128), primary_key=True),
        Column("created_at", UTCDateTime(), nullable=False),
        Column("branch", String(255)),
        Column("status", String(16), nullable=False),
        Column("fingerprint", String(128)),
        Column("config_hash", String(128)),
        Column("sha", String(64)),
        Column("pepr", Float),
        Column("performance", Float),
        Column("record", Text, nullable=False),
        Index("ix_pepr_runs_baseline", *FILTER_COLUMNS, "created_at"),
        Index("ix_pepr_runs_branch_time", "branch", "created_at"),
        Index("ix_pepr_runs_time", "created_at"),
    )
    meta = Table(
        META_TABLE, md,
        Column("key", String(64), primary_key=True),
        Column("value", String(255), nullable=False),
    )
    return runs, meta


def _row(record: RunRecord) -> dict[str, Any]:
    score = record.score
    return {
        "id": record.id,
        "created_at": record.created_at,
        "branch": record.branch,
        "status": record.status,
        "fingerprint": record.hardware.fingerprint,
        "config_hash": record.config_hash,
        "sha": record.git.sha if record.git else None,
        "pepr": score.pepr if score else None,
        "performance": record.performance.value,
        "record": record.model_dump_json(by_alias=True),
    }


def parse_version(value: object, where: str) -> int | None:
    """The stored schema_version as a number (None: not stored yet)."""
    try:
        return None if value is None else int(str(value))
    except ValueError:
        raise StoreError(
            f"{where}: unreadable schema_version {value!r} in table {META_TABLE}",
            hint="this is not a pepr-gate store; point --store elsewhere",
        ) from None


class SqlStore(Store):
    """A store behind a SQLAlchemy engine, made by `make_engine` on first use."""

    def __init__(self, make_engine: Callable[[], Engine], *, url: str, where: str,
                 hint: str) -> None:
        self.url = url
        self._make_engine = make_engine
        self._engine_made: Engine | None = None
        self._where = where
        self._hint = hint
        try:
            self._open()
        except BaseException:
            self.close()  # no pooled connection may outlive a refused store
            raise

    @property
    def _engine(self) -> Engine:
        if self._engine_made is None:
            self._engine_made = self._make_engine()
        return self._engine_made

    def _open(self) -> None:
        self._init_schema()

    def _failed(self, action: str, detail: str) -> StoreError:
        return StoreError(f"cannot {action} {self._where}: {detail}", hint=self._hint)

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Turn driver errors (server down, disk full, locked too long) into StoreError."""
        from sqlalchemy.exc import DBAPIError, SQLAlchemyError

        try:
            yield
        except DBAPIError as exc:
            detail = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise self._failed(action, detail) from None
        except SQLAlchemyError as exc:
            raise self._failed(action, str(exc)) from None

    def _read_version(self, conn: Connection) -> int | None:
        from sqlalchemy import inspect, select

        if not inspect(conn).has_table(META_TABLE):
            return None
        _, meta = _tables()
        value = conn.execute(select(meta.c.value).where(meta.c.key == VERSION_KEY)).scalar()
        return parse_version(value, self._where)

    def _init_schema(self) -> None:
        from sqlalchemy import text
        from sqlalchemy.schema import CreateIndex, CreateTable

        with self._errors("open"):
            # Check before creating anything: a newer store must stay byte-for-byte as is.
            with self._engine.connect() as conn:
                found = self._read_version(conn)
            if found is not None:
                check_version(found, self._where)
                if found == SCHEMA_VERSION:
                    return
            runs, meta = _tables()
            with self._engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    # Concurrent CREATE TABLE IF NOT EXISTS can still collide in PostgreSQL.
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_SCHEMA_LOCK})
                for table in (meta, runs):
                    conn.execute(CreateTable(table, if_not_exists=True))
                    for index in table.indexes:
                        conn.execute(CreateIndex(index, if_not_exists=True))
                self._insert_version(conn)
                found = self._read_version(conn)
                check_version(found or SCHEMA_VERSION, self._where)

    def _insert_version(self, conn: Connection) -> None:
        values = {"key": VERSION_KEY, "value": str(SCHEMA_VERSION)}
        _, meta = _tables()
        stmt: Any
        if conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            stmt = pg_insert(meta).values(**values).on_conflict_do_nothing()
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            stmt = sqlite_insert(meta).values(**values).on_conflict_do_nothing()
        conn.execute(stmt)

    def append(self, record: RunRecord) -> None:
        self.append_many([record])

    def append_many(self, records: Iterable[RunRecord]) -> int:
        """Store many records in one transaction (imports, benchmarks); all or none land."""
        from sqlalchemy.exc import IntegrityError

        rows = [_row(r) for r in records]
        if not rows:
            return 0
        runs, _ = _tables()
        with self._errors("write to"):
            try:
                with self._engine.begin() as conn:
                    conn.execute(runs.insert(), rows)
            except IntegrityError:
                clash = self._existing([r["id"] for r in rows])
                raise DuplicateRun(
                    f"{self._where}: run {', '.join(map(repr, clash or [rows[0]['id']]))} "
                    "is already stored; pepr-gate never overwrites a stored run",
                    hint="each run needs a new id; re-run `pepr-gate run` "
                    "instead of storing the same record again",
                ) from None
        return len(rows)

    def _existing(self, ids: list[str]) -> list[str]:
        from sqlalchemy import select

        runs, _ = _tables()
        with self._errors("read"), self._engine.connect() as conn:
            found = conn.execute(select(runs.c.id).where(runs.c.id.in_(ids)))
            return sorted(found.scalars())

    def runs(
        self,
        branch: str | None = None,
        *,
        limit: int | None = None,
        status: str | None = None,
        fingerprint: str | None = None,
        config_hash: str | None = None,
    ) -> list[RunRecord]:
        from sqlalchemy import text

        filters = (branch, status, fingerprint, config_hash)
        with self._errors("read"), self._engine.connect() as conn:

            def fetch(offset: int, want: int | None) -> Sequence[tuple[str, Any]]:
                sql, params = runs_query(filters, offset, want)
                return [(run_id, record) for run_id, record in conn.execute(text(sql), params)]

            return collect_runs(fetch, limit, self._where)

    def summaries(self) -> list[RunSummary]:
        """One query for the drawn fields, streamed (a server-side cursor on PostgreSQL)."""
        from sqlalchemy import text
        from sqlalchemy.exc import DBAPIError

        with self._errors("read"), self._engine.connect() as conn:
            query = SUMMARY_POSTGRES if conn.dialect.name == "postgresql" else SUMMARY_SQLITE
            streamed = conn.execution_options(stream_results=True, yield_per=2000)

            def fast() -> Iterator[tuple[str, Any]]:
                try:
                    yield from streamed.execute(text(query))
                except DBAPIError:
                    conn.rollback()  # PostgreSQL: the failed statement aborted the transaction
                    raise

            def texts(ids: Sequence[str] | None) -> Iterator[tuple[str, Any]]:
                sql, params = texts_query(ids)
                yield from streamed.execute(text(sql), params)

            return collect_summaries(fast, texts, self._where, (DBAPIError,))

    def close(self) -> None:
        if self._engine_made is not None:
            self._engine_made.dispose()


def open_postgres(url: str) -> SqlStore:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"invalid PostgreSQL store URL: {exc}",
                         hint="write postgresql://user:password@host:port/database") from None
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername != "postgresql+psycopg":
        raise StoreError(f"unsupported PostgreSQL driver {parsed.drivername!r} in the store URL",
                         hint="use postgresql://... or postgresql+psycopg://... (psycopg 3)")
    if importlib.util.find_spec("psycopg") is None:
        raise StoreError("the PostgreSQL store needs the psycopg 3 driver, not installed",
                         hint="pip install 'pepr-gate[postgres]'")
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = 10
    engine = create_engine(parsed, connect_args=connect_args, pool_pre_ping=True)
    host = f"{parsed.host or 'localhost'}:{parsed.port or 5432}"
    where = f"PostgreSQL store {host}/{parsed.database or ''}"
    hint = (f"check that the server at {host} is running and reachable from this runner, "
            "and the user, password and database in --store / [store] url")
    return SqlStore(lambda: engine, url=parsed.render_as_string(hide_password=True),
                    where=where, hint=hint)
