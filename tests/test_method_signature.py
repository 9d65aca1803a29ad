"""Issue 12 item 9: energy compares only between runs read the same way over the same scope."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone

from pepr_gate.config import Config
from pepr_gate.decide import gate
from pepr_gate.records import Component, RunRecord, parse_run_record
from pepr_gate.score import method_signature

Make = Callable[..., RunRecord]
NOW = datetime(2025, 6, 1, tzinfo=timezone.utc)


def with_cpu(record: RunRecord, cpu: Component) -> RunRecord:
    return record.model_copy(update={
        "components": [*record.components, cpu],
        "resources": record.resources.model_copy(update={"energy_method": "mixed"}),
    })


ESTIMATE = Component(kind="cpu", name="cpu", method="estimated", detail="tdp-estimate",
                     energy_kwh=0.001, scope="job-share")
RAPL = Component(kind="cpu", name="package-0", method="measured", detail="rapl",
                 energy_kwh=0.003, scope="whole-socket")


def test_signature_names_each_counted_part_with_method_and_scope(make_record: Make) -> None:
    rec = with_cpu(make_record(), RAPL)
    assert method_signature(rec) == (("cpu", "measured", "whole-socket"),
                                     ("gpu", "measured", "whole-device"))


def test_a_record_written_before_scopes_loads_and_matches_a_new_one(make_record: Make) -> None:
    new = with_cpu(make_record(), ESTIMATE)
    data = json.loads(new.to_json())
    for c in data["components"]:  # what an older pepr-gate wrote: no scope, no coverage
        del c["scope"], c["coverage"]
    old = parse_run_record(data, "old.json")
    assert [c.scope for c in old.components] == [None, None, None]
    assert method_signature(old) == method_signature(new)


def test_rapl_against_estimate_is_inconclusive_though_both_are_mixed(make_record: Make) -> None:
    cand = with_cpu(make_record(), RAPL)
    base = [with_cpu(make_record(), ESTIMATE) for _ in range(5)]
    res = gate.evaluate([cand], base, base, gate.Settings.from_config(Config()),
                        gate.Context(created_at=NOW, base_branch="main"))
    assert res.verdict == "inconclusive"
    text = " ".join(res.reasons)
    assert "cpu measured (whole-socket)" in text and "cpu estimated (job-share)" in text


def test_same_methods_and_scopes_compare(make_record: Make) -> None:
    cand = with_cpu(make_record(), RAPL)
    base = [with_cpu(make_record(), RAPL) for _ in range(5)]
    res = gate.evaluate([cand], base, base, gate.Settings.from_config(Config()),
                        gate.Context(created_at=NOW, base_branch="main"))
    assert res.verdict == "pass"
