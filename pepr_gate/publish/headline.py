"""The words around a verdict, shared by the PR comment and the terminal.

`headline` names what decided it: the budget that was exceeded, the guardrail, or the
PePR change; a budget failure never reads "PePR-E -0.0%". `next_step` ends an
inconclusive result with what to do about it. Both ask the gate's reasons by their
codes (`publish.said`), never by their wording.
"""

from __future__ import annotations

from collections.abc import Callable

from pepr_gate import units
from pepr_gate.publish.said import Said
from pepr_gate.records import CheckResult

BUDGET_NAMES = {"energy_kwh": "energy", "carbon_kg": "carbon", "duration_s": "wall time",
                "gpu_memory_gb": "GPU memory"}


def headline(result: CheckResult) -> str:
    """Plain text (the caller escapes it): `energy over budget`, `PePR-E -11.1%`, or both."""
    said = Said(result)
    budgets = [BUDGET_NAMES.get(key, key) for key in said.budgets()]
    parts = [f"{' and '.join(budgets)} over budget"] if budgets else []
    if said.guardrail():
        parts.append(f"{result.performance_name} below the guardrail")
    change = None if result.pepr_change is None else f"{result.pepr_change * 100:+.1f}%"
    if change is not None and (not parts or change not in ("+0.0%", "-0.0%")):
        parts.append(f"{result.variant} {change}")  # beside a budget only when it moved
    return " · ".join(parts) or f"{result.variant} not compared"


def next_step(result: CheckResult, quote: Callable[[str], str] = str,
              local: bool = False) -> str | None:
    """What to do about an inconclusive result (None for any other verdict). `quote`
    escapes what a PR author controls (branch and config key names) for the channel.
    `local` words it for a terminal outside CI: the commands to type, not "re-run this job"."""
    if result.verdict != "inconclusive":
        return None
    base = quote(result.base_branch) if result.base_branch else "the base branch"
    if local:
        step = _local_step(result, base)
        if step is not None:
            return step
    return _ci_step(result, base, quote)


def _local_step(result: CheckResult, base: str) -> str | None:
    """The steps that differ on a workstation; None where the CI wording already fits."""
    said = Said(result)

    def seed(why: str, then: str) -> str:
        return (f"check out {base} and store a baseline{why} of several runs "
                f"(`pepr-gate run --repeats 5`), then check out your branch again and {then}")

    if result.conditions_differ and said.conditions_differ():  # before "History alone
        # said: ... too noisy", which the runner's load made so: pairs cancel the load
        return (f"compare in pairs on this runner, where the load cancels: `pepr-gate ab "
                f"--base {base}` runs {base} and your branch alternately, then decides.")
    if said.too_noisy():
        n = result.repeats_needed
        if n:
            return (f"measure the candidate {n} times (`pepr-gate run --repeats {n}`), then "
                    "run `pepr-gate check` again.")
        return seed("", "run `pepr-gate run --repeats 3` and `pepr-gate check`.")
    if said.shared_gpu():
        return "run again when nothing else uses the GPU, then `pepr-gate check`."
    if said.candidate_failed():
        return "fix the failed run (`pepr-gate run` printed its output), then run it again."
    if result.no_baseline is not None or said.no_baseline():
        kind = result.no_baseline or ""
        why = (" for the new config" if "config" in kind else
               " on this machine" if "hardware" in kind else "")
        return seed(why, "run `pepr-gate check` (or measure both sides here: `pepr-gate ab`).")
    if said.energy_differs():
        return ("measure both sides the same way (same meter and permissions): `pepr-gate ab` "
                "runs the base and your branch here, one after the other.")
    if said.telemetry() or said.no_score() or said.paired_pairs():
        return None
    return "store more runs (`pepr-gate run --repeats 3`), then run `pepr-gate check` again."


def _ci_step(result: CheckResult, base: str, quote: Callable[[str], str]) -> str:
    said = Said(result)
    if said.candidate_failed():
        return "fix the failed run (this job's log shows its output), then push again."
    if result.conditions_differ and said.conditions_differ():
        return ("compare in pairs on this runner, where the load cancels: set [gate] "
                "baseline = \"auto\" (pairs only when the conditions differ) or \"paired\", "
                f"or run `pepr-gate ab --base {base}` locally.")
    if said.telemetry():
        return ("run `pepr-gate probe` on the runner: it names the sensor that measured "
                "nothing and how to enable it.")
    if said.too_noisy_paired():
        n = result.repeats_needed
        return (f"run the A/B again with {n} pairs (`pepr-gate ab --pairs {n}`)." if n else
                "re-run `pepr-gate ab` on a quieter runner (an idle GPU, one job at a time): "
                "more pairs would not decide it.")
    if said.too_noisy():
        n = result.repeats_needed
        return (f"measure the candidate {n} times (`pepr-gate run --repeats {n}`, or the "
                f"Action's `repeats: {n}`), then re-run this job." if n else
                f"store more runs on {base} (each push measures one; a manual run of the "
                "seeding workflow stores several at once), then re-run this job.")
    if said.shared_gpu():
        return "re-run this job on an idle GPU (a runner that runs one job at a time)."
    if said.energy_differs():
        return ("measure the baseline and the candidate the same way (same meter and "
                f"permissions), e.g. by re-running {base}'s job on this runner.")
    if result.no_baseline is not None or said.no_baseline():
        return _baseline_step(result, base, quote)
    if said.no_score():
        return ("check that the metrics file holds the performance key and that the "
                "scored resource was measured (`pepr-gate run` prints both).")
    return "re-run this job for more runs; `pepr-gate check` prints the same details locally."


def _baseline_step(result: CheckResult, base: str, quote: Callable[[str], str]) -> str:
    kind = result.no_baseline or ""
    then = "then re-run this job."
    if "config" in kind:
        keys = ", ".join(map(quote, result.changed_config_keys)) or "the config"
        return (f"rebuild the baseline for the new config ({keys} changed): run this "
                f"workflow on {base} (a push or a manual run), {then}")
    if "hardware" in kind:
        return (f"measure {base} once on this runner (a manual run of this workflow on "
                f"{base}), or pin this job to the runner {base} was measured on; {then}")
    return (f"store a baseline: let this workflow run on a push to {base}, or store "
            "several runs at once (the seeding workflow, or `pepr-gate run --repeats 5` "
            f"there on this runner), {then}")


def noise_source(result: CheckResult) -> str:
    """'measured from N runs' or 'assumed (N runs)': whether the spread is a measurement."""
    if result.noise_source == "assumed":
        return f"assumed ({result.noise_runs} runs, too few to measure it)"
    if result.noise_source == "measured":
        from pepr_gate.publish.conditions_text import noise_suffix

        return f"measured from {result.noise_runs} runs{noise_suffix(result)}"
    return f"from {len(result.noise_run_ids)} base run(s) and the candidate's repeats"


def pepr_change(result: CheckResult, strong: Callable[[str], str] = str) -> str:
    """The gate's PePR change, of geometric means, for the change column of every table
    (the comment's and the terminal's); said so where the medians shown in the same row
    would read as another change, so the row never contradicts itself. `strong` marks the
    figure up (bold in Markdown)."""
    if result.pepr_change is None:
        return units.MISSING
    figure = f"{result.pepr_change * 100:+.1f}%"
    b, c = result.baseline, result.candidate
    medians = units.change(c.pepr, None if b is None else b.pepr)
    if medians in (units.MISSING, figure):
        return strong(figure)
    return f"{strong(figure)} (geometric means; medians {medians})"
