"""The SQLite history store: read with the stdlib `sqlite3`, written through SQLAlchemy.

Importing SQLAlchemy costs more than a whole `pepr-gate check` may take, so reading an
existing store (the schema-version check and `runs()`) runs the SQL of query.py's
`runs_query`, the one the SQLAlchemy path runs too, through `sqlite3`. The
engine is only made to append runs, or to create the tables of a new store.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pepr_gate.errors import StoreError
from pepr_gate.records import RunRecord
from pepr_gate.store.codec import SCHEMA_VERSION, check_version
from pepr_gate.store.query import (
    META_TABLE,
    SUMMARY_SQLITE,
    VERSION_KEY,
    collect_runs,
    collect_summaries,
    runs_query,
    texts_query,
)
from pepr_gate.store.sql import SqlStore, parse_version

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from pepr_gate.store.summary import RunSummary

SQLITE_MAGIC = b"SQLite format 3\x00"
BUSY_TIMEOUT_S = 30


class SqliteStore(SqlStore):
    def __init__(self, path: Path, *, url: str, read_only: bool = False) -> None:
        self.path = path
        # A reader (check, history, score) never writes: an empty file stays empty, and
        # the tables are made only when a run is first appended.
        self._read_only = read_only
        self._no_tables = False
        hint = (f"check that {path} is a pepr-gate history file and its folder is writable, "
                "or point --store / [store] url elsewhere")
        super().__init__(self._new_engine, url=url, where=f"SQLite store {path}", hint=hint)

    def _new_engine(self) -> Engine:
        from sqlalchemy import create_engine, event

        engine = create_engine(f"sqlite:///{self.path}",
                               connect_args={"timeout": BUSY_TIMEOUT_S})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            # WAL lets readers run beside one writer; the busy timeout makes concurrent
            # writers (parallel `pepr-gate run` jobs) queue instead of failing at once.
            cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.close()

        return engine

    @contextmanager
    def _reading(self, action: str) -> Iterator[sqlite3.Connection]:
        """A connection that only SELECTs, in one read transaction (every page of a query
        sees the same snapshot). mode=rw never creates a missing file; not mode=ro: a
        read-only connection cannot remove the -wal and -shm files when it closes last,
        so each read would leave them behind."""
        uri = f"{self.path.absolute().as_uri()}?mode=rw"
        try:
            with closing(sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S,
                                         isolation_level=None)) as conn:
                conn.execute("BEGIN")
                yield conn
        except sqlite3.Error as exc:
            raise self._failed(action, str(exc).strip().splitlines()[0]) from None

    def _open(self) -> None:
        """Tables at the current schema version: nothing to do, and SQLAlchemy not needed.

        A file holding another application's tables is refused before anything in it is
        changed (no table added, no journal mode set)."""
        if self.path.exists() and self.path.stat().st_size > 0:
            with self._reading("open") as conn:
                tables = sorted(name for (name,) in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'"))
                value = conn.execute(
                    f"SELECT value FROM {META_TABLE} WHERE key = ?", (VERSION_KEY,)
                ).fetchone() if META_TABLE in tables else None
            if META_TABLE not in tables and tables:
                shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
                raise StoreError(
                    f"{self.path} holds another application's tables ({shown}), not a "
                    "pepr-gate history; pepr-gate left it untouched",
                    hint="point --store / [store] url at another file, "
                    "e.g. sqlite:///.pepr/history.db")
            found = parse_version(value[0] if value else None, self._where)
            if found is not None:
                check_version(found, self._where)
                if found == SCHEMA_VERSION:
                    return
        if self._read_only:
            self._no_tables = True  # an empty store: reads find no run, nothing is written
            return
        super()._open()  # a new (or empty) store: SQLAlchemy creates the tables

    def append_many(self, records: Iterable[RunRecord]) -> int:
        if self._no_tables:
            super()._open()
            self._no_tables = False
        return super().append_many(records)

    def check_writable(self) -> None:
        """Take the write lock once and let it go: a read-only file, folder or mount fails
        here, before the job, instead of after it."""
        uri = f"{self.path.absolute().as_uri()}?mode=rw"
        try:
            with closing(sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S,
                                         isolation_level=None)) as conn:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("ROLLBACK")
        except sqlite3.Error as exc:
            raise self._failed("write to", str(exc).strip().splitlines()[0]) from None

    def runs(
        self,
        branch: str | None = None,
        *,
        limit: int | None = None,
        status: str | None = None,
        fingerprint: str | None = None,
        config_hash: str | None = None,
    ) -> list[RunRecord]:
        filters = (branch, status, fingerprint, config_hash)
        if self._no_tables:
            return []
        with self._reading("read") as conn:

            def fetch(offset: int, want: int | None) -> Sequence[tuple[str, Any]]:
                return conn.execute(*runs_query(filters, offset, want)).fetchall()

            return collect_runs(fetch, limit, self._where)

    def summaries(self) -> list[RunSummary]:
        """One query, rows streamed from the cursor: the drawn fields only."""
        if self._no_tables:
            return []
        with self._reading("read") as conn:
            return collect_summaries(
                lambda: conn.execute(SUMMARY_SQLITE),
                lambda ids: conn.execute(*texts_query(ids)),
                self._where, (sqlite3.OperationalError,))


def open_sqlite(url: str, base: Path, *, must_exist: bool = False) -> SqliteStore:
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
    return SqliteStore(path, url=url, read_only=must_exist)


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
