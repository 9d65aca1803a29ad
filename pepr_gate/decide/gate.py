"""The decision: baseline choice, noise-aware PePR comparison, budgets, guardrail. No I/O.

The rule (the README, "The decision rule", states it for users):

- Both sides are scored on one scale: `[score.scale]`, else the `[gate.budgets]` ceiling,
  else 2 x the baseline window's median resource value.
- The change d is the Hodges-Lehmann estimate: the median of every candidate/baseline
  PePR ratio, minus 1. With one candidate run it is the change of the medians; with
  repeats it keeps most of a mean's precision while one outlier run cannot move it.
- The per-run spread s is the standard deviation of log PePR around each side's median,
  pooled over the baseline's noise history (up to NOISE_HISTORY matching runs) and the
  candidate's repeats, never below SPREAD_FLOOR. The noise on d is
  sigma = s * sqrt(pi/3 * (1/nb + 1/nc)) (pi/3: the estimator's variance under normal noise).
- fail when -d > max_pepr_drop and -d > Z * sigma; beyond the threshold but within the
  noise: warn, with the number of repeats that would settle it.
Z was tuned with benchmarks/gate_power.py (false alarms <= 1% at any repeats, detection
of a 10% drop >= 95% with 3 repeats, at 3% run-to-run spread).

This module owns the decision: comparable baselines, the scale, budgets, the performance
guardrail, the verdict and the sentences that explain it. The statistics it decides with
(Z, SPREAD_FLOOR, the spread, sigma, the Hodges-Lehmann change, repeats needed, each
side's medians) live in `pepr_gate.decide.stats`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pepr_gate import units
from pepr_gate.config import Config
from pepr_gate.decide.stats import (
    Z,
    hl_change,
    median,
    noise_sigma,
    pooled_spread,
    repeats_to_settle,
    side,
)
from pepr_gate.records import (
    VARIANTS,
    CheckResult,
    Normalization,
    Resource,
    RunRecord,
    Side,
)
from pepr_gate.score import GB, describe_signature, method_signature, rescore, resource_value

NOISE_HISTORY = 20  # baseline runs used to estimate the spread (the window's median is compared)


@dataclass(frozen=True)
class Settings:
    resource: Resource
    max_pepr_drop: float
    max_performance_drop: float | None
    budgets: dict[str, float]
    scale: float | None
    scale_source: str | None
    window: int
    performance_name: str
    strict: bool

    @classmethod
    def from_config(
        cls, config: Config, *, threshold: float | None = None, strict: bool | None = None
    ) -> Settings:
        scale, source = config.scale_for(config.score.resource)
        b = config.gate.budgets
        budgets = {k: v for k, v in b.model_dump().items() if v is not None}
        return cls(
            resource=config.score.resource,
            max_pepr_drop=config.gate.max_pepr_drop if threshold is None else threshold,
            max_performance_drop=config.gate.max_performance_drop,
            budgets=budgets,
            scale=scale,
            scale_source=source,
            window=config.gate.window,
            performance_name=config.performance.label if config.performance else "",
            strict=config.gate.strict if strict is None else strict,
        )


@dataclass(frozen=True)
class Context:
    created_at: datetime
    base_branch: str | None = None
    head_branch: str | None = None
    config_path: str | None = None
    mismatch: str | None = None  # why the store's base-branch runs did not match, if they didn't
    notes: list[str] = field(default_factory=list)


def comparable(candidate: RunRecord, runs: Sequence[RunRecord]) -> list[RunRecord]:
    """`ok` runs with the candidate's hardware fingerprint and config hash, newest first."""
    same = [
        r for r in runs
        if r.status == "ok" and r.hardware.fingerprint == candidate.hardware.fingerprint
        and r.config_hash == candidate.config_hash
    ]
    return sorted(same, key=lambda r: r.created_at, reverse=True)


def _signature_reasons(cands: Sequence[RunRecord], base: Sequence[RunRecord]) -> list[str]:
    """Energy compares only when every part was read the same way over the same scope."""
    c_sigs = {method_signature(r) for r in cands}
    b_sigs = {method_signature(r) for r in base}
    if c_sigs == b_sigs and len(c_sigs) == 1:
        return []
    c = "; ".join(sorted(describe_signature(x) for x in c_sigs))
    b = "; ".join(sorted(describe_signature(x) for x in b_sigs))
    return [f"Energy was read as {c} for the candidate but {b} for the baseline (method and "
            "scope per part); they are not comparable."]


def describe_mismatch(candidate: RunRecord, runs: Sequence[RunRecord], where: str) -> str | None:
    """Say which field keeps `where`'s ok runs from being a baseline, or None if none is ok."""
    ok = [r for r in runs if r.status == "ok"]
    if not ok:
        return None
    newest = max(ok, key=lambda r: r.created_at)
    parts = []
    if not any(r.hardware.fingerprint == candidate.hardware.fingerprint for r in ok):
        parts.append(
            f"hardware differs (fingerprint {candidate.hardware.fingerprint}: "
            f"{hardware_label(candidate)}; the newest base run has "
            f"{newest.hardware.fingerprint}: {hardware_label(newest)})"
        )
    if not any(r.config_hash == candidate.config_hash for r in ok):
        parts.append(
            f"config hash differs ({candidate.config_hash} vs {newest.config_hash} on "
            f"the newest base run: the metric, score, carbon or meter settings changed)"
        )
    if not parts:
        parts.append("no run matches both the hardware fingerprint and the config hash")
    return f"{where} has {len(ok)} ok run(s), but " + " and ".join(parts)


def hardware_label(record: RunRecord) -> str:
    hw = record.hardware
    gpus = [g.name for g in hw.gpus if g.visible]
    gpu = f"{len(gpus)} x {gpus[0]}" if gpus else "no GPU"
    return f"{gpu}, {hw.cpu_model} ({hw.cpu_count} CPUs)"


def pct(x: float) -> str:
    return f"{abs(x) * 100:.1f}%"


def pct_limit(x: float) -> str:
    return f"{x * 100:.1f}".removesuffix(".0") + "%"


def methods_of(label: str, record: RunRecord) -> str:
    parts = [
        f"{c.kind} {c.name} {c.method}" + (f" ({c.detail})" if c.detail else "")
        for c in record.components if c.counts_toward_total and c.kind != "process"
    ]
    detail = "; ".join(parts) if parts else "no energy components"
    return f"{label} energy {record.resources.energy_method}: {detail}"


def _budget_reasons(cand: Side, ok_runs: Sequence[RunRecord], settings: Settings) -> list[str]:
    telemetry = all(r.telemetry_ok for r in ok_runs)
    mem_gb = None if cand.gpu_peak_memory_bytes is None else cand.gpu_peak_memory_bytes / GB
    checks = [
        ("energy_kwh", "Energy", cand.energy_kwh if telemetry else None, units.ENERGY_UNITS),
        ("carbon_kg", "Carbon", cand.carbon_kg if telemetry else None, units.CARBON_UNITS),
        ("duration_s", "Wall time", cand.duration_s, ((1.0, "s"),)),
        ("gpu_memory_gb", "Peak GPU memory", mem_gb, ((1.0, "GB"),)),
    ]
    out = []
    for key, label, value, steps in checks:
        limit = settings.budgets.get(key)
        if limit is not None and value is not None and value > limit:
            # One unit for both numbers, picked from the budget, so they read side by side.
            factor, unit = units.unit_for(limit, steps)
            shown, cap = units.distinct(value * factor, limit * factor)
            out.append(
                f"{label} {shown} {unit} is over the budget of {cap} {unit} "
                f"([gate.budgets] {key})."
            )
    return out


def evaluate(
    candidates: Sequence[RunRecord],
    baselines: Sequence[RunRecord],
    noise_runs: Sequence[RunRecord],
    settings: Settings,
    ctx: Context,
) -> CheckResult:
    """Decide pass / warn / fail / inconclusive for `candidates` against `baselines`.

    `baselines` is the window to compare with; `noise_runs` the longer history of
    comparable base runs (the window included) that the spread is estimated from.
    """
    fails: list[str] = []
    unsure: list[str] = []
    warns: list[str] = []
    info: list[str] = []
    notes = list(ctx.notes)
    ok_cands = [c for c in candidates if c.status == "ok"]
    primary = max(ok_cands or candidates, key=lambda r: r.created_at)
    if not ok_cands:
        unsure.append(f"The candidate run {primary.id} failed: {primary.failure or 'no reason'}.")
    elif len(ok_cands) < len(candidates):
        notes.append(f"{len(candidates) - len(ok_cands)} failed repeat(s) left out.")

    base = [b for b in baselines if b.status == "ok"]
    mismatched = False
    if ok_cands and base:
        same = comparable(primary, base)
        if not same:
            mismatched = True
            unsure.append(f"No comparable baseline: "
                          f"{describe_mismatch(primary, base, 'the given baseline')}.")
        elif len(same) < len(base):
            notes.append(f"{len(base) - len(same)} baseline run(s) on other hardware or config "
                         "left out.")
        base = same
    noise = comparable(primary, noise_runs) if ok_cands else []
    base_ids = {b.id for b in base}
    noise = [r for r in noise if r.id not in base_ids] + base

    scale, source = settings.scale, settings.scale_source
    if scale is None:
        doubled = median([resource_value(b.resources, settings.resource) for b in base])
        if doubled is not None and doubled > 0:
            scale, source = 2 * doubled, "2x baseline"
    variant = VARIANTS[settings.resource]

    def score(runs: Sequence[RunRecord]) -> list[float | None]:
        if scale is None or source is None:
            return [None for _ in runs]
        return [rescore(r, settings.resource, scale, source).pepr for r in runs]

    cand_peprs = score(ok_cands)
    cand = side(ok_cands or list(candidates), cand_peprs or [None], settings.resource, scale)
    base_side = side(base, score(base), settings.resource, scale) if base else None
    if ok_cands:
        fails += _budget_reasons(cand, ok_cands, settings)
        if not all(r.telemetry_ok for r in ok_cands):
            unsure.append("The candidate's telemetry measured nothing (telemetry_ok: false), "
                          "so its energy cannot be compared.")
    if ok_cands and not base and not mismatched:
        unsure.append(
            f"No baseline: {ctx.mismatch}." if ctx.mismatch else
            f"No baseline: the base branch {ctx.base_branch or '?'} has no ok run on this "
            "hardware with this config; store one with `pepr-gate run` on that branch."
        )

    change = sigma = spread = None
    needed = None
    if ok_cands and base_side is not None:
        if (settings.resource in ("energy", "carbon") and cand.energy_method
                and base_side.energy_method and cand.energy_method != base_side.energy_method):
            unsure.append(f"Energy was {cand.energy_method} for the candidate but "
                          f"{base_side.energy_method} for the baseline; they are not comparable.")
        elif settings.resource in ("energy", "carbon"):
            unsure += _signature_reasons(ok_cands, base)
        guard = settings.max_performance_drop
        if guard is not None and cand.performance is not None and base_side.performance is not None:
            fell = base_side.performance - cand.performance
            if fell > guard:
                fails.append(
                    f"{settings.performance_name or primary.performance.name} fell {fell:.3f} "
                    f"({base_side.performance:.3f} -> {cand.performance:.3f}), more than the "
                    f"{guard:g} allowed by [gate] max_performance_drop."
                )
        bp = [p for p in score(base) if p is not None and p > 0]
        cp = [p for p in cand_peprs if p is not None and p > 0]
        if not bp or not cp:
            unsure.append(f"{variant} cannot be computed: the {settings.resource} or the "
                          "performance value is missing.")
        else:
            change = hl_change(bp, cp)
            noise_values = [p for p in score(noise) if p is not None and p > 0]
            spread = pooled_spread(noise_values, cp)
            sigma = noise_sigma(spread, len(bp), len(cp))
            moved = (f"{variant} {'fell' if change < 0 else 'rose'} {pct(change)} "
                     f"({base_side.pepr:.3f} -> {cand.pepr:.3f})")
            drop, limit = -change, settings.max_pepr_drop
            times = drop / sigma if sigma else math.inf
            if drop > limit and drop > Z * sigma:
                fails.append(f"{moved}, more than the {pct_limit(limit)} allowed and "
                             f"{times:.1f} x the noise.")
            elif drop > limit:
                needed = repeats_to_settle(drop, spread, len(bp))
                settle = (f"run the candidate {needed} times (`pepr-gate run --repeats {needed}`)"
                          " to settle it" if needed and needed > len(cp) else
                          "more baseline runs are needed to settle it")
                warns.append(f"{moved}, more than the {pct_limit(limit)} allowed but only "
                             f"{times:.1f} x the noise (fail needs {Z:g} x); {settle}.")
            elif change < 0:
                info.append(f"{moved}, within the {pct_limit(limit)} allowed.")
            else:
                info.append(f"{moved}; improvements pass.")

    verdict = "fail" if fails else "inconclusive" if unsure else "warn" if warns else "pass"
    trend_runs = sorted(noise, key=lambda r: r.created_at)[-NOISE_HISTORY:]
    trend = [
        ((r.git.sha[:7] if r.git and r.git.sha else r.id.rsplit("-", 1)[-1][-8:]), p)
        for r, p in zip(trend_runs, score(trend_runs), strict=True) if p is not None
    ]
    methods = [methods_of("candidate", primary)]
    if base:
        methods.append(methods_of("baseline", base[0]))
    return CheckResult(
        created_at=ctx.created_at,
        verdict=verdict,
        reasons=fails + unsure + warns + info,
        variant=variant,
        resource=settings.resource,
        performance_name=settings.performance_name or primary.performance.name,
        candidate=cand,
        baseline=base_side,
        pepr_change=change,
        noise=sigma,
        threshold=settings.max_pepr_drop,
        normalization=None if scale is None else Normalization(
            mode="scale", scale=scale, scale_source=source),
        base_branch=ctx.base_branch,
        head_branch=ctx.head_branch or primary.branch,
        head_sha=primary.git.sha if primary.git else None,
        hardware=primary.hardware,
        methods=methods,
        trend=trend,
        strict=settings.strict,
        config_path=ctx.config_path,
        noise_z=Z if sigma is not None else None,
        spread=spread,
        noise_run_ids=[r.id for r in noise],
        repeats_needed=needed,
        notes=notes,
    )
