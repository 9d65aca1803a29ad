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

from pepr_gate.records import RUN_SCHEMA, EnergyMethod, Resource, RunRecord
from pepr_gate.records.ranges import MAX_BRANCH
from pepr_gate.store.codec import decode_record

# The drawn fields as paths into the stored JSON, in the order every reader returns them.
FIELDS: tuple[tuple[str, ...], ...] = (
    ("schema",), ("id",), ("created_at",), ("status",), ("failure",),
    ("git", "branch"), ("git", "sha"),
    ("performance", "name"), ("performance", "value"),
    ("score", "variant"), ("score", "resource"), ("score", "R"), ("score", "pepr"),
    ("resources", "energy_kwh"), ("resources", "energy_method"), ("resources", "carbon_kg"),
    ("resources", "duration_s"), ("resources", "gpu_peak_memory_bytes"),
    ("conditions", "load_start"), ("conditions", "load_end"),
    ("conditions", "other_cpu_share"), ("conditions", "wall_cpu_ratio"),
    ("conditions", "gpu_temperature_c"),
    # What makes runs one series for the change points the dashboard marks.
    ("hardware", "fingerprint"), ("config_hash",), ("repeat_group",), ("paired", "session"),
    ("score", "resource_value"),
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
    load_start: float | None = None
    load_end: float | None = None
    other_cpu_share: float | None = None
    wall_cpu_ratio: float | None = None
    gpu_temperature_c: float | None = None
    fingerprint: str | None = None
    config_hash: str | None = None
    repeat_group: str | None = None
    paired_session: str | None = None
    resource_value: float | None = None

    @property
    def load(self) -> float | None:
        """The load average over the window (mean of its ends), as `Conditions.load`."""
        ends = [x for x in (self.load_start, self.load_end) if x is not None]
        return round(sum(ends) / len(ends), 2) if ends else None


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


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")  # category Cc, as records.ranges refuses


def _name(value: object, limit: int) -> bool:
    return isinstance(value, str) and 0 < len(value) <= limit and not _CONTROL.search(value)


_NUMBER_TYPES = frozenset((int, float, type(None)))
_INF = math.inf


def _numbers(p: Any, r: Any, q: Any, e: Any, c: Any, d: Any, m: Any) -> bool:
    """P, R and PePR None or within 0..1; energy, carbon and memory None or finite and not
    negative; the duration finite and not negative (NaN fails every comparison)."""
    if not _NUMBER_TYPES.issuperset(map(type, (p, r, q, e, c, d, m))):
        return False  # a string, a bool, a list: the full parse says what is wrong
    return ((p is None or 0 <= p <= 1) and (r is None or 0 <= r <= 1)
            and (q is None or 0 <= q <= 1) and (e is None or 0 <= e < _INF)
            and (c is None or 0 <= c < _INF) and d is not None and 0 <= d < _INF
            and (m is None or 0 <= m < _INF))


def _words(schema: Any, run_id: Any, status: Any, failure: Any, branch: Any, sha: Any,
           pname: Any, method: Any) -> bool:
    """The schema name, a printable id and branch, known status and method words, text
    where text is drawn."""
    return (schema == RUN_SCHEMA and _name(run_id, 1 << 30) and status in _STATUSES
            and method in _METHODS and isinstance(pname, str)
            and (failure is None or isinstance(failure, str))
            and (sha is None or isinstance(sha, str))
            and (branch is None or _name(branch, MAX_BRANCH)))


def _score(variant: Any, resource: Any, r_value: Any, pepr: Any) -> bool:
    """No score at all, or a named variant of a known resource."""
    if variant is None:
        return resource is None and r_value is None and pepr is None
    return isinstance(variant, str) and resource in _RESOURCES


def from_values(values: Sequence[Any]) -> RunSummary | None:
    """A summary from FIELDS' values, or None when any drawn value is not plainly sound
    (the caller then parses the whole record)."""
    (schema, run_id, created, status, failure, branch, sha, pname, pvalue,
     variant, resource, r_value, pepr, energy, method, carbon, duration, memory,
     *rest) = values
    load0, load1, other, wall, temp, fingerprint, config_hash, group, session, r_raw = rest
    conditions = (load0, load1, other, wall, temp)
    if not (_words(schema, run_id, status, failure, branch, sha, pname, method)
            and _score(variant, resource, r_value, pepr)
            and _numbers(pvalue, r_value, pepr, energy, carbon, duration, memory)
            and all(_finite_or_none(c) for c in (*conditions, r_raw))
            and all(x is None or isinstance(x, str)
                    for x in (fingerprint, config_hash, group, session))):
        return None
    micros = _micros(created)
    if micros is None:
        return None
    # Names repeat on every row: one shared string each keeps 100,000 rows small.
    return RunSummary(run_id, micros, branch and intern(branch), sha, status == "ok", failure,
                      intern(pname), pvalue, variant and intern(variant), resource and
                      intern(resource), r_value, pepr, energy, intern(method), carbon,
                      duration, memory, load0, load1, other, wall, temp, fingerprint,
                      config_hash, group, session, r_raw)


def _finite_or_none(value: Any) -> bool:
    return value is None or (type(value) in (int, float) and -_INF < value < _INF)


def of_record(record: RunRecord) -> RunSummary:
    """The summary of a validated record."""
    score, res, c = record.score, record.resources, record.conditions
    return RunSummary(
        record.id, (record.created_at - _EPOCH) // _MICRO, record.branch,
        record.git.sha if record.git else None, record.status == "ok", record.failure,
        record.performance.name, record.performance.value,
        score.variant if score else None, score.resource if score else None,
        score.R if score else None, score.pepr if score else None,
        res.energy_kwh, res.energy_method, res.carbon_kg, res.duration_s,
        res.gpu_peak_memory_bytes,
        *((None,) * 5 if c is None else (c.load_start, c.load_end, c.other_cpu_share,
                                          c.wall_cpu_ratio, c.gpu_temperature_c)),
        record.hardware.fingerprint, record.config_hash, record.repeat_group,
        record.paired.session if record.paired else None,
        score.resource_value if score else None)


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
            s.gpu_peak_memory_bytes, s.load_start, s.load_end, s.other_cpu_share,
            s.wall_cpu_ratio, s.gpu_temperature_c, s.fingerprint, s.config_hash,
            s.repeat_group, s.paired_session, s.resource_value]
