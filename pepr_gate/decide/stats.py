"""The gate's statistics: medians, log-PePR spread, the noise on a change, Hodges-Lehmann.

Owns the numbers `pepr_gate.decide.gate` decides with: each side's summary (`side`: medians of
every measure and the spread of PePR), the pooled per-run spread with its floor, the
Hodges-Lehmann relative change, its noise sigma, and how many candidate repeats would
settle a drop. No decisions and no I/O; the rule itself is stated in `pepr_gate.decide.gate`.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from pepr_gate.records import Resource, RunRecord, Side
from pepr_gate.score import resource_value

# Z was tuned with benchmarks/gate_power.py (false alarms <= 1% at any repeats, detection
# of a 10% drop >= 95% with 3 repeats, at 3% run-to-run spread).
Z = 2.6
SPREAD_FLOOR = 0.01  # relative, per run: even 1 vs 1 runs carry some noise
HL_FACTOR = math.pi / 3
MAX_REPEATS = 50


def median(values: Sequence[float | None]) -> float | None:
    """Median of the values that are present; None when none is."""
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def spread_ss(values: Sequence[float]) -> tuple[float, int]:
    """Sum of squared log deviations from the median, and the degrees of freedom."""
    if len(values) < 2 or any(v <= 0 for v in values):
        return 0.0, 0
    logs = [math.log(v) for v in values]
    mid = statistics.median(logs)
    return sum((x - mid) ** 2 for x in logs), len(values) - 1


def pooled_spread(*groups: Sequence[float]) -> float:
    """Per-run spread of log values, pooled over the groups, never below SPREAD_FLOOR."""
    ss, dof = 0.0, 0
    for g in groups:
        s, d = spread_ss(g)
        ss, dof = ss + s, dof + d
    return max(math.sqrt(ss / dof) if dof else 0.0, SPREAD_FLOOR)


def hl_change(base: Sequence[float], cand: Sequence[float]) -> float:
    """Hodges-Lehmann relative change: median of all candidate/baseline ratios, minus 1."""
    return statistics.median(c / b for c in cand for b in base) - 1.0


def noise_sigma(spread: float, nb: int, nc: int) -> float:
    """Standard deviation of the Hodges-Lehmann change for nb baseline and nc candidate runs."""
    return spread * math.sqrt(HL_FACTOR * (1 / nb + 1 / nc))


def repeats_to_settle(drop: float, spread: float, nb: int) -> int | None:
    """Smallest candidate repeat count whose noise band the same drop would exceed."""
    for n in range(2, MAX_REPEATS + 1):
        if drop > Z * noise_sigma(spread, nb, n):
            return n
    return None


def side(runs: Sequence[RunRecord], peprs: Sequence[float | None], resource: Resource,
         scale: float | None) -> Side:
    """One side of the comparison summarised: medians of every measure, spread of PePR."""
    values = [resource_value(r.resources, resource) for r in runs]
    value = median(values)
    mem = median([r.resources.gpu_peak_memory_bytes for r in runs])
    methods = {r.resources.energy_method for r in runs}
    present = [p for p in peprs if p is not None]
    ss, dof = spread_ss(present)
    return Side(
        run_ids=[r.id for r in runs],
        pepr=median(peprs),
        pepr_spread=math.sqrt(ss / dof) if dof else None,
        performance=median([r.performance.value for r in runs]),
        resource_value=value,
        R=None if value is None or scale is None else min(value / scale, 1.0),
        energy_kwh=median([r.resources.energy_kwh for r in runs]),
        carbon_kg=median([r.resources.carbon_kg for r in runs]),
        duration_s=median([r.resources.duration_s for r in runs]),
        gpu_peak_memory_bytes=None if mem is None else int(mem),
        energy_method=methods.pop() if len(methods) == 1 else "mixed",
        branch=runs[0].branch if runs else None,
        sha=runs[0].git.sha if runs and runs[0].git else None,
    )
