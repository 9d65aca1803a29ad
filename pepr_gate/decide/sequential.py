"""Adaptive repeats: after each candidate repeat, is the verdict decided yet?

`pepr-gate ci` with `[run] repeats = "auto"` runs one candidate repeat at a time and asks
after each one. Looking up to `max_looks` times and stopping at the first fail would
raise the false-alarm rate up to max_looks x alpha, so every look tests at
alpha / max_looks (Bonferroni): the chance of any false fail over all looks stays
<= alpha. It is conservative (group-sequential boundaries such as Pocock's are a little
less so), but it holds for any stopping pattern and needs no table.

pass and warn end the loop too: they only need the drop bounded, and stopping early on
them cannot add a false fail.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pepr_gate.decide import noise as noise_mod
from pepr_gate.decide.rule import ALPHA, Judgement, decide, log_drop
from pepr_gate.decide.stats import log_change
from pepr_gate.records import CheckResult


def look_alpha(max_looks: int, alpha: float = ALPHA) -> float:
    """The level each look tests at so that all looks together keep `alpha`."""
    return alpha / max(1, max_looks)


def decided_yet(base: Sequence[float], head: Sequence[float], *, threshold: float,
                max_looks: int = 1, history: Sequence[float] = (),
                prior_key: str = "estimated", widen: bool = False,
                alpha: float = ALPHA) -> tuple[Judgement, noise_mod.Noise, float]:
    """Judge the candidate's PePR values `head` against the base window `base`.

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
                       alpha=look_alpha(max_looks, alpha))
    return judgement, noise, change


def stop(result: CheckResult, repeats_done: int, max_repeats: int) -> bool:
    """Whether the adaptive loop stops after `repeats_done` candidate repeats: the verdict
    is decided, nothing more repeats could change (no baseline, a budget, ...), or the
    maximum is reached."""
    if repeats_done >= max_repeats:
        return True
    return result.verdict != "inconclusive" or result.repeats_needed is None
