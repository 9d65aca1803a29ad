"""Range checks a run record must pass every time it is loaded (file, store, import).

The JSON schema admits numbers that make no sense (a negative energy, P = 7, NaN from a
hand-edited file); scoring them would put a silent wrong number into a gate. Each check
names the field, so the message says exactly what to fix.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pepr_gate.records import RunRecord

Problem = tuple[str, str]  # (dotted field, what is wrong)


def _bad_number(value: float | int | None, lo: float | None = 0.0,
                hi: float | None = None) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value!r} is not a finite number"
    if lo is not None and value < lo:
        return f"{value!r} is below {lo:g}"
    if hi is not None and value > hi:
        return f"{value!r} is above {hi:g}"
    return None


def _problems(record: RunRecord) -> Iterator[Problem]:
    if record.created_at.tzinfo is None:
        yield "created_at", f"{record.created_at.isoformat()} has no time zone (write it in UTC)"
    perf = record.performance
    for name, value, lo, hi in (("value", perf.value, 0.0, 1.0),
                                ("raw_value", perf.raw_value, None, None)):
        bad = _bad_number(value, lo, hi)
        if bad:
            yield f"performance.{name}", bad
    for name, value in record.resources:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            bad = _bad_number(value)
            if bad:
                yield f"resources.{name}", bad
    for i, stage in enumerate(record.stages):
        bad = _bad_number(stage.duration_s)
        if bad:
            yield f"stages.{i}.duration_s", bad
    for i, comp in enumerate(record.components):
        bad = _bad_number(comp.energy_kwh)
        if bad:
            yield f"components.{i}.energy_kwh", bad
    score = record.score
    if score is not None:
        for name, value, hi in (("resource_value", score.resource_value, None),
                                ("R", score.R, 1.0), ("pepr", score.pepr, 1.0)):
            bad = _bad_number(value, 0.0, hi)
            if bad:
                yield f"score.{name}", bad
        if score.normalization is not None:
            bad = _bad_number(score.normalization.scale)
            if bad:
                yield "score.normalization.scale", bad


def range_problem(record: RunRecord) -> Problem | None:
    """The first field out of range, or None when the record is sound."""
    return next(_problems(record), None)


def printable(text: str, limit: int = 80) -> str:
    """Text from a file, safe on one line of a log: control characters escaped (no line of
    pepr-gate's output can then start with `::`, a GitHub workflow command)."""
    out = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text[:limit])
    return out + ("..." if len(text) > limit else "")
