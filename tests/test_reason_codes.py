"""Reasons carry their codes from `decide` to the publishers: the headline and the next
step follow a reason's code, so rewording its sentence changes neither, and a check
result written before codes were kept is still read by its English sentences."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest

from pepr_gate.config import Config
from pepr_gate.decide import gate
from pepr_gate.errors import InputError
from pepr_gate.publish import said
from pepr_gate.publish.headline import headline, next_step
from pepr_gate.records import CheckResult, RunRecord

NOW = datetime(2025, 6, 1, tzinfo=timezone.utc)
Make = Callable[..., RunRecord]
DECIDE = Path(gate.__file__).parent


def _settings(**changes: object) -> gate.Settings:
    return dataclasses.replace(gate.Settings.from_config(Config()), **changes)  # type: ignore[arg-type]


def _ctx() -> gate.Context:
    return gate.Context(created_at=NOW, base_branch="main")


def _history(make: Make, cands: list[RunRecord], base: list[RunRecord],
             **settings: object) -> CheckResult:
    return gate.evaluate(cands, base, base, _settings(**settings), _ctx())


def _scenarios(make: Make) -> dict[str, CheckResult]:
    other_hw = make(branch="main", fingerprint="hw-other")
    return {
        "too-noisy": _history(make, [make(branch="pr", performance=0.80)], [make()]),
        "no-baseline": _history(make, [make(branch="pr")], []),
        "not-comparable": _history(make, [make(branch="pr")], [other_hw]),
        "candidate-failed": _history(make, [make(branch="pr", status="failed")], [make()]),
        "budget": _history(make, [make(branch="pr", energy_kwh=0.009)], [make()],
                           budgets={"energy_kwh": 0.001, "duration_s": 1.0}),
        "guardrail": _history(make, [make(branch="pr", performance=0.5)], [make()],
                              max_performance_drop=0.01),
        "paired": gate.evaluate_paired([make(), make()],
                                       [make(branch="pr", performance=0.8),
                                        make(branch="pr", performance=0.9)],
                                       [], _settings(), _ctx()),
    }


def _said(result: CheckResult) -> tuple[str | None, str | None, str]:
    return (next_step(result), next_step(result, local=True), headline(result))


NAMES = ["too-noisy", "no-baseline", "not-comparable", "candidate-failed", "budget",
         "guardrail", "paired"]


@pytest.mark.parametrize("name", NAMES)
def test_a_reworded_reason_gets_the_same_next_step_from_its_code(make_record: Make,
                                                                 name: str) -> None:
    result = _scenarios(make_record)[name]
    assert len(result.reason_codes) == len(result.reasons) > 0
    reworded = result.model_copy(update={
        "reasons": [f"Reason {i} in other words." for i in range(len(result.reasons))]})
    assert _said(reworded) == _said(result)


@pytest.mark.parametrize("name", NAMES)
def test_a_result_written_before_codes_is_read_by_its_sentences(make_record: Make,
                                                                name: str) -> None:
    result = _scenarios(make_record)[name]
    old = result.model_copy(update={"reason_codes": []})
    assert _said(old) == _said(result)


def test_the_steps_differ_by_code(make_record: Make) -> None:
    """Each scenario really takes its own branch (so the tests above prove something)."""
    results = _scenarios(make_record)
    steps = {name: next_step(r) for name, r in results.items() if r.verdict == "inconclusive"}
    assert "repeats" in (steps["too-noisy"] or "")
    assert "pairs" in (steps["paired"] or "") or "quieter" in (steps["paired"] or "")
    assert "failed run" in (steps["candidate-failed"] or "")
    assert "store a baseline" in (steps["not-comparable"] or "")
    assert "store a baseline" in (steps["no-baseline"] or "")
    assert headline(results["budget"]).startswith("energy and wall time over budget")
    assert "below the guardrail" in headline(results["guardrail"])


def test_an_old_check_json_without_codes_still_loads(make_record: Make) -> None:
    result = _scenarios(make_record)["too-noisy"]
    text = result.model_copy(update={"reason_codes": []}).to_json()
    loaded = CheckResult.model_validate_json(text.replace('  "reason_codes": [],\n', ""))
    assert loaded.reason_codes == [] and _said(loaded) == _said(result)


def test_codes_that_do_not_match_the_reasons_are_refused(make_record: Make,
                                                         tmp_path: Path) -> None:
    from pepr_gate.records import load_check_result

    result = _scenarios(make_record)["budget"]
    path = tmp_path / "check.json"
    path.write_text(result.model_copy(update={"reason_codes": ["budget-energy_kwh"]})
                    .to_json())
    with pytest.raises(InputError, match="reason_codes"):
        load_check_result(path)


def test_every_code_the_publishers_ask_about_is_made_in_decide() -> None:
    source = "\n".join(p.read_text() for p in DECIDE.glob("*.py"))
    for code in said.CODES:
        assert f'"{code}' in source, code
