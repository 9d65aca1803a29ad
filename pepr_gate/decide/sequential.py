"""Adaptive repeats: after each candidate repeat, is the verdict decided yet?

`[run] repeats = "auto"` runs one candidate repeat at a time and asks after each one.
Testing every look at the full alpha and stopping at the first fail would raise the
false-alarm rate up to max_looks x alpha. So the looks spend alpha between them: look n of
at most K tests at alpha x ((n/K)^3 - ((n-1)/K)^3) (a power-family spending function,
Lan & DeMets / Kim & DeMets, with a Bonferroni bound over the looks): the shares sum to
alpha, so the chance of any false fail over all looks stays <= alpha for any stopping
pattern. Early looks get little (a fail there must be overwhelming), the last look most:
at K = 5 the shares are 0.8%, 5.6%, 15.2%, 29.6% and 48.8% of alpha.

pass spends ADAPTIVE_BETA the same way: it ends the loop only once the drop's one-sided
bound at that look's level is within the threshold. warn never ends the loop early: it
says the drop is under the threshold but not bounded yet, which more repeats can settle,
so the loop keeps looking until max_repeats. Only the last look's warn is ever a verdict,
so warn's own bound (a drop of twice the threshold ruled out) keeps the whole 2.5%. The
loop stops on pass, fail, or when more repeats cannot change the verdict (no baseline, an
assumed spread that max_repeats cannot measure, a budget broken, ...).

Why beta is 12% here and 2.5% for fixed repeats: at a 3% per-run spread, window 5 and
max_repeats 5, a 2.5% level spent over five looks passed identical code in only 55% of
trials (warn in the rest, posting a regression comment on unchanged code); 12% passes it
in about 83%, while a drop of exactly the threshold passes in about 7% and one of twice
the threshold in none of 4000 (`benchmarks/gate_power.py --target`). 15% would pass 87%
of unchanged code but let a 2x drop pass in 5-6% at a 20% spread with one base run.
Pass and warn both exit 0: this level decides whether a comment warns, never whether
the check fails.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pepr_gate.decide import noise as noise_mod
from pepr_gate.decide.rule import ALPHA, WARN_ALPHA, Judgement, Levels, decide, log_drop
from pepr_gate.decide.stats import log_change
from pepr_gate.records import CheckResult

SPEND_POWER = 3  # the share of alpha spent by look n of K is (n / K) ** SPEND_POWER
ADAPTIVE_BETA = 0.12  # pass level spent over the looks of an adaptive loop


def spent(total: float, look: int, max_looks: int) -> float:
    """The share of `total` that look `look` (1-based) of at most `max_looks` tests at."""
    k = min(max(look, 1), max_looks)
    return total * ((k / max_looks) ** SPEND_POWER - ((k - 1) / max_looks) ** SPEND_POWER)


def look_levels(max_looks: int, alpha: float = ALPHA) -> Levels:
    """(fail, pass, warn) levels for the look made after n candidate runs; a single look
    (fixed repeats) keeps alpha and WARN_ALPHA whole. warn keeps WARN_ALPHA at every look:
    it never ends the loop early, so only the last look's warn is ever a verdict."""
    if max_looks <= 1:
        return lambda n: (alpha, WARN_ALPHA * alpha / ALPHA, WARN_ALPHA * alpha / ALPHA)
    return lambda n: (spent(alpha, n, max_looks), spent(ADAPTIVE_BETA, n, max_looks),
                      WARN_ALPHA)


def decided_yet(base: Sequence[float], head: Sequence[float], *, threshold: float,
                max_looks: int = 1, history: Sequence[float] = (),
                prior_key: str = "estimated", widen: bool = False,
                alpha: float = ALPHA) -> tuple[Judgement, noise_mod.Noise, float]:
    """Judge the candidate's PePR values `head` against the base window `base`, as look
    len(head) of at most `max_looks` (1: fixed repeats).

    `history` holds older comparable base PePR values (not those in `base`) for the
    spread; `prior_key` names the prior used when the runs are too few to measure it
    (`noise.PRIORS`). Returns the judgement, the noise it used and the relative change.
    The judgement is decided unless its verdict is "inconclusive".
    """
    change = log_change(base, head)
    noise = noise_mod.estimate([[*history, *base], head], prior_key)
    if widen:
        noise = noise.widen()
    judgement = decide(-math.log1p(change), noise.spread, log_drop(threshold),
                       nb=len(base), nc=len(head),
                       dof=noise.dof, measured=noise.measured,
                       levels=look_levels(max_looks, alpha))
    return judgement, noise, change


def decided(result: CheckResult) -> bool:
    """Whether more repeats cannot change this verdict: pass, fail (or accepted), and an
    inconclusive that no number of repeats up to the maximum would settle."""
    if result.verdict in ("pass", "fail", "accepted"):
        return True
    return result.verdict == "inconclusive" and result.repeats_needed is None


def stop(result: CheckResult, repeats_done: int, max_repeats: int) -> bool:
    """Whether the adaptive loop stops after `repeats_done` candidate repeats: the verdict
    is decided (`decided`), or the maximum is reached. warn goes on looking."""
    return repeats_done >= max_repeats or decided(result)
