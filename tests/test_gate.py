"""The decision rule: what verdict a user gets, and the sentence that explains it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

import pytest

from pepr_gate.config import Config, parse_config
from pepr_gate.decide import gate, noise, rule
from pepr_gate.records import Resources, RunRecord

NOW = datetime(2025, 6, 1, tzinfo=timezone.utc)
Make = Callable[..., RunRecord]


def decide(cands: list[RunRecord], base: list[RunRecord], config: Config | None = None,
           **kw: object) -> tuple[str, list[str]]:
    settings = gate.Settings.from_config(config or Config())
    res = gate.evaluate(cands, base, base, settings,
                        gate.Context(created_at=NOW, base_branch="main", **kw))  # type: ignore[arg-type]
    return res.verdict, res.reasons


def cfg(**gate_keys: object) -> Config:
    return parse_config({"gate": gate_keys}, source="test", root=".")


def window(make: Make, p: float = 0.90, n: int = 5) -> list[RunRecord]:
    return [make(performance=p * (1 + 0.002 * (i - 2))) for i in range(n)]


def test_clear_drop_fails_with_a_sentence(make_record: Make) -> None:
    verdict, reasons = decide([make_record(branch="pr", performance=0.80)], window(make_record))
    assert verdict == "fail"
    assert reasons[0].startswith("PePR-E fell 11.1% (0.600 -> 0.533), more than the 5% allowed")
    assert "x the noise" in reasons[0]


def test_small_drop_and_improvement_pass(make_record: Make) -> None:
    assert decide([make_record(performance=0.88)], window(make_record))[0] == "pass"
    verdict, reasons = decide([make_record(performance=0.95)], window(make_record))
    assert verdict == "pass" and "rose" in reasons[0]


def test_drop_past_threshold_within_noise_is_inconclusive_with_repeats(make_record: Make) -> None:
    noisy = [make_record(performance=p) for p in (0.80, 0.95, 0.86, 0.99, 0.90)]
    settings = gate.Settings.from_config(Config())
    res = gate.evaluate([make_record(performance=0.78)], noisy, noisy, settings,
                        gate.Context(created_at=NOW, base_branch="main"))
    assert res.verdict == "inconclusive"  # never a silent "warn" (exit 0) past the threshold
    assert "too noisy to decide" in res.reasons[0] and "x the noise" in res.reasons[0]
    assert res.repeats_needed is not None and res.repeats_needed > 1
    assert f"--repeats {res.repeats_needed}" in res.reasons[0]
    assert res.noise_source == "measured" and res.noise_runs == 6


def test_warn_only_for_a_drop_under_the_threshold(make_record: Make) -> None:
    base = [make_record(performance=p) for p in (0.88, 0.92, 0.89, 0.91, 0.90)]
    verdict, reasons = decide([make_record(performance=0.88)], base)
    assert verdict == "warn"
    assert reasons[0].startswith("PePR-E fell 2.2%") and "within the 5% allowed" in reasons[0]


def test_repeats_narrow_the_noise(make_record: Make) -> None:
    base = [make_record(performance=p) for p in (0.86, 0.93, 0.88, 0.95, 0.90)]
    one = decide([make_record(performance=0.80)], base)[0]
    reps = [make_record(performance=p, repeat_group="g", repeat_index=i)
            for i, p in enumerate((0.80, 0.805, 0.795, 0.80, 0.81))]
    assert (one, decide(reps, base)[0]) == ("inconclusive", "fail")


def test_one_outlier_repeat_does_not_fail(make_record: Make) -> None:
    reps = [make_record(performance=p) for p in (0.90, 0.60, 0.91)]
    settings = gate.Settings.from_config(Config())
    res = gate.evaluate(reps, window(make_record), [], settings, gate.Context(created_at=NOW))
    # The wild repeat pulls the mean down, but it widens the measured spread as much.
    assert res.verdict == "inconclusive" and "too noisy to decide" in res.reasons[0]


def test_no_baseline_is_inconclusive(make_record: Make) -> None:
    verdict, reasons = decide([make_record()], [])
    assert verdict == "inconclusive" and reasons[0].startswith("No baseline")


def test_other_hardware_says_what_differs(make_record: Make) -> None:
    verdict, reasons = decide([make_record(fingerprint="hw-other")], window(make_record))
    assert verdict == "inconclusive"
    assert "hardware differs" in reasons[0] and "hw-other" in reasons[0]
    verdict, reasons = decide([make_record(config_hash="cfg-other")], window(make_record))
    assert "config hash differs" in reasons[0]


def test_failed_candidate_and_dead_telemetry_are_inconclusive(make_record: Make) -> None:
    verdict, reasons = decide([make_record(status="failed")], window(make_record))
    assert verdict == "inconclusive" and "failed" in reasons[0]
    verdict, reasons = decide([make_record(telemetry_ok=False)], window(make_record))
    assert verdict == "inconclusive" and "telemetry_ok: false" in " ".join(reasons)


def test_measured_vs_estimated_energy_is_inconclusive(make_record: Make) -> None:
    cand = make_record()
    cand = cand.model_copy(update={"resources": cand.resources.model_copy(
        update={"energy_method": "estimated"})})
    verdict, reasons = decide([cand], window(make_record))
    assert verdict == "inconclusive" and "estimated for the candidate" in " ".join(reasons)


def test_budget_fails_even_without_baseline(make_record: Make) -> None:
    verdict, reasons = decide([make_record(energy_kwh=0.03)], [], cfg(budgets={"energy_kwh": 0.02}))
    assert verdict == "fail"
    assert reasons[0] == "Energy 30 Wh is over the budget of 20 Wh ([gate.budgets] energy_kwh)."
    over = make_record(duration_s=900.0)
    assert decide([over], [], cfg(budgets={"duration_s": 600.0}))[0] == "fail"


def test_budget_reason_tells_tiny_and_close_numbers_apart(make_record: Make) -> None:
    # A CPU-sized job used to read "Energy 0.0000 kWh is over the budget of 0.0000 kWh".
    tiny = make_record(energy_kwh=3.57e-5, duration_s=1.04)
    budgets = {"energy_kwh": 3e-5, "duration_s": 1.0}
    verdict, reasons = decide([tiny], [], cfg(budgets=budgets))
    assert verdict == "fail"
    assert reasons[0] == ("Energy 35.7 mWh is over the budget of 30 mWh "
                          "([gate.budgets] energy_kwh).")
    assert reasons[1] == "Wall time 1.04 s is over the budget of 1 s ([gate.budgets] duration_s)."
    close = make_record(energy_kwh=2.0004)
    _, reasons = decide([close], [], cfg(budgets={"energy_kwh": 2.0}))
    assert reasons[0].startswith("Energy 2.0004 kWh is over the budget of 2 kWh")


def test_performance_guardrail_fails_whatever_pepr_does(make_record: Make) -> None:
    cheap = make_record(performance=0.86, energy_kwh=0.002)  # PePR rises, accuracy falls
    verdict, reasons = decide([cheap], window(make_record), cfg(max_performance_drop=0.02))
    assert verdict == "fail"
    assert reasons[0].startswith("accuracy fell 0.040 (0.900 -> 0.860)")


def test_scale_comes_from_config_then_budget_then_baseline(make_record: Make) -> None:
    def scale(config: Config) -> tuple[float | None, str | None]:
        res = gate.evaluate([make_record()], window(make_record), [],
                            gate.Settings.from_config(config), gate.Context(created_at=NOW))
        assert res.normalization is not None
        return res.normalization.scale, res.normalization.scale_source

    assert scale(Config()) == (pytest.approx(0.0168), "2x baseline")
    assert scale(cfg(budgets={"energy_kwh": 0.05})) == (0.05, "budget")
    both = parse_config({"score": {"scale": {"energy": 0.1}}, "gate": {"budgets": {
        "energy_kwh": 0.05}}}, source="t", root=".")
    assert scale(both) == (0.1, "config")


def test_too_few_runs_use_the_prior_for_the_energy_method_and_say_so(make_record: Make) -> None:
    settings = gate.Settings.from_config(Config())
    ctx = gate.Context(created_at=NOW, base_branch="main")
    res = gate.evaluate([make_record(performance=0.70)], [make_record()], [], settings, ctx)
    # 1 vs 1 run: no degree of freedom, so no measured spread; a 23% drop is not failed on
    # an assumed spread, and the report says so instead of "x the noise" as if measured.
    assert res.noise_source == "assumed" and res.noise_runs == 2
    assert res.spread == noise.PRIORS["measured"]
    assert res.verdict == "inconclusive" and "spread is assumed" in res.reasons[0]
    est = make_record()
    est = est.model_copy(update={"resources": est.resources.model_copy(
        update={"energy_method": "estimated"})})
    res = gate.evaluate([est], [est.model_copy(update={"id": "b"})], [], settings, ctx)
    assert res.spread == noise.PRIORS["estimated"] > noise.PRIORS["measured"]


def test_repeats_needed_grows_as_the_drop_nears_the_threshold() -> None:
    few = rule.repeats_needed(0.12, 0.05, 0.05, nb=5, nc=1, dof=4, measured=True)
    many = rule.repeats_needed(0.07, 0.05, 0.05, nb=5, nc=1, dof=4, measured=True)
    assert few is not None and many is not None and few < many


def test_missing_energy_cannot_be_scored(make_record: Make) -> None:
    cand = make_record()
    cand = cand.model_copy(update={"resources": Resources(energy_method="measured")})
    verdict, reasons = decide([cand], window(make_record))
    assert verdict == "inconclusive" and "cannot be computed" in " ".join(reasons)


def test_budgets_and_guardrail_at_exactly_the_limit_pass(make_record: Make) -> None:
    # Limits are inclusive: only a value strictly over the limit fails.
    at_limit = make_record(energy_kwh=0.02, duration_s=600.0)
    budgets = {"energy_kwh": 0.02, "duration_s": 600.0}
    assert decide([at_limit], [], cfg(budgets=budgets))[0] == "inconclusive"  # no baseline
    over = make_record(energy_kwh=0.0200001, duration_s=600.0)
    assert decide([over], [], cfg(budgets=budgets))[0] == "fail"
    base = [make_record(performance=0.75) for _ in range(5)]  # binary-exact values
    verdict, reasons = decide([make_record(performance=0.5)], base,
                              cfg(max_performance_drop=0.25))
    assert not any("max_performance_drop" in r for r in reasons)  # fell exactly 0.25
    verdict, reasons = decide([make_record(performance=0.4999)], base,
                              cfg(max_performance_drop=0.25))
    assert verdict == "fail" and "max_performance_drop" in reasons[0]


def test_energy_budgets_are_not_judged_on_failed_telemetry(make_record: Make) -> None:
    dead = make_record(energy_kwh=0.5, telemetry_ok=False, duration_s=900.0)
    verdict, reasons = decide([dead], [], cfg(budgets={"energy_kwh": 0.02, "carbon_kg": 0.001}))
    assert verdict == "inconclusive" and not any("budget" in r for r in reasons)
    verdict, reasons = decide([dead], [], cfg(budgets={"energy_kwh": 0.02, "duration_s": 600.0}))
    assert verdict == "fail"  # wall time is measured whatever the energy meter did
    assert [r for r in reasons if "budget" in r] == [
        "Wall time 900 s is over the budget of 600 s ([gate.budgets] duration_s)."]


def test_a_capped_r_is_shown_as_capped(make_record: Make) -> None:
    from pepr_gate.publish.markdown import render_markdown

    over = make_record(energy_kwh=0.05)  # over the 0.02 kWh scale: R stays 1
    settings = gate.Settings.from_config(parse_config(
        {"score": {"scale": {"energy": 0.02}}}, source="t", root="."))
    res = gate.evaluate([over], window(make_record), [], settings, gate.Context(created_at=NOW))
    assert res.candidate.R == 1.0 and res.candidate.over_scale
    assert res.baseline is not None and not res.baseline.over_scale
    row = next(line for line in render_markdown(res).splitlines() if line.startswith("| R "))
    assert "1.000 (capped: over the scale)" in row and row.count("capped") == 1


def test_the_accept_label_turns_a_fail_into_accepted(make_record: Make) -> None:
    drop = [make_record(branch="pr", performance=0.80)]
    settings = gate.Settings.from_config(Config())
    ctx = gate.Context(created_at=NOW, labels=["bug", "pepr-gate: accept"])
    res = gate.evaluate(drop, window(make_record), [], settings, ctx)
    assert res.verdict == "accepted" and res.accepted_by == "pepr-gate: accept"
    assert res.reasons[0].startswith("Accepted: the pull request carries the label "
                                     "'pepr-gate: accept'")
    assert "PePR-E fell" in res.reasons[1]  # what was accepted stays in the comment
    from pepr_gate.services.check import exit_code_for

    assert exit_code_for(res) == 0
    custom = gate.Settings.from_config(cfg(accept_label="energy-ok"))
    assert gate.evaluate(drop, window(make_record), [], custom, ctx).verdict == "fail"
    passing = gate.evaluate([make_record(performance=0.9)], window(make_record), [], settings, ctx)
    assert passing.verdict == "pass"  # the label only ever changes a fail


def test_flagged_runs_widen_the_noise_and_a_shared_gpu_cannot_fail(make_record: Make) -> None:
    settings = gate.Settings.from_config(Config())
    ctx = gate.Context(created_at=NOW)
    base = [make_record(performance=p) for p in (0.88, 0.92, 0.89, 0.91, 0.90)]
    clean = gate.evaluate([make_record(performance=0.80)], base, [], settings, ctx)
    shaky = gate.evaluate([make_record(performance=0.80, low_confidence=True)], base, [],
                          settings, ctx)
    assert clean.spread is not None and shaky.spread == pytest.approx(clean.spread * 1.5)
    assert any("widened 1.5x" in r for r in shaky.reasons)
    reps = [make_record(performance=p, exclusive=False) for p in (0.80, 0.79, 0.81)]
    shared = gate.evaluate(reps, base, [], settings, ctx)
    assert shared.verdict == "inconclusive"
    assert "another process used the GPU during every candidate run" in shared.reasons[0]
