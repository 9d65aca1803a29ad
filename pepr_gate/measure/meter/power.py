"""Arithmetic on power samples: the trapezoid integral, how much of a window the samples
cover, and whether an energy counter agrees with them. Pure functions, no NVML."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

FULL_COVERAGE = 0.99  # below this a reading is low-confidence
GAP_FACTOR = 2.5  # a step up to 2.5 sampling periods (one missed sample) still counts as covered
COUNTER_TOLERANCE = 0.25  # counter vs integrated power: relative disagreement that is flagged
COUNTER_CHECK_MIN_SAMPLES = 5


def integral_j(points: Sequence[tuple[float, float]]) -> float:
    """Joules under (time s, power W) points, trapezoid rule; gaps are bridged linearly."""
    pts = sorted(points)
    return sum((t1 - t0) * (p0 + p1) / 2 for (t0, p0), (t1, p1) in pairwise(pts))


@dataclass(frozen=True)
class Coverage:
    fraction: float  # of the window, covered by samples at (about) the nominal rate
    bridged_s: float  # seconds inside the sampled span between samples too far apart
    missing_s: float  # seconds before the first and after the last sample: not counted

    def describe(self) -> str:
        parts = [f"power samples cover {self.fraction:.1%} of the run"]
        if self.bridged_s > 0:
            parts.append(f"{self.bridged_s:.1f} s of gaps between samples were filled by "
                         "a straight line between the samples around them")
        if self.missing_s > 0:
            parts.append(f"{self.missing_s:.1f} s before the first or after the last good "
                         "sample are not filled: the energy misses them")
        return "; ".join(parts)


def coverage(points: Sequence[tuple[float, float]], t0: float, t1: float,
             period_s: float) -> Coverage:
    span = t1 - t0
    if span <= 0:
        return Coverage(1.0 if points else 0.0, 0.0, 0.0)
    times = sorted(t for t, _ in points)
    if not times:
        return Coverage(0.0, 0.0, span)
    limit = GAP_FACTOR * period_s
    covered = bridged = 0.0
    for a, b in pairwise(times):
        if b - a <= limit:
            covered += b - a
        else:
            bridged += b - a
    head = max(0.0, times[0] - t0)
    tail = max(0.0, t1 - times[-1])
    # an edge within one period of the window's edge is sampling, not a loss
    missing = (head if head > limit else 0.0) + (tail if tail > limit else 0.0)
    covered += (head if head <= limit else 0.0) + (tail if tail <= limit else 0.0)
    return Coverage(min(1.0, covered / span), bridged, missing)


def counter_disagrees(counter_j: float, power_j: float) -> bool:
    """True when the counter and the integrated power differ by more than the tolerance."""
    big = max(abs(counter_j), abs(power_j))
    return big > 0 and abs(counter_j - power_j) > COUNTER_TOLERANCE * big
