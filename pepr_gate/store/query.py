"""The SQL stores' one read: table and column names, the query, and paging past bad rows.

Both readers run `runs_query`'s SQL: the SQLite store through the stdlib `sqlite3`
(importing SQLAlchemy costs more than a whole `pepr-gate check`), the SQLAlchemy store
(PostgreSQL, and SQLite writes) through `text()`; both use the `:name` parameter style.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from typing import Any

from pepr_gate.records import RunRecord
from pepr_gate.store.codec import decode_record
from pepr_gate.store.summary import FIELDS, JSON_PATHS, RunSummary, from_text, from_values

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


# The dashboard's read (summary.py): each run's drawn fields as one JSON array, extracted
# by the database itself so the record's text never travels. A database that cannot read
# a row as JSON fails the whole query; then every row's text is read and parsed here.
SUMMARY_SQLITE = (f"SELECT id, json_extract(record, {', '.join(map(repr, JSON_PATHS))}) "
                  f"FROM {RUNS_TABLE}")
SUMMARY_POSTGRES = (
    "SELECT id, jsonb_build_array("
    + ", ".join("j #> '{" + ",".join(path) + "}'" for path in FIELDS)
    # OFFSET 0 keeps the subquery whole: flattened, each path would parse the record again.
    + f")::text FROM (SELECT id, CAST(record AS jsonb) AS j FROM {RUNS_TABLE} OFFSET 0) AS r")
TEXTS_QUERY = f"SELECT id, record FROM {RUNS_TABLE}"
IDS_PER_QUERY = 500

# (id, values) rows of a summary query: values a JSON array's text (NULL: not extracted).
FastRows = Callable[[], Iterable[tuple[str, Any]]]
# (id, record text) rows: of the given ids, or of every run for None.
TextRows = Callable[[Sequence[str] | None], Iterable[tuple[str, Any]]]


def texts_query(ids: Sequence[str] | None) -> tuple[str, dict[str, Any]]:
    """(id, record) of the given ids (at most IDS_PER_QUERY), or of every run."""
    if ids is None:
        return TEXTS_QUERY, {}
    names = [f"i{n}" for n in range(len(ids))]
    where = ", ".join(f":{name}" for name in names)
    return f"{TEXTS_QUERY} WHERE id IN ({where})", dict(zip(names, ids, strict=True))


def _decoded(rows: Iterable[tuple[str, Any]], size: int = 2000
             ) -> Iterator[tuple[str, Any]]:
    """(id, decoded values) for (id, JSON array text) rows: a chunk of rows is parsed in one
    `json.loads` call, which costs far less than a call per row."""
    rows = iter(rows)
    while batch := list(islice(rows, size)):
        texts = [t if isinstance(t, str) else "null" for _, t in batch]
        try:
            values = json.loads("[" + ",".join(texts) + "]")
        except (ValueError, RecursionError):
            values = [_loads(t) for t in texts]
        yield from zip((run_id for run_id, _ in batch), values, strict=True)


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def collect_summaries(fast: FastRows, texts: TextRows, where: str,
                      unreadable: tuple[type[BaseException], ...]) -> list[RunSummary]:
    """Every run's summary: from the extracted fields, or from its text when they are
    not plainly sound (or the query failed on a row that is not JSON at all)."""
    found: list[RunSummary] = []
    redo: list[str] = []
    every = False
    size = len(FIELDS)
    try:
        for run_id, values in _decoded(fast()):
            summary = (from_values(values) if values.__class__ is list
                       and len(values) == size else None)
            if summary is None:
                redo.append(run_id)
            else:
                found.append(summary)
    except unreadable:
        found, every = [], True
    chunks: list[list[str] | None] = [None] if every else [
        redo[i:i + IDS_PER_QUERY] for i in range(0, len(redo), IDS_PER_QUERY)]
    for chunk in chunks:
        for run_id, text in texts(chunk):
            summary = from_text(text, f"run {run_id!r} in {where}")
            if summary is not None:
                found.append(summary)
    return found
