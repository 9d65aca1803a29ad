"""The measuring half of `pepr-gate ci`: history mode (fixed or adaptive repeats) or paired A/B.

`[gate] baseline = "history"` (default): the head's runs are compared with the base
branch's stored history. `"paired"` on a pull request: the PR's base commit and its head
run alternately on this runner (`services.ab`); a push has no base commit to pair with
and is compared with its branch's history, said in a notice. `"auto"`: history first;
when the check finds the candidate's conditions differ from the baseline window's
(`decide.conditions`), a pull request then runs the paired A/B on the spot (its cost
printed first) and the pairs decide; a push keeps history's inconclusive, said in a notice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pepr_gate.config import Config
from pepr_gate.errors import InputError, PeprError
from pepr_gate.records import CheckResult, RunRecord
from pepr_gate.services.run import Outcome

if TYPE_CHECKING:
    from pepr_gate.publish.github.context import EventContext
    from pepr_gate.services.ci_options import CiOptions


@dataclass
class CiMeasured:
    outcome: Outcome
    result: CheckResult | None
    notices: list[str] = field(default_factory=list)


def measure(ctx: EventContext, config: Config, opts: CiOptions, store_url: str,
            *, hold_back: bool = False, note: str | None = None) -> CiMeasured:
    """`hold_back`: store nothing yet (the caller stores the runs with the dashboard);
    `note`: added to each run record (which commit was measured)."""
    no_store = ctx.fork or hold_back
    if config.gate.baseline == "paired" and ctx.kind == "pull_request":
        return _paired(ctx, config, opts, store_url, no_store)
    notices = []
    if config.gate.baseline == "paired":
        notices.append("[gate] baseline = \"paired\" needs a pull request's base commit; this "
                       "push is compared with the branch's stored history")
    from pepr_gate.services.adaptive import describe_looks, measure_and_check
    from pepr_gate.services.check import run_check

    def check(candidates: list[RunRecord], looks: int) -> CheckResult:
        return run_check(
            config,
            candidates=candidates,
            baseline_branch=ctx.base_ref if ctx.kind == "pull_request" else ctx.branch,
            head_branch=ctx.branch,
            store_url=store_url,
            threshold=opts.threshold,
            labels=list(ctx.labels),
            max_looks=looks,
            store_must_exist=False,
        )

    measured = measure_and_check(
        config, opts.repeats, check, meter=opts.meter, store_url=store_url,
        no_store=no_store, branch=ctx.branch, sha=ctx.sha, note=note, unstored_ok=True,
    )
    looks = describe_looks(measured, config.run.max_repeats)
    if looks:
        notices.append(looks)
    if measured.outcome.unstored is not None:
        notices.append(unstored_notice(measured.outcome.unstored, store_url))
    done = CiMeasured(measured.outcome, measured.result, notices)
    if config.gate.baseline == "auto":
        return _auto(ctx, config, opts, store_url, no_store, done)
    return done


def _auto(ctx: EventContext, config: Config, opts: CiOptions, store_url: str, no_store: bool,
          history: CiMeasured) -> CiMeasured:
    """`baseline = "auto"`: history's result stands unless the conditions differed; then
    a pull request is decided by a paired A/B against its base commit."""
    result = history.result
    if (history.outcome.error is not None or result is None or not result.conditions_differ
            or result.verdict != "inconclusive"):  # history decided despite the difference
        return history
    why = f"the runner's conditions differ from the baseline window's ({result.conditions_differ})"
    if ctx.kind != "pull_request" or not ctx.base_sha:
        history.notices.append(f"[gate] baseline = \"auto\": {why}, but a push has no base "
                               "commit to pair with: history's inconclusive stands")
        return history
    line = f"[gate] baseline = \"auto\": {why}; switching to a paired A/B against the base commit"
    print(f"pepr-gate: {line}", flush=True)
    try:
        paired = _paired(ctx, config, opts, store_url, no_store)
    except InputError as exc:  # e.g. the base commit cannot be fetched: history's result stands
        history.notices.append(f"{line[0].upper() + line[1:]}, but the paired A/B could not "
                               f"start: {exc.message}; history's inconclusive stands")
        return history
    first, then = history.outcome, paired.outcome
    outcome = Outcome(records=first.records + then.records,
                      record_paths=first.record_paths + then.record_paths,
                      error=then.error, meter_results=first.meter_results + then.meter_results)
    return CiMeasured(outcome, paired.result, [*history.notices, line[0].upper() + line[1:],
                                               *paired.notices])


def unstored_notice(exc: PeprError, store_url: str) -> str:
    """The verdict stands (the history was read); the runs are not in it."""
    from pepr_gate.publish.text import escape_md

    return escape_md(
        f"the runs were NOT stored in {store_url}, so later checks will not see them: "
        f"{exc.message}. Their records are in .pepr/ci/runs/ (upload it as an artifact) "
        "and `pepr-gate history --import FILE...` stores them once the token may push "
        "(`permissions: contents: write`).")


def _paired(ctx: EventContext, config: Config, opts: CiOptions, store_url: str,
            no_store: bool) -> CiMeasured:
    from pepr_gate.services.ab import AbRequest, run_ab

    if not ctx.base_sha:
        raise InputError(
            "[gate] baseline = \"paired\": the event names no base commit for this pull request",
            hint="run on pull_request events, or set [gate] baseline = \"history\"")
    notices: list[str] = []
    req = AbRequest(
        base_ref=ctx.base_sha,
        pairs=opts.repeats if isinstance(opts.repeats, int) else None,
        meter=opts.meter,
        store_url=store_url,
        no_store=no_store,
        base_branch=ctx.base_ref,
        head_branch=ctx.branch,
        head_sha=ctx.sha,
        threshold=opts.threshold,
        labels=ctx.labels,
    )

    def announce(line: str) -> None:  # the cost, up front in the log and in the summary
        print(f"pepr-gate: {line}", flush=True)
        notices.append(line[0].upper() + line[1:])

    done = run_ab(config, req, announce=announce)
    return CiMeasured(done.outcome, done.result, notices)
