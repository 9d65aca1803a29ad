"""Change points in a branch's history: where PePR, P or the resource stepped. Pure.

The runs of a branch are split into series of comparable runs (same hardware fingerprint
and config hash, as the gate compares them); a repeat group is one point (its median).
Within a series, `ruptures`' PELT search with a least-squares cost (KernelCPD, linear
kernel) finds the steps of the mean on the values scaled by their noise (estimated from
successive differences, so the steps themselves do not inflate it). Each step gets its
size and a Welch t-test between the runs before and after it; only steps with confidence
>= `MIN_CONFIDENCE` and size >= `MIN_STEP` are reported. Where one series ends and the
next begins (new hardware or a new config) is a boundary, never a change point: runs on
either side are not compared.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from pepr_gate.records import RunRecord

Metric = Literal["pepr", "performance", "resource"]
METRICS: tuple[Metric, ...] = ("pepr", "performance", "resource")
MIN_SIZE = 3  # a change point needs 3 points on each side: one outlier is not a step
PENALTY = 4.0  # x log(n), on values in noise units (chosen by benchmarks/changepoints.py)
MIN_CONFIDENCE = 0.99
MIN_STEP = 0.01  # steps under 1% of the level are not reported
NOISE_FLOOR = 1e-4  # relative: exact series (PePR-T of a sleep) still have a scale


@dataclass(frozen=True)
class Point:
    """One point of a series: a run, or a repeat group's median."""

    runs: tuple[RunRecord, ...]
    values: dict[str, float | None]

    @property
    def first(self) -> RunRecord:
        return self.runs[0]

    @property
    def sha(self) -> str | None:
        git = self.first.git
        return git.sha if git else None

    @property
    def created_at(self) -> datetime:
        return self.first.created_at


@dataclass(frozen=True)
class Series:
    fingerprint: str
    config_hash: str
    variant: str | None
    points: list[Point]


@dataclass(frozen=True)
class Change:
    metric: Metric
    series: int  # index into Analysis.series
    index: int  # the first point after the step
    before: Point
    after: Point
    mean_before: float
    mean_after: float
    step: float  # relative: mean_after / mean_before - 1
    confidence: float
    runs_before: int
    runs_after: int


@dataclass(frozen=True)
class Boundary:
    series: int  # the series that begins here
    before: Point
    after: Point
    changed: list[str]  # "hardware", "config"


@dataclass
class Analysis:
    series: list[Series] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    boundaries: list[Boundary] = field(default_factory=list)
    skipped: int = 0  # runs left out: failed, unscored, paired A/B, another variant


def value(record: RunRecord, metric: Metric) -> float | None:
    if metric == "performance":
        return record.performance.value
    if record.score is None:
        return None
    return record.score.pepr if metric == "pepr" else record.score.resource_value


def usable(record: RunRecord, variant: str | None) -> bool:
    """An ok, scored run that is not half of a paired A/B session."""
    if record.status != "ok" or record.score is None or record.score.pepr is None:
        return False
    if record.paired is not None:
        return False
    return variant is None or record.score.variant == variant


def points(runs: Sequence[RunRecord]) -> list[Point]:
    """Oldest first; the runs of one repeat group make one point (medians)."""
    groups: dict[str, list[RunRecord]] = {}
    for run in sorted(runs, key=lambda r: r.created_at):
        groups.setdefault(run.repeat_group or f"run:{run.id}", []).append(run)
    out = []
    for group in groups.values():
        vals: dict[str, float | None] = {}
        for metric in METRICS:
            got = [v for v in (value(r, metric) for r in group) if v is not None]
            vals[metric] = statistics.median(got) if got else None
        out.append(Point(runs=tuple(group), values=vals))
    return sorted(out, key=lambda p: p.created_at)


def analyse(runs: Sequence[RunRecord], variant: str | None = None) -> Analysis:
    """Series, change points and boundaries of one branch's runs (any order)."""
    chosen = [r for r in runs if usable(r, variant)]
    done = Analysis(skipped=len(runs) - len(chosen))
    keyed: dict[tuple[str, str], list[RunRecord]] = {}
    for run in sorted(chosen, key=lambda r: r.created_at):
        keyed.setdefault((run.hardware.fingerprint, run.config_hash), []).append(run)
    for (fingerprint, config_hash), members in keyed.items():
        variant_name = members[-1].score.variant if members[-1].score else None
        done.series.append(Series(fingerprint, config_hash, variant_name, points(members)))
    done.series.sort(key=lambda s: s.points[0].created_at)
    for i, series in enumerate(done.series):
        if i:
            done.boundaries.append(_boundary(done.series, i))
        for metric in METRICS:
            done.changes += _changes(series, i, metric)
    done.changes.sort(key=lambda c: (c.after.created_at, METRICS.index(c.metric)))
    return done


def _boundary(series: list[Series], i: int) -> Boundary:
    start = series[i].points[0]
    before = max((p for s in series[:i] for p in s.points if p.created_at <= start.created_at),
                 key=lambda p: p.created_at)
    prev = before.first
    changed = [name for name, differs in (
        ("hardware", prev.hardware.fingerprint != series[i].fingerprint),
        ("config", prev.config_hash != series[i].config_hash)) if differs]
    return Boundary(series=i, before=before, after=start, changed=changed)


def _changes(series: Series, index: int, metric: Metric) -> list[Change]:
    pts = [p for p in series.points if p.values[metric] is not None]
    vals = [float(p.values[metric] or 0.0) for p in pts]
    cuts = breakpoints(vals)
    edges = [0, *cuts, len(vals)]
    found = []
    for k, cut in enumerate(cuts):
        left, right = vals[edges[k]:cut], vals[cut:edges[k + 2]]
        change = _measure(left, right)
        if change is None:
            continue
        step, conf = change
        found.append(Change(
            metric=metric, series=index, index=cut, before=pts[cut - 1], after=pts[cut],
            mean_before=statistics.fmean(left), mean_after=statistics.fmean(right),
            step=step, confidence=conf, runs_before=len(left), runs_after=len(right)))
    return found


def _measure(left: list[float], right: list[float]) -> tuple[float, float] | None:
    before, after = statistics.fmean(left), statistics.fmean(right)
    if before == 0:
        return None
    step = after / before - 1.0
    conf = confidence(left, right)
    if abs(step) < MIN_STEP or conf < MIN_CONFIDENCE:
        return None
    return step, conf


def noise(values: Sequence[float]) -> float:
    """The run-to-run standard deviation, from the median absolute successive difference
    (a step moves one difference only), floored relative to the level."""
    level = statistics.median(abs(v) for v in values) or 1.0
    if len(values) < 3:
        return level * NOISE_FLOOR
    diffs = sorted(abs(b - a) for a, b in itertools.pairwise(values))
    sigma = statistics.median(diffs) / (0.6745 * math.sqrt(2.0))
    return max(sigma, level * NOISE_FLOOR)


def breakpoints(values: Sequence[float], penalty: float = PENALTY) -> list[int]:
    """Indices where a new level begins (0 < i < len), found by PELT on the l2 cost."""
    n = len(values)
    if n < 2 * MIN_SIZE:
        return []
    import numpy as np
    import ruptures

    scaled = np.asarray(values, dtype=float) / noise(values)
    # KernelCPD with the linear kernel is PELT on the l2 cost, in ruptures' C code: the
    # same breakpoints as `ruptures.Pelt(model="l2")`, 1000x faster (1,000 runs in 0.04 s
    # instead of 30 s), which the dashboard's per-branch markers need.
    algo = ruptures.KernelCPD(kernel="linear", min_size=MIN_SIZE, jump=1)
    found = algo.fit(scaled.reshape(-1, 1)).predict(pen=penalty * math.log(n))
    return [int(i) for i in found[:-1]]


def confidence(left: Sequence[float], right: Sequence[float]) -> float:
    """1 - p of Welch's t-test; two exact levels that differ are certain."""
    from scipy import stats

    if statistics.pstdev(left) == 0 and statistics.pstdev(right) == 0:
        return 1.0 if statistics.fmean(left) != statistics.fmean(right) else 0.0
    got = stats.ttest_ind(left, right, equal_var=False)
    p = float(got.pvalue)
    return 0.0 if math.isnan(p) else 1.0 - p
