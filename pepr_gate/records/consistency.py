"""Facts a record must agree with, beyond each field's range (see `records.ranges`).

A hand-made or forged file can hold numbers that each look fine but contradict each
other: a PePR that is not P / (1 + R), a run dated centuries ahead (it would head every
baseline window), a `pass` verdict on a drop far past the threshold, `accepted` with no
accept label on the pull request. Such a file is refused by name: a run record when it
is imported into a history (`history --import`), a check result whenever it is loaded
(`comment --from`, `report`, `dashboard --check`), so it is never stored or published.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pepr_gate.records.check import CheckResult
    from pepr_gate.records.model import RunRecord

Problem = tuple[str, str]
FUTURE_SLACK = timedelta(days=1)  # clocks of runners disagree, but not by more
PEPR_TOLERANCE = 1e-6


def future_problem(created_at: datetime, now: datetime | None = None) -> str | None:
    now = now or datetime.now(timezone.utc)
    if created_at.tzinfo is not None and created_at > now + FUTURE_SLACK:
        return (f"{created_at.isoformat()} is in the future (now {now:%Y-%m-%dT%H:%MZ}); "
                "a run cannot be dated after it ran")
    return None


def run_problem(record: RunRecord) -> Problem | None:
    """The first contradiction in a run record, or None."""
    bad = future_problem(record.created_at)
    if bad:
        return "created_at", bad
    score, p = record.score, record.performance.value
    if score is not None and None not in (score.pepr, score.R, p):
        assert score.pepr is not None and score.R is not None and p is not None
        expected = p / (1 + score.R)
        if abs(score.pepr - expected) > PEPR_TOLERANCE * max(1.0, expected):
            return ("score.pepr", f"{score.pepr:.6g} is not P / (1 + R) = {p:.6g} / "
                    f"(1 + {score.R:.6g}) = {expected:.6g}")
    return None


def check_problem(result: CheckResult) -> Problem | None:
    """The first contradiction in a check result, or None."""
    bad = future_problem(result.created_at)
    if bad:
        return "created_at", bad
    if not 0 <= result.threshold <= 1:
        return "threshold", f"{result.threshold!r} is not a fraction from 0 to 1"
    change = result.pepr_change
    if result.verdict == "pass" and change is not None and change < -result.threshold - 1e-9:
        return ("verdict", f"'pass' with a PePR change of {change:+.1%}, a drop past the "
                f"{result.threshold:.1%} threshold (that is a fail or a warn)")
    codes = result.reason_codes
    if codes and len(codes) != len(result.reasons):
        return ("reason_codes", f"{len(codes)} code(s) for {len(result.reasons)} reason(s); "
                "each reason has one code, in the same order (or none in older results)")
    if result.verdict == "accepted":
        label = result.accepted_by
        if not label or label not in result.labels:
            return ("accepted_by", f"verdict 'accepted' needs the accept label among the pull "
                    f"request's labels; found accepted_by={label!r}, labels={result.labels!r}")
    return None
