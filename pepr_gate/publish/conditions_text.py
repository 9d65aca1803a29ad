"""The runner's conditions in words: how old the base runs are and how busy the runner was.

A spread "measured from 6 runs" may be measured from base runs hours old, on a runner
that was then idle; the numbers beside it say so. Nothing is printed for results whose
runs recorded no conditions (records from before conditions were recorded).
"""

from __future__ import annotations

from datetime import datetime

from pepr_gate.records import CheckResult, Conditions, Side


def age(then: datetime, now: datetime) -> str:
    seconds = max((now - then).total_seconds(), 0.0)
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def base_age(result: CheckResult) -> str | None:
    """'2 min to 5.2 h old': the age of the baseline window's newest and oldest runs."""
    b = result.baseline
    if b is None or b.oldest_at is None or b.newest_at is None:
        return None
    newest, oldest = age(b.newest_at, result.created_at), age(b.oldest_at, result.created_at)
    return f"{oldest} old" if newest == oldest else f"{newest} to {oldest} old"


def describe(c: Conditions | None) -> str | None:
    """'load 8.1, other processes 85% of the CPU, wall/CPU 2.6'."""
    if c is None:
        return None
    parts = []
    if c.load is not None:
        parts.append(f"load {c.load:.1f}" + (f" on {c.cpu_count} CPUs" if c.cpu_count else ""))
    if c.other_cpu_share is not None:
        parts.append(f"other processes {c.other_cpu_share * 100:.0f}% of the CPU time")
    if c.wall_cpu_ratio is not None:
        parts.append(f"wall/CPU {c.wall_cpu_ratio:.1f}")
    if c.gpu_temperature_c is not None:
        parts.append(f"GPU {c.gpu_temperature_c:.0f} °C")
    return ", ".join(parts) or None


def noise_suffix(result: CheckResult) -> str:
    """' (base runs 2 min to 5.2 h old, at load 1.3)' after 'measured from N runs', for
    base runs that recorded their conditions (records of this version on)."""
    b = result.baseline
    # Shown for runs that recorded their conditions (records of this version on).
    if b is None or b.conditions is None or result.baseline_mode == "paired":
        return ""
    when = base_age(result)
    load = b.conditions.load
    parts = [f"base runs {when}"] if when else []
    if load is not None:
        parts.append(f"at load {load:.1f}")
    return f" ({', '.join(parts)})" if parts else ""


def detail_lines(result: CheckResult) -> list[str]:
    """Lines for the comment's run details: each side's conditions, and what estimated
    energy means under load."""
    sides: list[tuple[str, Side | None]] = [("candidate", result.candidate),
                                            ("baseline", result.baseline)]
    lines = []
    for name, side in sides:
        text = describe(side.conditions) if side is not None else None
        if text:
            lines.append(f"{name} ran at {text}")
    when = base_age(result)
    if when and lines:
        lines.append(f"baseline runs are {when}")
    methods = {s.energy_method for _, s in sides if s is not None}
    if lines and methods & {"estimated", "mixed"}:
        lines.append("estimated energy moves with the runner's load: a busy runner stretches "
                     "the job and raises its estimate (about 3.3% per unit of load average on "
                     "a shared 2-core runner), so compare runs made under like conditions, or "
                     "in pairs")
    return lines
