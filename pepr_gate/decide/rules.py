"""The gate's rules, one small function each, over the facts of one comparison.

Every rule reads `Facts` (what `prepare` gathered: the runs, their scores and the PePR
judgement) and returns typed `Reason`s; `gate.evaluate` runs them all and composes the
verdict: any fail -> fail, else any unsure -> inconclusive, else any warn -> warn, else pass.

Limits are inclusive: a budget or guardrail is broken only when the value is strictly
over it (an energy budget of 20 Wh passes a run of exactly 20 Wh).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pepr_gate import units
from pepr_gate.decide.select import NoBaseline
from pepr_gate.decide.stats import MAX_REPEATS
from pepr_gate.records import RunRecord, Side
from pepr_gate.score import GB, describe_signature, method_signature

if TYPE_CHECKING:
    from pepr_gate.decide.noise import Noise
    from pepr_gate.decide.rule import Judgement
    from pepr_gate.decide.settings import Context, Settings

Level = Literal["fail", "unsure", "warn", "info", "note"]


@dataclass(frozen=True)
class Reason:
    level: Level
    code: str
    text: str


@dataclass(frozen=True)
class Comparison:
    change: float
    judgement: Judgement
    noise: Noise
    means: tuple[float, float] = (0.0, 0.0)  # (base, candidate): what `change` compares
    runs: tuple[int, int] = (1, 1)  # PePR values behind each mean


@dataclass
class Facts:
    candidates: Sequence[RunRecord]
    ok_cands: list[RunRecord]
    primary: RunRecord
    base: list[RunRecord]  # comparable window runs
    history: list[RunRecord]  # comparable noise runs (window included), newest first
    given_mismatch: NoBaseline | None  # the given window had runs, none comparable
    left_out: int  # window runs left out as not comparable
    base_side: Side | None
    cand: Side
    comparison: Comparison | None = None
    flagged: int = 0  # runs flagged low_confidence or not exclusive
    all_cands_shared: bool = False  # another process used the GPU in every candidate run
    variant: str = ""
    paired: bool = False  # `pepr-gate ab`: more pairs settle it, not more candidate runs
    scale: float | None = None  # the resource value at R = 1, and where it came from
    scale_source: str | None = None


def pct(x: float) -> str:
    return f"{abs(x) * 100:.1f}%"


def pct_limit(x: float) -> str:
    return f"{x * 100:.1f}".removesuffix(".0") + "%"


def candidate_failed(f: Facts, s: Settings, ctx: Context) -> list[Reason]:
    if f.ok_cands:
        return []
    p = f.primary
    return [Reason("unsure", "candidate-failed",
                   f"The candidate run {p.id} failed: {p.failure or 'no reason'}.")]


def failed_repeats(f: Facts, s: Settings, ctx: Context) -> list[Reason]:
    lost = len(f.candidates) - len(f.ok_cands)
    if not f.ok_cands or not lost:
        return []
    return [Reason("note", "failed-repeats", f"{lost} failed repeat(s) left out.")]


def comparability(f: Facts, s: Settings, ctx: Context) -> list[Reason]:
    out = []
    if f.given_mismatch is not None:
        out.append(Reason("unsure", f"not-comparable-{f.given_mismatch.kind}",
                          f"No comparable baseline: {f.given_mismatch.detail}."))
    if f.left_out:
        out.append(Reason("note", "left-out", f"{f.left_out} baseline run(s) on other "
                          "hardware or config left out."))
    return out


def no_baseline(f: Facts, s: Settings, ctx: Context) -> list[Reason]:
    if not f.ok_cands or f.base or f.given_mismatch is not None:
        return []
    if ctx.no_baseline is not None:
        return [Reason("unsure", f"no-baseline-{ctx.no_baseline.kind}",
                       ctx.no_baseline.sentence())]
    return [Reason("unsure", "no-baseline",
                   f"No baseline: the base branch {ctx.base_branch or '?'} has no ok run on "
                   "this hardware with this config; store one with `pepr-gate run` on that "
                   "branch.")]


def budgets(f: Facts, s: Settings, ctx: Context) -> list[Reason]:
    """Hard budgets on the candidate's medians. Energy and carbon are not judged when the
    telemetry measured nothing (their numbers would be zeros, not measurements)."""
    if not f.ok_cands:
        return []
    cand = f.cand
    telemetry = all(r.telemetry_ok for r in f.ok_cands)
    mem_gb = None if cand.gpu_peak_memory_bytes is None else cand.gpu_peak_memory_bytes / GB
    checks = [
        ("energy_kwh", "Energy", cand.energy_kwh if telemetry else None, units.ENERGY_UNITS),
        ("carbon_kg", "Carbon", cand.carbon_kg if telemetry else None, units.CARBON_UNITS),
        ("duration_s", "Wall time", cand.duration_s, ((1.0, "s"),)),
        ("gpu_memory_gb", "Peak GPU memory", mem_gb, ((1.0, "GB"),)),
    ]
    out = []
    for key, label, value, steps in checks:
        limit = s.budgets.get(key)
        if limit is not None and value is not None and value > limit:
            # One unit for both numbers, picked from the budget, so they read side by side.
            factor, unit = units.unit_for(limit, steps)
            shown, cap = units.distinct(value * factor, limit * factor)
            out.append(Reason("fail", f"budget-{key}",
                              f"{label} {shown} {unit} is over the budget of {cap} {unit} "
                              f"([gate.budgets] {key})."))
    return out


def telemetry(f: Facts, s: Settings, ctx: Context) -> list[Reason]:
    if not f.ok_cands or all(r.telemetry_ok for r in f.ok_cands):
        return []
    return [Reason("unsure", "telemetry",
                   "The candidate's telemetry measured nothing (telemetry_ok: false), "
                   "so its energy cannot be compared.")]


def energy_method(f: Facts, s: Settings, ctx: Context) -> list[Reason]:
    """Energy compares only when every part was read the same way over the same scope
    (`score.method_signature`): a RAPL whole-socket reading is not a job-share estimate."""
    b, c = f.base_side, f.cand
    if not f.ok_cands or b is None or s.resource not in ("energy", "carbon"):
        return []
    if c.energy_method and b.energy_method and c.energy_method != b.energy_method:
        return [Reason("unsure", "energy-method",
                       f"Energy was {c.energy_method} for the candidate but {b.energy_method} "
                       "for the baseline; they are not comparable.")]
    c_sigs = {method_signature(r) for r in f.ok_cands}
    b_sigs = {method_signature(r) for r in f.base}
    if not b_sigs or (c_sigs == b_sigs and len(c_sigs) == 1):
        return []
    cd = "; ".join(sorted(describe_signature(x) for x in c_sigs))
    bd = "; ".join(sorted(describe_signature(x) for x in b_sigs))
    return [Reason("unsure", "energy-scope",
                   f"Energy was read as {cd} for the candidate but {bd} for the baseline "
                   "(method and scope per part); they are not comparable.")]


def guardrail(f: Facts, s: Settings, ctx: Context) -> list[Reason]:
    guard, b, c = s.max_performance_drop, f.base_side, f.cand
    if (not f.ok_cands or guard is None or b is None or b.performance is None
            or c.performance is None):
        return []
    fell = b.performance - c.performance
    if fell <= guard:
        return []
    name = s.performance_name or f.primary.performance.name
    return [Reason("fail", "guardrail",
                   f"{name} fell {fell:.3f} ({b.performance:.3f} -> {c.performance:.3f}), more "
                   f"than the {guard:g} allowed by [gate] max_performance_drop.")]


def confidence(f: Facts, s: Settings, ctx: Context) -> list[Reason]:
    from pepr_gate.decide.flagged import describe

    said = describe([*f.ok_cands, *f.base])
    if not f.flagged or f.comparison is None or said is None:
        return []
    return [Reason("info", "low-confidence", f"{said}: the noise was widened 1.5x.")]


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


Rule = Callable[[Facts, "Settings", "Context"], list[Reason]]
RULES: tuple[Rule, ...] = (
    candidate_failed, failed_repeats, comparability, budgets, telemetry, no_baseline,
    energy_method, guardrail, pepr_change, r_capped, confidence,
)
ORDER: dict[Level, int] = {"fail": 0, "unsure": 1, "warn": 2, "info": 3, "note": 4}


def verdict_of(reasons: Sequence[Reason]) -> str:
    levels = {r.level for r in reasons}
    return ("fail" if "fail" in levels else "inconclusive" if "unsure" in levels
            else "warn" if "warn" in levels else "pass")
