"""Whether the candidate and the baseline window ran under the same conditions. Pure.

A comparison with stored history assumes the runner was as busy for the candidate as it
was for the base runs. On a shared runner it often is not, and the load moves the figures
that history compares: on a shared 2-core runner the same code's CPU-estimated energy rose
about 3.3% per unit of load average (6.90 mWh at load < 2.5, 8.90 mWh at load > 7), so a
busy hour read as a regression, "fail" at 9-11x the noise. Pairs run back to back on one
runner (`pepr-gate ab`) cancel the load; history cannot.

The conditions differ when, comparing the medians of each side's recorded conditions,

- the load average differs by more than LOAD_PER_CPU = 0.5 per logical CPU (1.0 on a
  2-core runner: about 3.3% of estimated energy, two thirds of the default 5% threshold), or
- the share of CPU time other processes used differs by more than OTHER_SHARE = 0.25, or
- the job's wall/CPU ratio differs by more than a factor RATIO_FACTOR = 1.5 (it queued
  for a CPU on one side and not on the other).

The load moves energy one way: a busier runner reads more. So the rule looks at the
direction too (`verdict_stands`): a candidate that passed while busier than the window,
or failed while quieter, keeps its verdict with a note; a drop measured on a busier
runner, a pass on a quieter one, or measures that disagree become inconclusive.

The share and the ratio count only from runs of at least MIN_WINDOW_S = 0.5 s (100 clock
ticks of `/proc/stat` on 2 CPUs; shorter windows are mostly the job's start-up). Runs that
recorded no conditions (older records) compare as unknown, never as different. Peak GPU
memory and parameter counts do not move with load, and replayed energy is a recording:
those are never affected.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from pepr_gate.decide import rules
from pepr_gate.records import Conditions, RunRecord

LOAD_PER_CPU = 0.5
OTHER_SHARE = 0.25
RATIO_FACTOR = 1.5
MIN_WINDOW_S = 0.5
AFFECTED = ("energy", "carbon", "time")


def _median(values: Sequence[float | int | None]) -> float | None:
    found = [float(v) for v in values if v is not None]
    return statistics.median(found) if found else None


def summary(runs: Sequence[RunRecord]) -> Conditions | None:
    """The median of each recorded condition over `runs`; None when none recorded any."""
    seen = [r.conditions for r in runs if r.conditions is not None]
    if not seen:
        return None
    long = [r.conditions for r in runs
            if r.conditions is not None and r.resources.duration_s >= MIN_WINDOW_S]
    cpus = _median([c.cpu_count for c in seen])
    return Conditions(
        load_start=_median([c.load_start for c in seen]),
        load_end=_median([c.load_end for c in seen]),
        other_cpu_share=_median([c.other_cpu_share for c in long]),
        wall_cpu_ratio=_median([c.wall_cpu_ratio for c in long]),
        gpu_temperature_c=_median([c.gpu_temperature_c for c in seen]),
        cpu_count=None if cpus is None else int(cpus),
    )


def side_fields(runs: Sequence[RunRecord]) -> dict[str, Any]:
    """What a check result's side carries about when and how its runs ran."""
    if not runs:
        return {}
    times = [r.created_at for r in runs]
    return {"conditions": summary(runs), "oldest_at": min(times), "newest_at": max(times)}


def applies(resource: str, record: RunRecord) -> bool:
    """Does the load move this comparison's resource at all?"""
    return resource in AFFECTED and not record.meter.startswith("replay")


def load_text(c: Conditions | None) -> str:
    load = None if c is None else c.load
    return "?" if load is None else f"{load:.1f}"


def _apart(a: float | None, b: float | None, bound: float, factor: bool = False) -> bool:
    if a is None or b is None:
        return False
    if factor:
        return a > 0 and b > 0 and max(a / b, b / a) > bound
    return abs(a - b) > bound


def _sign(a: float | None, b: float | None, bound: float, factor: bool = False) -> int:
    """+1 when `a` is beyond the bound above `b`, -1 below, 0 within (or unknown)."""
    if not _apart(a, b, bound, factor):
        return 0
    assert a is not None and b is not None
    return 1 if a > b else -1


def direction(cand: Conditions | None, base: Conditions | None) -> int | None:
    """None when the conditions match (or either side recorded none); +1 when the
    candidate ran busier than the baseline on every measure that differs, -1 when quieter,
    0 when the measures disagree."""
    if cand is None or base is None:
        return None
    cpus = cand.cpu_count or base.cpu_count or 1
    signs = {_sign(cand.load, base.load, LOAD_PER_CPU * cpus),
             _sign(cand.other_cpu_share, base.other_cpu_share, OTHER_SHARE),
             _sign(cand.wall_cpu_ratio, base.wall_cpu_ratio, RATIO_FACTOR, factor=True)} - {0}
    if not signs:
        return None
    return signs.pop() if len(signs) == 1 else 0


def differ(cand: Conditions | None, base: Conditions | None) -> str | None:
    """How the candidate's conditions differ from the baseline's beyond the bounds, in
    words ("the candidate ran at load 8.1, the baseline at 1.3 ..."); None when they
    match or either side recorded none."""
    if direction(cand, base) is None:
        return None
    assert cand is not None and base is not None
    cpus = cand.cpu_count or base.cpu_count or 1
    cs, bs = cand.other_cpu_share, base.other_cpu_share
    cr, br = cand.wall_cpu_ratio, base.wall_cpu_ratio
    parts = [f"the candidate ran at load {load_text(cand)}, the baseline at {load_text(base)} "
             f"({cpus} CPUs)"]
    if cs is not None and bs is not None:
        parts.append(f"other processes used {cs * 100:.0f}% of the CPU time vs {bs * 100:.0f}%")
    if cr and br:
        parts.append(f"wall/CPU time {cr:.1f} vs {br:.1f}")
    return "; ".join(parts)


def verdict_stands(said: Sequence[rules.Reason], towards: int) -> bool:
    """Whether history's verdict holds although the conditions differ. A busier runner
    raises the energy it reads, a quieter one lowers it. So a candidate that passed
    although it ran busier than the baseline passed on the code (the load could only have
    hidden an improvement), and one that failed although it ran quieter failed on the
    code. The other cases (a warn either way: the drop may be the load's, or larger than
    read), and measures that disagree, are not decided by history."""
    failed = any(r.level == "fail" for r in said)
    passed = not any(r.level in ("fail", "warn", "unsure") for r in said)
    return (towards > 0 and passed) or (towards < 0 and failed)


# The reasons that judge the PePR change itself (budgets and the guardrail are not).
_CHANGE_CODES = ("pepr-drop", "pepr-within", "pepr-under-threshold", "too-noisy", "shared-gpu")


def _compared(facts: rules.Facts, resource: str) -> tuple[str, int, float] | None:
    """(the difference in words, its direction, the PePR change) when a history comparison
    ran under other conditions; None when the rule does not apply."""
    if (facts.paired or facts.comparison is None or facts.base_side is None
            or not applies(resource, facts.primary)):
        return None
    cand, base = facts.cand.conditions, facts.base_side.conditions
    text, towards = differ(cand, base), direction(cand, base)
    if text is None or towards is None:
        return None
    return text, towards, facts.comparison.change


def performance_drop(facts: rules.Facts) -> float | None:
    """The PePR drop with the candidate's resource replaced by the baseline's:
    1 - (P_c / (1 + R_b)) / (P_b / (1 + R_b)) = 1 - P_c / P_b. The load moves the
    resource, never P, so this part of a drop is the code's whatever the runner did."""
    b = facts.base_side.performance if facts.base_side else None
    c = facts.cand.performance
    if b is None or c is None or b <= 0:
        return None
    return 1.0 - c / b


def _p_alone_fails(said: Sequence[rules.Reason], facts: rules.Facts, threshold: float) -> bool:
    """A failed drop that the performance alone puts past the threshold stands."""
    drop = performance_drop(facts)
    return (any(r.level == "fail" for r in said) and drop is not None
            and drop > threshold)


def history_can_decide(found: list[rules.Reason], facts: rules.Facts, resource: str,
                       base_branch: str | None, threshold: float,
                       ) -> tuple[list[rules.Reason], str | None]:
    """(the reasons, the difference): in history mode, a change measured under other
    conditions than the window's is not judged on the resource alone. Its verdict is
    inconclusive, naming the difference and the next step; what history alone said
    stays as a note. Budgets and the guardrail still fail, and so does a drop that the
    performance alone (the resource held at the baseline's) puts past `threshold`: the
    load can excuse only the part of a change that the resource explains."""
    compared = _compared(facts, resource)
    if compared is None:
        return found, None
    text, towards, change = compared
    moved = f"{facts.variant} {'fell' if change < 0 else 'rose'} {rules.pct(change)}"
    kept = [r for r in found if r.code not in _CHANGE_CODES]
    said = [r for r in found if r.code in _CHANGE_CODES]
    if _p_alone_fails(said, facts, threshold):
        drop = performance_drop(facts) or 0.0
        held = rules.Reason(
            "note", "conditions-held",
            f"The runner's conditions differ ({text}), but the load moves the {resource}, "
            f"never the performance: with the baseline's {resource} in both, "
            f"{facts.variant} still falls {rules.pct(drop)} (the performance's own fall), "
            f"more than the {rules.pct_limit(threshold)} allowed, so the verdict stands.")
        return [*found, held], text
    if verdict_stands(said, towards):
        busier = "busier" if towards > 0 else "quieter"
        held = rules.Reason(
            "note", "conditions-held",
            f"The runner's conditions differ ({text}), but the candidate ran {busier} than "
            "the baseline, which could only have moved the figures against this verdict, "
            "so it stands.")
        return [*found, held], text
    unsure = rules.Reason(
        "unsure", "conditions",
        f"{moved}, but the runner's conditions differ: {text}. Against stored history such a "
        "change measures the load as much as the code (bounds: docs/gate.md, Conditions). "
        "Next step: compare in pairs on this runner (`pepr-gate ab --base "
        f"{base_branch or 'BASE'}`, or [gate] baseline = \"auto\" or \"paired\" in CI).")
    notes = [rules.Reason("note", "history-alone", f"History alone said: {r.text}")
             for r in said]
    return [*kept, unsure, *notes], text
