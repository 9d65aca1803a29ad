"""SQL history (SQLAlchemy 2 Core): SQLite by default, PostgreSQL for shared history.

Each run is one row: the whole record as JSON plus the columns queries filter on, with
a composite index matching the gate's baseline query (branch, status, fingerprint,
config hash, newest first), so a store of 100,000 runs answers in milliseconds.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pepr_gate.errors import StoreError
from pepr_gate.history import Store
from pepr_gate.history.codec import SCHEMA_VERSION, DuplicateRun, check_version, decode_record
from pepr_gate.records import RunRecord

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

SQLITE_MAGIC = b"SQLite format 3\x00"
BUSY_TIMEOUT_S = 30
# Any constant works; it only has to be the same for every pepr-gate that creates tables.
PG_SCHEMA_LOCK = 0x70657072_67617465 & 0x7FFF_FFFF_FFFF_FFFF


def _utc(value: datetime) -> datetime:
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).astimezone(
        timezone.utc
    )


def _build_tables() -> tuple[Any, Any, Any]:
    from sqlalchemy import Column, DateTime, Float, Index, MetaData, String, Table, Text
    from sqlalchemy.types import TypeDecorator

    class UTCDateTime(TypeDecorator[datetime]):
        """UTC everywhere: timestamptz on PostgreSQL, naive-UTC text on SQLite (sorts right)."""

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
        "pepr_runs", md,
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
        Index("ix_pepr_runs_baseline",
              "branch", "status", "fingerprint", "config_hash", "created_at"),
        Index("ix_pepr_runs_branch_time", "branch", "created_at"),
        Index("ix_pepr_runs_time", "created_at"),
    )
    meta = Table(
        "pepr_meta", md,
        Column("key", String(64), primary_key=True),
        Column("value", String(255), nullable=False),
    )
    return md, runs, meta


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


class SqlStore(Store):
    def __init__(self, engine: Engine, *, url: str, where: str, hint: str) -> None:
        self.url = url
        self._engine = engine
        self._where = where
        self._hint = hint
        self._md, self._runs, self._meta = _build_tables()
        try:
            self._init_schema()
        except BaseException:
            engine.dispose()  # no pooled connection may outlive a refused store
            raise

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Turn driver errors (server down, disk full, locked too long) into StoreError."""
        from sqlalchemy.exc import DBAPIError, SQLAlchemyError

        try:
            yield
        except DBAPIError as exc:
            detail = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise StoreError(f"cannot {action} {self._where}: {detail}", hint=self._hint) from None
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot {action} {self._where}: {exc}", hint=self._hint) from None

    def _read_version(self, conn: Connection) -> int | None:
        from sqlalchemy import inspect, select

        if not inspect(conn).has_table("pepr_meta"):
            return None
        value = conn.execute(
            select(self._meta.c.value).where(self._meta.c.key == "schema_version")
        ).scalar()
        try:
            return None if value is None else int(value)
        except ValueError:
            raise StoreError(
                f"{self._where}: unreadable schema_version {value!r} in table pepr_meta",
                hint="this is not a pepr-gate store; point --store elsewhere",
            ) from None

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
            with self._engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    # Concurrent CREATE TABLE IF NOT EXISTS can still collide in PostgreSQL.
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_SCHEMA_LOCK})
                for table in (self._meta, self._runs):
                    conn.execute(CreateTable(table, if_not_exists=True))
                    for index in table.indexes:
                        conn.execute(CreateIndex(index, if_not_exists=True))
                self._insert_version(conn)
                found = self._read_version(conn)
                check_version(found or SCHEMA_VERSION, self._where)

    def _insert_version(self, conn: Connection) -> None:
        values = {"key": "schema_version", "value": str(SCHEMA_VERSION)}
        stmt: Any
        if conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            stmt = pg_insert(self._meta).values(**values).on_conflict_do_nothing()
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            stmt = sqlite_insert(self._meta).values(**values).on_conflict_do_nothing()
        conn.execute(stmt)

    def append(self, record: RunRecord) -> None:
        self.append_many([record])

    def append_many(self, records: Iterable[RunRecord]) -> int:
        """Store many records in one transaction (imports, benchmarks); all or none land."""
        from sqlalchemy.exc import IntegrityError

        rows = [_row(r) for r in records]
        if not rows:
            return 0
        with self._errors("write to"):
            try:
                with self._engine.begin() as conn:
                    conn.execute(self._runs.insert(), rows)
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

        with self._errors("read"), self._engine.connect() as conn:
            found = conn.execute(select(self._runs.c.id).where(self._runs.c.id.in_(ids)))
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
        from sqlalchemy import select

        c = self._runs.c
        stmt = select(c.id, c.record).order_by(c.created_at.desc(), c.id.desc())
        for column, value in (
            (c.branch, branch), (c.status, status),
            (c.fingerprint, fingerprint), (c.config_hash, config_hash),
        ):
            if value is not None:
                stmt = stmt.where(column == value)
        if limit is not None and limit <= 0:
            return []
        out: list[RunRecord] = []
        offset = 0
        with self._errors("read"), self._engine.connect() as conn:
            # Page past corrupted rows so that `limit` good records still come back.
            while True:
                want = None if limit is None else limit - len(out)
                page = stmt.offset(offset).limit(want) if want is not None else stmt
                rows = conn.execute(page).all()
                for run_id, text in rows:
                    record = decode_record(text, f"run {run_id!r} in {self._where}")
                    if record is not None:
                        out.append(record)
                offset += len(rows)
                if want is None or not rows or len(out) >= (limit or 0):
                    return out

    def close(self) -> None:
        self._engine.dispose()


def open_sqlite(url: str, base: Path, *, must_exist: bool = False) -> SqlStore:
    from sqlalchemy import create_engine, event

    rest = url.split(":", 1)[1]
    if not rest.startswith("///") or len(rest) == 3 or "?" in rest:
        raise StoreError(
            f"unsupported SQLite store URL {url!r}",
            hint="write sqlite:///relative/path.db (against the config's folder) "
            "or sqlite:////absolute/path.db",
        )
    path = Path(rest[3:]).expanduser()
    path = path if path.is_absolute() else base / path
    if must_exist and not path.exists():
        # Readers must not leave an empty database behind for a mistyped path.
        raise StoreError(
            f"no history store at {path} ({url})",
            hint="check --store or [store] url; `pepr-gate run` creates the store",
        )
    _check_sqlite_path(path)
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": BUSY_TIMEOUT_S})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        # WAL lets readers run beside one writer; the busy timeout makes concurrent
        # writers (parallel `pepr-gate run` jobs) queue instead of failing at once.
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    hint = (f"check that {path} is a pepr-gate history file and its folder is writable, "
            "or point --store / [store] url elsewhere")
    return SqlStore(engine, url=url, where=f"SQLite store {path}", hint=hint)


def _check_sqlite_path(path: Path) -> None:
    """Refuse paths SQLite would fail on (or, worse, write into) before opening them."""
    if path.is_dir():
        raise StoreError(f"SQLite store {path} is a directory",
                         hint="name a file, e.g. sqlite:///.pepr/history.db")
    if path.exists():
        try:
            with path.open("rb") as fh:
                head = fh.read(len(SQLITE_MAGIC))
        except OSError as exc:
            raise StoreError(f"cannot read SQLite store {path}: {exc.strerror}",
                             hint="fix its permissions or point --store elsewhere") from None
        if head and head != SQLITE_MAGIC:
            raise StoreError(
                f"{path} is not a SQLite database; pepr-gate left it untouched",
                hint="move the file away or point --store / [store] url at another path",
            )
        return
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"cannot create the folder {parent} for the SQLite store {path}: "
            f"{exc.strerror or exc}",
            hint="make it writable, or point --store / [store] url at a writable place",
        ) from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise StoreError(
            f"cannot write the SQLite store {path}: folder {parent} is not writable",
            hint="make it writable, or point --store / [store] url at a writable place",
        )


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
    return SqlStore(engine, url=parsed.render_as_string(hide_password=True),
                    where=where, hint=hint)
