"""The decision on one relative PePR change, in numbers: pass, warn, fail or inconclusive.

With the estimated drop D (positive = PePR fell), its noise sigma, the threshold T (all
three in log units: a 5% drop is -ln(0.95) = 0.0513) and Student's t quantiles on the
spread's degrees of freedom:

- fail          D > T and D > t(1 - alpha) x sigma: past the threshold and significantly
                above zero. alpha = 1% is the false-alarm target.
- inconclusive  D > T but not significant: "too noisy to decide", with the candidate
                repeats that would decide at this spread.
- pass          D + t(1 - beta) x sigma <= T: the one-sided 97.5% bound on the drop lies
                within the threshold (improvements included); beta = 2.5%.
- warn          D <= T and D + t(1 - beta) x sigma <= 2 T: under the threshold; a drop past
                it is not ruled out, one of twice the threshold is.
- inconclusive  otherwise: D <= T, but even twice the threshold is not ruled out.

A spread that could not be measured (assumed from a prior) decides nothing: the verdict
on the change is inconclusive, with the repeats that would measure and decide it. When
the candidate is repeated adaptively, each look n tests at its own share of alpha and
beta (`decide.sequential.look_levels`), so looking again and again does not raise the
false-alarm rate past alpha.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pepr_gate.decide.noise import MIN_DOF
from pepr_gate.decide.stats import MAX_REPEATS, noise_sigma, t_quantile

ALPHA = 0.01  # false alarms on unchanged code, per decision
WARN_ALPHA = 0.025  # pass and warn need a one-sided 97.5% bound on the drop

Outcome = Literal["pass", "warn", "fail", "inconclusive"]
Why = Literal["significant", "too-noisy", "assumed", "within", "under-threshold", "wide"]


@dataclass(frozen=True)
class Judgement:
    verdict: Outcome
    why: Why
    drop: float
    sigma: float
    q: float  # the fail test's quantile: fail needs drop > q x sigma
    repeats_needed: int | None = None


# (fail, pass, warn) one-sided levels for a decision made after n candidate runs
Levels = Callable[[int], tuple[float, float, float]]


def single_look(n: int) -> tuple[float, float, float]:
    """One decision on all the runs (fixed repeats): alpha and beta whole."""
    return ALPHA, WARN_ALPHA, WARN_ALPHA


def quantiles(dof: int, measured: bool, alpha: float,
              beta: float = WARN_ALPHA) -> tuple[float, float]:
    """(fail quantile, pass/warn quantile) for a spread with `dof` degrees of freedom, at
    the one-sided levels `alpha` (fail) and `beta` (pass/warn)."""
    d = dof if measured else None
    return t_quantile(1 - alpha, d), t_quantile(1 - beta, d)


def judge(drop: float, sigma: float, threshold: float, *, dof: int, measured: bool,
          alpha: float = ALPHA, beta: float = WARN_ALPHA,
          warn: float | None = None) -> tuple[Outcome, Why, float]:
    """The verdict for a drop with noise sigma; also why, and the fail quantile used.
    `beta` is the pass bound's level, `warn` the warn bound's (default: beta)."""
    q_fail, q_pass = quantiles(dof, measured, alpha, beta)
    q_warn = q_pass if warn is None or warn == beta else quantiles(dof, measured, alpha,
                                                                     warn)[1]
    upper, upper_warn = drop + q_pass * sigma, drop + q_warn * sigma
    if not measured:
        return "inconclusive", "assumed", q_fail
    if drop > threshold:
        if drop > q_fail * sigma:
            return "fail", "significant", q_fail
        return "inconclusive", "too-noisy", q_fail
    if upper <= threshold:
        return "pass", "within", q_fail
    if upper_warn <= 2 * threshold:
        return "warn", "under-threshold", q_fail
    return "inconclusive", "wide", q_fail


def repeats_needed(drop: float, spread: float, threshold: float, *, nb: int, nc: int,
                   dof: int, measured: bool, levels: Levels = single_look,
                   most: int = MAX_REPEATS) -> int | None:
    """Fewest candidate repeats (more than nc, at most `most`) that would decide this drop
    at this spread, each judged at its own `levels`: each added repeat adds a degree of
    freedom; None when even `most` would not."""
    for n in range(nc + 1, most + 1):
        more = dof + (n - nc)
        sigma = noise_sigma(spread, nb, n)
        alpha, beta, warn = levels(n)
        verdict, _, _ = judge(drop, sigma, threshold, dof=more,
                              measured=measured or more >= MIN_DOF, alpha=alpha, beta=beta,
                              warn=warn)
        if verdict != "inconclusive":
            return n
    return None


def log_drop(fraction: float) -> float:
    """A relative drop (0.05 = 5% lower) in log units."""
    return -math.log1p(-fraction)


def decide(drop: float, spread: float, threshold: float, *, nb: int, nc: int, dof: int,
           measured: bool, levels: Levels = single_look, most: int = MAX_REPEATS,
           sigma: float | None = None) -> Judgement:
    """`judge` at the levels for `nc` runs, plus the repeats (up to `most`) that would
    decide when it is inconclusive."""
    s = noise_sigma(spread, nb, nc) if sigma is None else sigma
    alpha, beta, warn = levels(nc)
    verdict, why, q = judge(drop, s, threshold, dof=dof, measured=measured, alpha=alpha,
                            beta=beta, warn=warn)
    needed = None
    if verdict == "inconclusive":
        needed = repeats_needed(drop, spread, threshold, nb=nb, nc=nc, dof=dof,
                                measured=measured, levels=levels, most=most)
    return Judgement(verdict, why, drop, s, q, needed)
