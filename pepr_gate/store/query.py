"""The SQL stores' one read: table and column names, the query, and paging past bad rows.

Both readers run `runs_query`'s SQL: the SQLite store through the stdlib `sqlite3`
(importing SQLAlchemy costs more than a whole `pepr-gate check`), the SQLAlchemy store
(PostgreSQL, and SQLite writes) through `text()`; both use the `:name` parameter style.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pepr_gate.records import RunRecord
from pepr_gate.store.codec import decode_record

RUNS_TABLE = "pepr_runs"
META_TABLE = "pepr_meta"
VERSION_KEY = "schema_version"
# runs() returns these two columns, filters on these, newest first by these (descending).
RESULT_COLUMNS = ("id", "record")
FILTER_COLUMNS = ("branch", "status", "fingerprint", "config_hash")
NEWEST_FIRST = ("created_at", "id")

# Fetches one page of (id, record) rows at (offset, limit); limit None means every row
# (asked only once, at offset 0).
FetchPage = Callable[[int, int | None], Sequence[tuple[str, Any]]]


def runs_query(filters: Sequence[str | None], offset: int,
               want: int | None) -> tuple[str, dict[str, Any]]:
    """The one read query of both SQL paths (SQLAlchemy's `text()` and the stdlib
    `sqlite3`, which share the `:name` parameter style): (id, record) rows matching the
    non-None `filters` (one per FILTER_COLUMNS), newest first, one page of `want` rows
    at `offset` (every row when `want` is None)."""
    params: dict[str, Any] = {name: value for name, value in zip(
        FILTER_COLUMNS, filters, strict=True) if value is not None}
    sql = f"SELECT {', '.join(RESULT_COLUMNS)} FROM {RUNS_TABLE}"
    if params:
        sql += " WHERE " + " AND ".join(f"{name} = :{name}" for name in params)
    sql += " ORDER BY " + ", ".join(f"{name} DESC" for name in NEWEST_FIRST)
    if want is not None:
        sql += " LIMIT :page_size OFFSET :page_start"
        params.update(page_size=want, page_start=offset)
    return sql, params


def collect_runs(fetch: FetchPage, limit: int | None, where: str) -> list[RunRecord]:
    """Decode rows newest first, paging past corrupted ones so `limit` good ones come back."""
    if limit is not None and limit <= 0:
        return []
    out: list[RunRecord] = []
    offset = 0
    while True:
        want = None if limit is None else limit - len(out)
        rows = fetch(offset, want)
        for run_id, text in rows:
            record = decode_record(text, f"run {run_id!r} in {where}")
            if record is not None:
                out.append(record)
        offset += len(rows)
        if want is None or not rows or len(out) >= (limit or 0):
            return out
