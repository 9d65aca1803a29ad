"""Measure, then check: a fixed number of repeats, or `repeats = "auto"`.

With "auto" the candidate runs one repeat at a time; after each, the gate is asked
whether the verdict is decided (`decide.sequential.stop`: pass, fail, or nothing more
repeats could change; warn looks again) and the loop ends as soon as it is, or at
`[run] max_repeats`. Look n tests at its share of the false-alarm rate
(`decide.sequential.look_levels`), so stopping early never raises it; that is why `check`
is told `max_looks`, and why each repeat's record carries `adaptive_looks`: a later
`pepr-gate check` of the group judges it at the same levels.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pepr_gate.config import Config
from pepr_gate.records import CheckResult, RunRecord
from pepr_gate.services.run import Outcome, execute

Repeats = int | Literal["auto"] | None
# check(ok candidate runs, max_looks) -> the gate's result
Check = Callable[[list[RunRecord], int], CheckResult]


@dataclass
class Measured:
    outcome: Outcome
    result: CheckResult | None  # None when the job failed before a check could be made
    adaptive: bool
    looks: int


def resolve_repeats(config: Config, given: Repeats) -> int | Literal["auto"]:
    return given if given is not None else config.run.repeats


def measure_and_check(config: Config, repeats: Repeats, check: Check,
                      **execute_args: Any) -> Measured:
    """Run the stages (`execute_args` go to `services.run.execute`) and check the runs."""
    wanted = resolve_repeats(config, repeats)
    if wanted != "auto":
        outcome = execute(config, repeats=wanted, **execute_args)
        if outcome.error is not None:
            return Measured(outcome, None, False, 0)
        return Measured(outcome, check(_ok(outcome), 1), False, 1)
    from pepr_gate.decide.sequential import stop

    most = config.run.max_repeats
    group = secrets.token_hex(4) if most > 1 else None
    total = Outcome()
    result: CheckResult | None = None
    for i in range(most):
        step = execute(config, repeats=1, repeat_group=group, first_index=i,
                       label={"adaptive_looks": most}, **execute_args)
        total.records += step.records
        total.record_paths += step.record_paths
        total.meter_results += step.meter_results
        if step.unstored is not None:
            total.unstored = step.unstored
            execute_args = {**execute_args, "no_store": True}  # kept as files from now on
        if step.error is not None:
            total.error = step.error
            return Measured(total, None, True, i)
        result = check(_ok(total), most)
        if stop(result, i + 1, most):
            return Measured(total, result, True, i + 1)
    return Measured(total, result, True, most)


def _ok(outcome: Outcome) -> list[RunRecord]:
    return [r for r in outcome.records if r.status == "ok"]


def describe_looks(measured: Measured, most: int) -> str | None:
    """A sentence for the report: how many repeats the adaptive loop ran, and why it stopped."""
    if not measured.adaptive or measured.result is None:
        return None
    from pepr_gate.decide.sequential import decided

    n = measured.looks
    runs = f"{n} candidate repeat{'s' if n != 1 else ''}"
    if measured.result.verdict != "inconclusive" and decided(measured.result):
        return f"Adaptive repeats: stopped after {runs}, the verdict was decided."
    if decided(measured.result):
        return (f"Adaptive repeats: stopped after {runs}: more repeats could not change the "
                "verdict.")
    if measured.result.verdict == "warn":
        return (f"Adaptive repeats: stopped at the maximum of {runs} ([run] max_repeats = "
                f"{most}); the drop stayed under the threshold without being bounded (warn).")
    return (f"Adaptive repeats: stopped at the maximum of {runs} ([run] max_repeats = {most}) "
            "without a decision.")
