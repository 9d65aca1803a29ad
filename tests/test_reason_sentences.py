"""The sentence beside a PePR change says what the numbers say: its direction, the two
numbers it was computed from, and multiples that can be told apart."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timezone

import pytest

from pepr_gate.config import Config
from pepr_gate.decide import gate, rules
from pepr_gate.records import CheckResult, RunRecord

NOW = datetime(2025, 6, 1, tzinfo=timezone.utc)
Make = Callable[..., RunRecord]


def check(cands: list[RunRecord], base: list[RunRecord]) -> CheckResult:
    return gate.evaluate(cands, base, base, gate.Settings.from_config(Config()),
                         gate.Context(created_at=NOW, base_branch="main"))


@pytest.mark.parametrize(("performance", "words", "not_words"), [
    (0.99, "rose 8.8%", "allowed"),  # a rise: never "more than the 5% allowed"
    (0.91, "did not change (0.607 -> 0.607)", "allowed"),
    (0.89, "fell 2.2%", "more than"),
    (0.80, "fell 12.1%", "within"),
])
def test_too_few_runs_say_which_way_pepr_moved(make_record: Make, performance: float,
                                              words: str, not_words: str) -> None:
    # One run a side: the spread is assumed, the verdict inconclusive, whatever the change.
    res = check([make_record(branch="pr", performance=performance)], [make_record()])
    assert res.verdict == "inconclusive" and res.noise_source == "assumed"
    sentence = res.reasons[0]
    assert words in sentence and not_words not in sentence, sentence
    assert "too noisy to decide" in sentence


def test_a_drop_with_too_few_runs_is_still_past_the_threshold(make_record: Make) -> None:
    res = check([make_record(branch="pr", performance=0.80)], [make_record()])
    assert "fell 12.1% (0.607 -> 0.533), more than the 5% allowed" in res.reasons[0]
    res = check([make_record(branch="pr", performance=0.89)], [make_record()])
    assert "fell 2.2% (0.607 -> 0.593), within the 5% allowed" in res.reasons[0]


def test_the_numbers_beside_a_change_are_the_ones_it_was_computed_from(
        make_record: Make) -> None:
    # Skewed windows: the medians (0.600) and the geometric means differ at 3 decimals.
    base = [make_record(performance=p) for p in (0.91, 0.91, 0.91, 0.70, 0.70)]
    cands = [make_record(branch="pr", performance=p) for p in (0.91, 0.91, 0.70)]
    res = check(cands, base)
    assert res.baseline is not None and res.candidate.pepr is not None
    sentence = res.reasons[0]
    assert f"{res.baseline.pepr:.3f}" == f"{res.candidate.pepr:.3f}" == "0.607"  # medians
    # The change is of geometric means, and the sentence shows those, labelled as such.
    b = math.exp((3 * math.log(0.91 / 1.5) + 2 * math.log(0.70 / 1.5)) / 5)
    c = math.exp((2 * math.log(0.91 / 1.5) + math.log(0.70 / 1.5)) / 3)
    assert f"rose {(c / b - 1) * 100:.1f}% ({b:.3f} -> {c:.3f}, geometric means)" in sentence


def test_multiples_are_printed_so_that_they_differ() -> None:
    assert rules.multiples(2.501, 2.539) == ("2.50", "2.54")
    assert rules.multiples(2.5001, 2.5004) == ("2.500", "2.500")  # 3 decimals at most
    assert rules.multiples(12.0, 3.7) == ("12.0", "3.7")


def test_a_capped_r_is_said_with_the_raw_resource_change(make_record: Make) -> None:
    # The scale is 2x the baseline's energy; a candidate using 4.73x that energy has R
    # capped at 1, so PePR shows only part of the change.
    base = [make_record(performance=0.91 * (1 + 0.002 * d)) for d in (-1, 1, 0, 0.5, -0.5)]
    cand = make_record(branch="pr", performance=0.91, energy_kwh=0.0084 * 4.73)
    res = check([cand], base)
    assert res.candidate.over_scale and res.baseline is not None
    assert not res.baseline.over_scale
    capped = [r for r in res.reasons if r.startswith("R is capped")]
    assert capped == [
        "R is capped at 1 for the candidate: energy 8.4 Wh -> 39.7 Wh (+373.0% raw) against "
        "a scale of 16.8 Wh (2x baseline), so PePR-E shows less of the change than the energy "
        "made; set [score.scale] energy above both to compare them in full."], res.reasons
    # Not said when both sides are inside the scale.
    inside = check([make_record(branch="pr", performance=0.91, energy_kwh=0.009)], base)
    assert not any(r.startswith("R is capped") for r in inside.reasons)


def test_paired_reasons_show_the_numbers_their_change_compares(make_record: Make) -> None:
    # Skewed pairs: the medians would read as a fall while the pairs' change is a rise.
    base = [make_record(performance=p) for p in (0.90, 0.90, 0.60, 0.60, 0.90)]
    head = [make_record(branch="pr", performance=p) for p in (0.91, 0.89, 0.62, 0.61, 0.88)]
    res = gate.evaluate_paired(base, head, [], gate.Settings.from_config(Config()),
                               gate.Context(created_at=NOW, base_branch="main"))
    sentence = next(r for r in res.reasons if "PePR-E" in r)
    shown = sentence.split("(", 1)[1].split(",")[0]  # "b -> c"
    b, c = (float(x) for x in shown.split(" -> "))
    assert res.pepr_change is not None
    assert ("rose" in sentence) == (c > b) == (res.pepr_change > 0), sentence
    assert f"{(c / b - 1) * 100:.0f}" == f"{res.pepr_change * 100:.0f}"
