"""The gate's statistics: medians, log spread, Student's t, the noise on a change.

Pure arithmetic on lists of floats; no decisions and no I/O. The rule that uses these
numbers is `pepr_gate.decide.rule`; the per-method priors are `pepr_gate.decide.noise`.
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Sequence

from pepr_gate.records import Resource, RunRecord, Side
from pepr_gate.score import resource_value

MAX_REPEATS = 50


def median(values: Sequence[float | None]) -> float | None:
    """Median of the values that are present; None when none is."""
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def geomean(values: Sequence[float]) -> float:
    """Geometric mean of positive values: the centre `log_change` compares."""
    return math.exp(statistics.fmean(math.log(v) for v in values))


def spread_ss(values: Sequence[float]) -> tuple[float, int]:
    """Sum of squared log deviations from the mean, and the degrees of freedom."""
    if len(values) < 2 or any(v <= 0 for v in values):
        return 0.0, 0
    logs = [math.log(v) for v in values]
    mid = statistics.fmean(logs)
    return sum((x - mid) ** 2 for x in logs), len(values) - 1


def pooled(*groups: Sequence[float]) -> tuple[float | None, int]:
    """Per-run spread of log values pooled over the groups (each around its own mean),
    and its degrees of freedom; (None, 0) when no group has two runs."""
    ss, dof = 0.0, 0
    for g in groups:
        s, d = spread_ss(g)
        ss, dof = ss + s, dof + d
    return (math.sqrt(ss / dof) if dof else None), dof


def log_change(base: Sequence[float], cand: Sequence[float]) -> float:
    """Relative change of the geometric means (mean log candidate - mean log baseline).

    The mean of logs, not a median: with a spread pooled around the means it makes an
    exact Student's t test under log-normal run-to-run noise. (A Hodges-Lehmann median of
    ratios has 7-12% more variance at 3-5 runs a side, and no exact t.) One wild repeat
    moves it, but also widens the measured spread, so it cannot cause a fail alone."""
    mean_b = statistics.fmean(math.log(b) for b in base)
    mean_c = statistics.fmean(math.log(c) for c in cand)
    return math.exp(mean_c - mean_b) - 1.0


def noise_sigma(spread: float, nb: int, nc: int) -> float:
    """Standard error of the log change for nb baseline and nc candidate runs."""
    return spread * math.sqrt(1 / nb + 1 / nc)


def _t_cdf(t: float, dof: int) -> float:
    """P(T <= t) for Student's t, t >= 0, through the regularized incomplete beta."""
    x = dof / (dof + t * t)
    return 1.0 - 0.5 * _betainc(dof / 2, 0.5, x)


def _betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta I_x(a, b) (continued fraction, Numerical Recipes 6.4)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                     + a * math.log(x) + b * math.log1p(-x))
    if x > (a + 1) / (a + b + 2):
        return 1.0 - _betainc(b, a, 1.0 - x)
    f, c, d = 1.0, 1.0, 0.0
    for i in range(400):
        m = i // 2
        if i == 0:
            num = 1.0
        elif i % 2 == 0:
            num = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        else:
            num = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
        d = 1.0 + num * d
        d = 1.0 / (d if abs(d) > 1e-300 else 1e-300)
        c = 1.0 + num / (c if abs(c) > 1e-300 else 1e-300)
        f *= c * d
        if abs(1.0 - c * d) < 1e-12:
            break
    return front * (f - 1.0) / a


@functools.lru_cache(maxsize=4096)
def t_quantile(p: float, dof: int | None) -> float:
    """The p-quantile (p > 0.5) of Student's t with `dof` degrees of freedom; the normal
    quantile when dof is None (a spread assumed, not estimated)."""
    z = statistics.NormalDist().inv_cdf(p)
    if dof is None:
        return z
    lo, hi = z, z
    while _t_cdf(hi, dof) < p:
        hi *= 2
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _t_cdf(mid, dof) < p else (lo, mid)
    return (lo + hi) / 2


def _r(value: float | None, scale: float | None) -> float | None:
    return None if value is None or scale is None else min(value / scale, 1.0)


def _first_git(runs: Sequence[RunRecord]) -> tuple[str | None, str | None]:
    if not runs:
        return None, None
    return runs[0].branch, runs[0].git.sha if runs[0].git else None


def side(runs: Sequence[RunRecord], peprs: Sequence[float | None], resource: Resource,
         scale: float | None) -> Side:
    """One side of the comparison summarised: medians of every measure, spread of PePR."""
    value = median([resource_value(r.resources, resource) for r in runs])
    mem = median([r.resources.gpu_peak_memory_bytes for r in runs])
    methods = {r.resources.energy_method for r in runs}
    spread, _ = pooled([p for p in peprs if p is not None])
    branch, sha = _first_git(runs)
    return Side(
        run_ids=[r.id for r in runs],
        pepr=median(peprs),
        pepr_spread=spread,
        performance=median([r.performance.value for r in runs]),
        resource_value=value,
        R=_r(value, scale),
        over_scale=value is not None and scale is not None and value > scale,
        energy_kwh=median([r.resources.energy_kwh for r in runs]),
        carbon_kg=median([r.resources.carbon_kg for r in runs]),
        duration_s=median([r.resources.duration_s for r in runs]),
        gpu_peak_memory_bytes=None if mem is None else int(mem),
        energy_method=methods.pop() if len(methods) == 1 else "mixed",
        branch=branch,
        sha=sha,
    )
