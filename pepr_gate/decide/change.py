"""The rule on the PePR change itself (`pepr_change`), its wording helpers, and the note
when R is capped at the scale (`r_capped`)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from pepr_gate import units
from pepr_gate.decide.stats import MAX_REPEATS

if TYPE_CHECKING:
    from pepr_gate.decide.settings import Context, Settings

from pepr_gate.decide.facts import Comparison, Facts, Reason, pct, pct_limit


def _settle(needed: int | None, paired: bool = False) -> str:
    if paired:  # `needed` counts pairs (decide.paired)
        if needed is None:
            return (f"not even {MAX_REPEATS} pairs (`pepr-gate ab --pairs {MAX_REPEATS}`) "
                    "would decide")
        return f"run {needed} pairs (`pepr-gate ab --pairs {needed}`) to decide"
    if needed is None:
        return "more baseline runs are needed to decide"
    return f"run the candidate {needed} times (`pepr-gate run --repeats {needed}`) to decide"


def _against(change: float, threshold: float) -> str:
    """Where a change stands against the threshold, in words that fit its direction: a rise
    or no change is never "more than the 5% allowed"."""
    limit = pct_limit(threshold)
    if _unchanged(change):
        return "no measurable change"
    if change > 0:
        return "an improvement"
    if -change > threshold:
        return f"more than the {limit} allowed"
    return f"within the {limit} allowed"


def _unchanged(change: float) -> bool:
    return f"{abs(change) * 100:.1f}" == "0.0"


def _moved(f: Facts, comp: Comparison) -> str:
    """The change with the two numbers it was computed from: the geometric means of each
    side's PePR. Where they read otherwise than the medians the tables show, they are
    labelled, so "rose 0.2% (0.207 -> 0.205)" cannot appear."""
    change, (b, c) = comp.change, comp.means
    shown_b, shown_c = units.distinct(b, c) if f"{b:.3f}" == f"{c:.3f}" and b != c \
        else (f"{b:.3f}", f"{c:.3f}")
    medians = (f.base_side.pepr if f.base_side else None, f.cand.pepr)
    same = all(m is not None and f"{m:.3f}" == f"{g:.3f}"
               for m, g in zip(medians, (b, c), strict=True))
    label = "" if same else ", geometric means"
    if _unchanged(change):
        return f"{f.variant} did not change ({shown_b} -> {shown_c}{label})"
    verb = "fell" if change < 0 else "rose"
    return f"{f.variant} {verb} {pct(change)} ({shown_b} -> {shown_c}{label})"


def _unjudged(f: Facts, s: Settings) -> list[Reason] | None:
    """The reasons when the change has no ratio to judge (nothing to compare, a score
    missing, a baseline at 0, a fall to 0); None when `pepr_change` judges it."""
    if not f.ok_cands or f.base_side is None:
        return []
    if f.comparison is None:
        return [_no_score(f, s)]
    if math.isinf(f.comparison.judgement.drop):
        return [_to_zero(f, _moved(f, f.comparison), pct_limit(s.max_pepr_drop))]
    return None


def _no_score(f: Facts, s: Settings) -> Reason:
    if f.base_side is not None and f.base_side.pepr == 0:  # a change from 0 has no ratio
        return Reason("unsure", "no-score", f"the change in {f.variant} cannot be computed: "
                      "the baseline's performance is 0.")
    return Reason("unsure", "no-score", f"{f.variant} cannot be computed: the {s.resource} "
                  "or the performance value is missing.")


def _to_zero(f: Facts, moved: str, limit: str) -> Reason:
    runs = f.comparison.runs[1] if f.comparison else len(f.ok_cands)
    zero = sum(1 for c in f.ok_cands if c.performance.value == 0)
    return Reason("fail", "pepr-drop",
                  f"{moved}: the performance was 0 in {zero} of {runs} candidate runs, so "
                  f"{f.variant} fell to 0; more than the {limit} allowed, and no run-to-run "
                  "noise turns a positive score into 0.")


def multiples(times: float, needed: float) -> tuple[str, str]:
    """`times` and `needed` with as many decimals (1 to 3) as it takes to tell them apart,
    so "2.5 x the noise (fail needs 2.5 x)" cannot be printed."""
    if not math.isfinite(times):
        return "inf", f"{needed:.1f}"
    for digits in (1, 2, 3):
        a, b = f"{times:.{digits}f}", f"{needed:.{digits}f}"
        if a != b:
            break
    return a, b


def pepr_change(f: Facts, s: Settings, ctx: Context) -> list[Reason]:
    early = _unjudged(f, s)
    if early is not None or f.comparison is None:
        return early or []
    j, noise, change = f.comparison.judgement, f.comparison.noise, f.comparison.change
    moved = _moved(f, f.comparison)
    limit = pct_limit(s.max_pepr_drop)
    times, q = multiples(j.drop / j.sigma if j.sigma > 0 else math.inf, j.q)
    spread = f"per-run spread {pct(noise.spread)} {noise.label()}"
    if j.verdict == "fail" and f.all_cands_shared:
        # Noise averages out over repeats; another process's energy on the GPU does not.
        return [Reason("unsure", "shared-gpu",
                       f"{moved}, more than the {limit} allowed, but another process used the "
                       "GPU during every candidate run (exclusive: false), so its energy may "
                       "be counted in; run it again on an idle GPU.")]
    if j.verdict == "fail":
        return [Reason("fail", "pepr-drop", f"{moved}, more than the {limit} allowed and "
                       f"{times} x the noise (fail needs {q} x; {spread}).")]
    if j.verdict == "pass":
        tail = ("; improvements pass." if change > 0 else "." if _unchanged(change)
                else f", within the {limit} allowed.")
        return [Reason("info", "pepr-within", moved + tail)]
    if j.verdict == "warn":
        return [Reason("warn", "pepr-under-threshold",
                       f"{moved}, within the {limit} allowed, but the noise does not rule out "
                       f"a drop past it ({spread}).")]
    if j.why == "assumed":
        against = "" if _unchanged(change) else f", {_against(change, s.max_pepr_drop)}"
        return [Reason("unsure", "too-noisy",
                       f"{moved}{against}: too noisy to decide, the spread is "
                       f"{noise.label()}, not measured; {_settle(j.repeats_needed, f.paired)}.")]
    what = (f"more than the {limit} allowed but only {times} x the noise (fail needs "
            f"{q} x)" if j.why == "too-noisy" else
            f"a drop of {pct_limit(2 * s.max_pepr_drop)} is not ruled out")
    return [Reason("unsure", "too-noisy", f"{moved}, {what}: too noisy to decide ({spread}); "
                   f"{_settle(j.repeats_needed, f.paired)}.")]


def r_capped(f: Facts, s: Settings, ctx: Context) -> list[Reason]:
    """R stops at 1 past the scale, and PePR stops falling with it: a side over the scale
    hides how much more it used, so the raw change is said beside the PePR change."""
    b, c = f.base_side, f.cand
    if not f.ok_cands or b is None or f.scale is None or not (b.over_scale or c.over_scale):
        return []
    sides = " and ".join(n for n, x in (("the baseline", b), ("the candidate", c))
                         if x.over_scale)
    raw = units.change(c.resource_value, b.resource_value)
    return [Reason("info", "r-capped",
                   f"R is capped at 1 for {sides}: {s.resource} "
                   f"{units.resource(b.resource_value, s.resource)} -> "
                   f"{units.resource(c.resource_value, s.resource)} ({raw} raw) against a "
                   f"scale of {units.resource(f.scale, s.resource)} ({f.scale_source}), so "
                   f"{f.variant} shows less of the change than the {s.resource} made; set "
                   f"[score.scale] {s.resource} above both to compare them in full.")]
