"""The decision: `evaluate` gathers the facts of one comparison and runs the rules. No I/O.

The rule (docs/gate.md states it for users):

- Both sides are scored on one scale: `[score.scale]`, else the `[gate.budgets]` ceiling,
  else 2 x the baseline window's median resource value.
- The change is that of the geometric means of each side's PePR (the mean log change),
  tested with Student's t on the pooled spread.
- The per-run spread is measured from the runs (`decide.noise`) or, when they are too
  few, assumed from a prior per energy method, and the report says which.
- The verdict on the change follows `decide.rule` (fail / inconclusive "too noisy to
  decide" / warn / pass); budgets and the performance guardrail fail on their own;
  telemetry and comparability problems make it inconclusive (`decide.rules`).
- A `fail` on a pull request carrying `[gate] accept_label` becomes `accepted`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from pepr_gate.decide import conditions as cond
from pepr_gate.decide import noise as noise_mod
from pepr_gate.decide import rules, sequential
from pepr_gate.decide.rule import ALPHA, Judgement
from pepr_gate.decide.select import NoBaseline, diagnose_given, hardware_label, newest_first
from pepr_gate.decide.settings import Context, Settings
from pepr_gate.decide.stats import geomean, median, noise_sigma, side, t_quantile
from pepr_gate.records import VARIANTS, CheckResult, Normalization, RunRecord
from pepr_gate.score import rescore, resource_value

NOISE_HISTORY = 20  # comparable base runs the spread is measured from (the window's included)
__all__ = ["NOISE_HISTORY", "Context", "Settings", "evaluate", "evaluate_paired",
           "hardware_label"]


def comparable(candidate: RunRecord, runs: Sequence[RunRecord]) -> list[RunRecord]:
    """`ok` runs with the candidate's hardware fingerprint and config hash, newest first."""
    return newest_first(
        r for r in runs
        if r.status == "ok" and r.hardware.fingerprint == candidate.hardware.fingerprint
        and r.config_hash == candidate.config_hash
    )


def _component_method(kind: str, name: str, method: str, detail: str | None) -> str:
    """`gpu 0 measured`, `cpu (rapl) unavailable`: each word once (a component's name often
    starts with its kind, and its detail may repeat what the name already says)."""
    label = name if name.split(" ")[0].lower() == kind.lower() else f"{kind} {name}"
    return f"{label} {method}" + (f" ({detail})" if detail and detail not in label else "")


def methods_of(label: str, record: RunRecord) -> str:
    parts = [
        _component_method(c.kind, c.name, c.method, c.detail)
        for c in record.components if c.counts_toward_total and c.kind != "process"
    ]
    detail = "; ".join(parts) if parts else "no energy components"
    return f"{label} energy {record.resources.energy_method}: {detail}"


def _flagged(run: RunRecord) -> bool:
    return run.low_confidence or run.exclusive is False


class _Scorer:
    def __init__(self, settings: Settings, base: Sequence[RunRecord]) -> None:
        self.resource = settings.resource
        self.scale, self.source = settings.scale, settings.scale_source
        if self.scale is None:
            doubled = median([resource_value(b.resources, self.resource) for b in base])
            if doubled is not None and doubled > 0:
                self.scale, self.source = 2 * doubled, "2x baseline"

    def __call__(self, runs: Sequence[RunRecord]) -> list[float | None]:
        if self.scale is None or self.source is None:
            return [None for _ in runs]
        return [rescore(r, self.resource, self.scale, self.source).pepr for r in runs]


def _positive(values: Sequence[float | None]) -> list[float]:
    return [v for v in values if v is not None and v > 0]


def _compare(facts: rules.Facts, score: _Scorer, settings: Settings,
             cand_peprs: Sequence[float | None]) -> rules.Comparison | None:
    """The PePR judgement, when both sides have scores to compare."""
    window_ids = {b.id for b in facts.base}
    bp, cp = _positive(score(facts.base)), _positive(cand_peprs)
    older = _positive(score([r for r in facts.history if r.id not in window_ids]))
    replayed = facts.primary.meter.startswith("replay")
    key = noise_mod.prior_key(settings.resource, facts.cand.energy_method, replayed)
    if facts.ok_cands and bp and any(p == 0.0 for p in cand_peprs):
        return _fell_to_zero(bp, cp, older, key, len(cand_peprs))
    if not (facts.ok_cands and bp and cp):
        return None
    judgement, noise, change = sequential.decided_yet(
        bp, cp, threshold=settings.max_pepr_drop, max_looks=settings.looks,
        history=older, prior_key=key, widen=bool(facts.flagged))
    return rules.Comparison(change, judgement, noise, (geomean(bp), geomean(cp)),
                            (len(bp), len(cp)))


def _fell_to_zero(bp: Sequence[float], cp: Sequence[float], older: Sequence[float],
                  key: str, runs: int) -> rules.Comparison:
    """A candidate run scored PePR 0 (its performance was 0): a fall of 100%. No
    run-to-run noise turns a positive PePR into 0 (the spread is on a log scale, and the
    resource cannot do it: R is at most 1), so the drop is past any threshold and decided."""
    noise = noise_mod.estimate([[*older, *bp], cp], key)
    j = Judgement("fail", "significant", math.inf, noise_sigma(noise.spread, len(bp), runs),
                  t_quantile(1 - ALPHA, noise.dof if noise.measured else None))
    return rules.Comparison(-1.0, j, noise, (geomean(bp), 0.0), (len(bp), runs))


def _baseline(primary: RunRecord, ok: bool, baselines: Sequence[RunRecord],
              noise_runs: Sequence[RunRecord]) -> tuple[list[RunRecord], list[RunRecord],
                                                        NoBaseline | None, int]:
    """(window, noise history, why the given window is not comparable, runs left out)."""
    given = [b for b in baselines if b.status == "ok"]
    if not ok:
        return given, given, None, 0
    base = comparable(primary, given)
    if given and not base:
        return [], [], diagnose_given(primary, given), 0
    ids = {b.id for b in base}
    history = [r for r in comparable(primary, noise_runs) if r.id not in ids] + base
    return base, history, None, len(given) - len(base)


def prepare(candidates: Sequence[RunRecord], baselines: Sequence[RunRecord],
            noise_runs: Sequence[RunRecord], settings: Settings) -> tuple[rules.Facts, _Scorer]:
    ok_cands = [c for c in candidates if c.status == "ok"]
    primary = max(ok_cands or candidates, key=lambda r: r.created_at)
    base, history, mismatch, left_out = _baseline(primary, bool(ok_cands), baselines,
                                                  noise_runs)
    score = _Scorer(settings, base)
    cand_peprs = score(ok_cands)
    base_side = side(base, score(base), settings.resource, score.scale) if base else None
    if base_side is not None:
        base_side = base_side.model_copy(update=cond.side_fields(base))
    cands = ok_cands or list(candidates)
    facts = rules.Facts(
        candidates=candidates, ok_cands=ok_cands, primary=primary, base=base, history=history,
        given_mismatch=mismatch, left_out=left_out,
        base_side=base_side,
        cand=side(cands, cand_peprs or [None], settings.resource, score.scale).model_copy(
            update=cond.side_fields(cands)),
        flagged=sum(_flagged(r) for r in [*ok_cands, *base]),
        all_cands_shared=bool(ok_cands) and all(r.exclusive is False for r in ok_cands),
        variant=VARIANTS[settings.resource],
        scale=score.scale, scale_source=score.source,
    )
    if base:
        facts.comparison = _compare(facts, score, settings, cand_peprs)
    return facts, score


def _accept(verdict: str, settings: Settings, ctx: Context) -> rules.Reason | None:
    if verdict != "fail" or settings.accept_label not in ctx.labels:
        return None
    return rules.Reason("info", "accepted",
                        f"Accepted: the pull request carries the label '{settings.accept_label}' "
                        "([gate] accept_label), so this fail is taken as an intended "
                        "regression and the check passes.")


def evaluate(
    candidates: Sequence[RunRecord],
    baselines: Sequence[RunRecord],
    noise_runs: Sequence[RunRecord],
    settings: Settings,
    ctx: Context,
) -> CheckResult:
    """Decide pass / warn / fail / inconclusive (or accepted) for `candidates`.

    `baselines` is the window to compare with; `noise_runs` the longer history of
    comparable base runs (the window included) that the spread is measured from.
    """
    facts, score = prepare(candidates, baselines, noise_runs, settings)
    return _decide(facts, score, settings, ctx)


def _decide(facts: rules.Facts, score: _Scorer, settings: Settings,
            ctx: Context) -> CheckResult:
    """Every rule over the facts, the accept label, and the result."""
    found = [r for rule in rules.RULES for r in rule(facts, settings, ctx)]
    found, differ = cond.history_can_decide(found, facts, settings.resource,
                                            ctx.base_branch, settings.max_pepr_drop)
    found.sort(key=lambda r: rules.ORDER[r.level])
    verdict = rules.verdict_of(found)
    accepted = _accept(verdict, settings, ctx)
    if accepted is not None:
        verdict, found = "accepted", [accepted, *found]
    result = _result(facts, score, settings, ctx, verdict, found, accepted is not None)
    update: dict[str, Any] = {"conditions_differ": differ,
                              "baseline_mode": "paired" if facts.paired else "history"}
    if differ is not None:  # more candidate repeats under this load would not settle it
        update["repeats_needed"] = None
    return result.model_copy(update=update)


def _trend(f: rules.Facts, score: _Scorer) -> list[tuple[str, float]]:
    runs = sorted(f.history, key=lambda r: r.created_at)[-NOISE_HISTORY:]
    return [
        ((r.git.sha[:7] if r.git and r.git.sha else r.id.rsplit("-", 1)[-1][-8:]), p)
        for r, p in zip(runs, score(runs), strict=True) if p is not None
    ]


def _comparison_fields(comp: rules.Comparison | None) -> dict[str, Any]:
    if comp is None:
        return {}
    j, noise = comp.judgement, comp.noise
    return {"pepr_change": comp.change, "noise": j.sigma, "noise_z": j.q,
            "spread": noise.spread, "repeats_needed": j.repeats_needed,
            "noise_source": noise.source, "noise_runs": noise.runs}


def _no_baseline_fields(f: rules.Facts, ctx: Context) -> dict[str, Any]:
    nb = ctx.no_baseline if f.ok_cands and not f.base else f.given_mismatch
    if nb is None:
        return {}
    return {"no_baseline": nb.kind, "changed_config_keys": nb.changed_keys}


def _result(f: rules.Facts, score: _Scorer, settings: Settings, ctx: Context, verdict: str,
            found: list[rules.Reason], accepted: bool) -> CheckResult:
    primary = f.primary
    methods = [methods_of("candidate", primary)]
    if f.base:
        methods.append(methods_of("baseline", f.base[0]))
    return CheckResult.model_validate({
        "created_at": ctx.created_at,
        "verdict": verdict,
        "reasons": [r.text for r in found if r.level != "note"],
        "reason_codes": [r.code for r in found if r.level != "note"],
        "variant": f.variant,
        "resource": settings.resource,
        "performance_name": settings.performance_name or primary.performance.name,
        "candidate": f.cand,
        "baseline": f.base_side,
        "threshold": settings.max_pepr_drop,
        "normalization": None if score.scale is None else Normalization(
            mode="scale", scale=score.scale, scale_source=score.source),
        "base_branch": ctx.base_branch,
        "head_branch": ctx.head_branch or primary.branch,
        "head_sha": primary.git.sha if primary.git else None,
        "hardware": primary.hardware,
        "methods": methods,
        "trend": _trend(f, score),
        "strict": settings.strict,
        "config_path": ctx.config_path,
        "noise_run_ids": [r.id for r in f.history],
        "notes": [*ctx.notes, *(r.text for r in found if r.level == "note")],
        "labels": list(ctx.labels),
        "accepted_by": settings.accept_label if accepted else None,
        **_comparison_fields(f.comparison),
        **_no_baseline_fields(f, ctx),
    })


def evaluate_paired(base: Sequence[RunRecord], head: Sequence[RunRecord],
                    noise_runs: Sequence[RunRecord], settings: Settings,
                    ctx: Context) -> CheckResult:
    """Paired A/B: base[i] and head[i] ran back to back on one runner (ABBA order).

    The same rules as `evaluate` (budgets, guardrail, telemetry, accept label), with the
    PePR judgement made on the per-pair changes (`decide.paired`) instead of two samples;
    of `noise_runs` (older comparable base runs) only older paired sessions' runs join the
    spread, each session around its own mean.
    """
    facts, score = prepare(head, base, noise_runs, settings)
    facts.paired = True
    facts.comparison = _paired_comparison(facts, score, base, head, settings)
    return _decide(facts, score, settings, ctx)


def _paired_comparison(facts: rules.Facts, score: _Scorer, base: Sequence[RunRecord],
                       head: Sequence[RunRecord], settings: Settings) -> rules.Comparison | None:
    """The PePR judgement on the per-pair changes; None when no pair can be scored."""
    from pepr_gate.decide.paired import decide_paired

    scored = _scored_pairs(score(base), score(head))
    pairs = [(b, h) for b, h in scored if h > 0]
    key = noise_mod.prior_key(settings.resource, facts.cand.energy_method,
                              facts.primary.meter.startswith("replay"))
    if not (facts.base and facts.ok_cands and scored):
        return None
    if len(pairs) < len(scored):  # a head scored 0
        return _fell_to_zero([b for b, _ in scored], [h for _, h in pairs], [], key,
                             len(scored))
    sessions = _older_sessions(facts, score)
    bs, hs = [b for b, _ in pairs], [h for _, h in pairs]
    done = decide_paired(bs, hs, settings.max_pepr_drop, prior_key=key,
                         widen=bool(facts.flagged), sessions=sessions)
    return rules.Comparison(done.change, done.judgement, done.noise,
                            (geomean(bs), geomean(hs)), (len(bs), len(hs)))


def _scored_pairs(base: Sequence[float | None],
                  head: Sequence[float | None]) -> list[tuple[float, float]]:
    """The pairs with both scores, the base's positive (a head may score 0)."""
    return [(b, h) for b, h in zip(base, head, strict=True)
            if b is not None and h is not None and b > 0]


def _older_sessions(facts: rules.Facts, score: _Scorer) -> list[list[float]]:
    """PePR of older paired sessions' runs, one list per session; unpaired history runs
    (other hours, other loads) never join a paired spread."""
    ids = {b.id for b in facts.base}
    own = {r.paired.session for r in facts.base if r.paired is not None}
    by_session: dict[str, list[RunRecord]] = {}
    for r in facts.history:
        if r.id not in ids and r.paired is not None and r.paired.session not in own:
            by_session.setdefault(r.paired.session, []).append(r)
    return [_positive(score(runs)) for runs in by_session.values()]
