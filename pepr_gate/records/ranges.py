"""Range checks a run record must pass every time it is loaded (file, store, import).

Its id and branch must be printable names too (no newline, ESC or other control
character): they are printed by every listing and may come from an imported file.

The JSON schema admits numbers that make no sense (a negative energy, P = 7, NaN from a
hand-edited file); scoring them would put a silent wrong number into a gate. Each check
names the field, so the message says exactly what to fix.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterator
from itertools import chain
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pepr_gate.records.model import RunRecord

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


# Control characters (C0, DEL, C1) and the Unicode line and paragraph separators
# (U+2028, U+2029): either breaks a name across lines in a log, a comment or a terminal.
LINE_BREAKING = frozenset({"Cc", "Zl", "Zp"})
MAX_BRANCH = 255  # git's limit for a ref name's component, and plenty for a branch


def name_problem(text: str, *, branch: bool = False) -> str | None:
    """Why `text` cannot be a run id (or, with `branch`, a branch name); None when it can.

    A control character (C0, DEL, C1: a newline, ESC) or a Unicode line or paragraph
    separator (U+2028, U+2029) would let a stored name start a
    GitHub workflow command (`::error::`) or a terminal escape in every later listing.
    """
    if not text:
        return "is empty"
    bad = next((ch for ch in text if unicodedata.category(ch) in LINE_BREAKING), None)
    if bad is not None:
        what = ("the control character" if unicodedata.category(bad) == "Cc"
                else "the line break")
        return f"'{printable(text)}' contains {what} {bad!a}; names must be printable"
    if branch and len(text) > MAX_BRANCH:
        return f"is {len(text):,} characters long; a branch name has at most {MAX_BRANCH}"
    return None


def require_branch(branch: str | None, source: str) -> None:
    """Refuse a branch name no record may hold (before any job runs)."""
    from pepr_gate.errors import InputError

    bad = None if branch is None else name_problem(branch, branch=True)
    if bad:
        raise InputError(f"{source}: the branch name {bad}",
                         hint="pass a branch name git accepts, e.g. --branch feature/x")


def _name_problems(record: RunRecord) -> Iterator[Problem]:
    bad = name_problem(record.id)
    if bad:
        yield "id", bad
    if record.branch is not None:
        bad = name_problem(record.branch, branch=True)
        if bad:
            yield "git.branch", bad


def range_problem(record: RunRecord) -> Problem | None:
    """The first field out of range, or None when the record is sound."""
    return next(chain(_name_problems(record), _problems(record)), None)


def printable(text: str, limit: int | None = 80) -> str:
    """Text from a file, safe on one line of a log or a terminal: control characters escaped
    (no line of pepr-gate's output can then start with `::`, a GitHub workflow command, nor
    hold a terminal escape); cut at `limit` characters unless it is None."""
    cut = text if limit is None else text[:limit]
    out = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in cut)
    return out + ("..." if len(cut) < len(text) else "")
