"""The gate's rules, one small function each, over the facts of one comparison.

Every rule reads `Facts` (what `prepare` gathered: the runs, their scores and the PePR
judgement) and returns typed `Reason`s; `gate.evaluate` runs them all and composes the
verdict: any fail -> fail, else any unsure -> inconclusive, else any warn -> warn, else pass.

Limits are inclusive: a budget or guardrail is broken only when the value is strictly
over it (an energy budget of 20 Wh passes a run of exactly 20 Wh).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from pepr_gate import units
from pepr_gate.decide.change import multiples as multiples
from pepr_gate.decide.change import pepr_change, r_capped
from pepr_gate.decide.facts import Comparison as Comparison
from pepr_gate.decide.facts import Facts as Facts
from pepr_gate.decide.facts import Level as Level
from pepr_gate.decide.facts import Reason as Reason
from pepr_gate.decide.facts import pct as pct
from pepr_gate.decide.facts import pct_limit as pct_limit
from pepr_gate.score import GB, describe_signature, method_signature

if TYPE_CHECKING:
    from pepr_gate.decide.settings import Context, Settings


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
