"""What the dashboard draws of a run: a few fields, read without building the whole record.

Validating 100,000 stored records as full pydantic models took most of a dashboard's
17 s. The dashboard reads only `FIELDS` (SQL: one query that extracts them; git: the
data branch's per-branch summary files) and checks just those: the schema name, printable
id and branch, a time with a zone, finite numbers in their ranges, known words. A row that
fails any check is not guessed at: it goes through the full record parse
(`decode_record`), which either accepts it or skips it with the usual warning, so a
corrupted row is treated exactly as every other reader treats it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from sys import intern
from typing import Any, NamedTuple, get_args

from pepr_gate.record_ranges import MAX_BRANCH
from pepr_gate.records import RUN_SCHEMA, EnergyMethod, Resource, RunRecord
from pepr_gate.store.codec import decode_record

# The drawn fields as paths into the stored JSON, in the order every reader returns them.
FIELDS: tuple[tuple[str, ...], ...] = (
    ("schema",), ("id",), ("created_at",), ("status",), ("failure",),
    ("git", "branch"), ("git", "sha"),
    ("performance", "name"), ("performance", "value"),
    ("score", "variant"), ("score", "resource"), ("score", "R"), ("score", "pepr"),
    ("resources", "energy_kwh"), ("resources", "energy_method"), ("resources", "carbon_kg"),
    ("resources", "duration_s"), ("resources", "gpu_peak_memory_bytes"),
)
JSON_PATHS = tuple("$." + ".".join(path) for path in FIELDS)  # SQLite's json_extract
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICRO = timedelta(microseconds=1)
_METHODS = frozenset(get_args(EnergyMethod))
_RESOURCES = frozenset(get_args(Resource))
_STATUSES = frozenset(("ok", "failed"))


class RunSummary(NamedTuple):
    """One run as the dashboard draws it (times in microseconds since 1970, UTC)."""

    id: str
    created_us: int
    branch: str | None
    sha: str | None
    ok: bool
    failure: str | None
    performance_name: str
    performance: float | None
    variant: str | None
    resource: str | None
    R: float | None
    pepr: float | None
    energy_kwh: float | None
    energy_method: str
    carbon_kg: float | None
    duration_s: float | None
    gpu_peak_memory_bytes: float | None


def values_of(data: Any) -> list[Any]:
    """The FIELDS of a decoded record (a missing one -> None)."""
    out = []
    for path in FIELDS:
        value = data
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        out.append(value)
    return out


def _micros(text: object) -> int | None:
    if not isinstance(text, str):
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    return (when - _EPOCH) // _MICRO


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")  # category Cc, as record_ranges refuses


def _name(value: object, limit: int) -> bool:
    return isinstance(value, str) and 0 < len(value) <= limit and not _CONTROL.search(value)


def _numbers(values: Sequence[Any], his: Sequence[float | None]) -> bool:
    """Each None, or a finite number >= 0 (and <= its `hi`)."""
    for value, hi in zip(values, his, strict=True):
        if value is None:
            continue
        if value.__class__ not in (int, float) or not 0 <= value <= (hi or math.inf):
            return False  # NaN fails the comparison too; inf is refused below
        if value == math.inf:
            return False
    return True


_HIS = (1.0, 1.0, 1.0, None, None, None, None)


def from_values(values: Sequence[Any]) -> RunSummary | None:
    """A summary from FIELDS' values, or None when any drawn value is not plainly sound
    (the caller then parses the whole record)."""
    (schema, run_id, created, status, failure, branch, sha, pname, pvalue,
     variant, resource, r_value, pepr, energy, method, carbon, duration, memory) = values
    if (schema != RUN_SCHEMA or not _name(run_id, 1 << 30) or status not in _STATUSES
            or method not in _METHODS or not isinstance(pname, str)
            or not (failure is None or isinstance(failure, str))
            or not (sha is None or isinstance(sha, str))
            or not (branch is None or _name(branch, MAX_BRANCH))
            or duration is None
            or not _numbers((pvalue, r_value, pepr, energy, carbon, duration, memory), _HIS)):
        return None
    if variant is None:
        if resource is not None or r_value is not None or pepr is not None:
            return None
    elif not isinstance(variant, str) or resource not in _RESOURCES:
        return None
    micros = _micros(created)
    if micros is None:
        return None
    # Names repeat on every row: one shared string each keeps 100,000 rows small.
    return RunSummary(run_id, micros, branch and intern(branch), sha, status == "ok", failure,
                      intern(pname), pvalue, variant and intern(variant), resource and
                      intern(resource), r_value, pepr, energy, intern(method), carbon,
                      duration, memory)


def of_record(record: RunRecord) -> RunSummary:
    """The summary of a validated record."""
    score, res = record.score, record.resources
    return RunSummary(
        record.id, (record.created_at - _EPOCH) // _MICRO, record.branch,
        record.git.sha if record.git else None, record.status == "ok", record.failure,
        record.performance.name, record.performance.value,
        score.variant if score else None, score.resource if score else None,
        score.R if score else None, score.pepr if score else None,
        res.energy_kwh, res.energy_method, res.carbon_kg, res.duration_s,
        res.gpu_peak_memory_bytes)


def from_text(text: str | bytes, where: str) -> RunSummary | None:
    """A stored record's summary: the drawn fields when they are sound, else the full parse
    (None, with a warning naming `where`, when the record is corrupted)."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, dict):
        found = from_values(values_of(data))
        if found is not None:
            return found
    record = decode_record(text, where)
    return None if record is None else of_record(record)


def from_row(values: Sequence[Any] | None, text: str | bytes, where: str) -> RunSummary | None:
    """A summary from values a query extracted, falling back to the record's text."""
    found = from_values(values) if values is not None and len(values) == len(FIELDS) else None
    return found if found is not None else from_text(text, where)


def values_line(summary: RunSummary) -> list[Any]:
    """The summary back as FIELDS' values (what a git summary file stores)."""
    s = summary
    created = (_EPOCH + s.created_us * _MICRO).isoformat().replace("+00:00", "Z")
    return [RUN_SCHEMA, s.id, created, "ok" if s.ok else "failed", s.failure, s.branch, s.sha,
            s.performance_name, s.performance, s.variant, s.resource, s.R, s.pepr,
            s.energy_kwh, s.energy_method, s.carbon_kg, s.duration_s,
            s.gpu_peak_memory_bytes]
