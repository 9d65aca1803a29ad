"""Paired A/B: base and head run alternately on one runner (ABBA), decided per pair.

Each pair i gives the log change l_i = ln(head_i / base_i). Load that drifts linearly
over the session moves both runs of a pair alike and cancels over an ABBA quad, so the
pairs are immune to the drift and hardware mismatch that break a comparison with
history. The estimate is the mean log change; the per-run spread s is pooled from the
pairs (var(l_i) / 2: each l_i is the difference of two runs) and, when given, from older
paired sessions' base runs, each session around its own mean; the noise on the mean is
s x sqrt(2 / pairs). Unpaired history runs never join the spread: they were measured hours
apart under other loads, which is the drift the pairs cancel (pooling them made the spread
1.8x the pairs' own on the median, up to 7x right after the load fell). The verdict then
follows the same rule as a comparison with history (`pepr_gate.decide.rule`).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from pepr_gate.decide import noise as noise_mod
from pepr_gate.decide.rule import ALPHA, Judgement, Levels, judge, log_drop
from pepr_gate.decide.sequential import look_levels
from pepr_gate.decide.stats import MAX_REPEATS, spread_ss


@dataclass(frozen=True)
class PairedDecision:
    judgement: Judgement
    change: float  # relative PePR change of head vs base, -0.05 = 5% lower
    noise: noise_mod.Noise
    pairs: int

    @property
    def verdict(self) -> str:
        return self.judgement.verdict


def _spread(logs: Sequence[float], history: Sequence[float],
            key: str, sessions: Sequence[Sequence[float]] = ()) -> noise_mod.Noise:
    n = len(logs)
    ss = 0.0
    if n >= 2:
        mean = statistics.fmean(logs)
        ss = sum((x - mean) ** 2 for x in logs) / 2  # per-run, not per-difference
    hist_ss, hist_dof = spread_ss(history)
    for group in sessions:  # each older session around its own mean
        group_ss, group_dof = spread_ss(group)
        hist_ss, hist_dof = hist_ss + group_ss, hist_dof + group_dof
    dof = max(n - 1, 0) + hist_dof
    runs = 2 * n + len(history) + sum(len(g) for g in sessions)
    if dof >= noise_mod.MIN_DOF:
        return noise_mod.Noise(math.sqrt((ss + hist_ss) / dof), "measured", runs, dof, key)
    return noise_mod.Noise(noise_mod.PRIORS[key], "assumed", runs, dof, key)


def _pairs_needed(mean: float, noise: noise_mod.Noise, limit: float, n: int,
                  levels: Levels, most: int) -> int | None:
    """Fewest pairs (more than n, at most `most`) that would decide at this spread."""
    for more in range(n + 1, most + 1):
        dof = noise.dof + (more - n)
        a, b, w = levels(more)
        again, _, _ = judge(mean, noise.spread * math.sqrt(2 / more), limit,
                            dof=dof, measured=dof >= noise_mod.MIN_DOF, alpha=a, beta=b,
                            warn=w)
        if again != "inconclusive":
            return more
    return None


def decide_paired(base_values: Sequence[float], head_values: Sequence[float],
                  threshold: float, *, history: Sequence[float] = (),
                  prior_key: str = "estimated", max_looks: int = 1,
                  alpha: float = ALPHA, widen: bool = False,
                  sessions: Sequence[Sequence[float]] = ()) -> PairedDecision:
    """Decide on pairs (base_values[i], head_values[i]) of PePR values, run back to back.

    `history`: PePR values of older comparable base runs, pooled into the spread as one
    group (the gate passes none: see `sessions`).
    `sessions`: PePR values of older paired sessions' base runs, one list per session.
    `max_looks`: how often an adaptive loop may call this (pair n is look n, as in
    `sequential`).
    `widen`: runs were flagged low-confidence or shared the GPU; the spread is widened.
    """
    if len(base_values) != len(head_values) or not base_values:
        raise ValueError("paired decision needs as many base as head values, at least one")
    if any(v <= 0 for v in (*base_values, *head_values)):
        raise ValueError("paired decision needs positive PePR values")
    logs = [math.log(h / b) for b, h in zip(base_values, head_values, strict=True)]
    n = len(logs)
    change = math.exp(statistics.fmean(logs)) - 1.0
    noise = _spread(logs, history, prior_key, sessions)
    if widen:
        noise = noise.widen()
    levels = look_levels(max_looks, alpha)
    sigma = noise.spread * math.sqrt(2 / n)
    mean, limit = -statistics.fmean(logs), log_drop(threshold)
    a, b, w = levels(n)
    verdict, why, q = judge(mean, sigma, limit, dof=noise.dof,
                            measured=noise.measured, alpha=a, beta=b, warn=w)
    needed = None
    if verdict == "inconclusive":
        needed = _pairs_needed(mean, noise, limit, n, levels, MAX_REPEATS)
    return PairedDecision(Judgement(verdict, why, mean, sigma, q, needed), change, noise, n)
