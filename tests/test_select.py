"""Which runs the gate compares: the newest window, the candidate's own repeat group, the
base branch only, and a typed reason with its fix when nothing matches."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

from pepr_gate.config import parse_config
from pepr_gate.decide import select
from pepr_gate.records import RunRecord
from pepr_gate.services.check import run_check
from pepr_gate.store import open_store

Make = Callable[..., RunRecord]
T0 = datetime(2025, 5, 1, tzinfo=timezone.utc)


def at(make: Make, minute: int, **kw: object) -> RunRecord:
    return make(created_at=T0 + timedelta(minutes=minute), **kw)


def test_the_window_takes_the_newest_runs_whatever_order_they_come_in(make_record: Make) -> None:
    runs = [at(make_record, m, id=f"m{m}") for m in (5, 1, 9, 3, 7, 2, 8)]
    cand = at(make_record, 100, branch="pr")
    window, history = select.baseline(cand, runs, base_branch="main", window=3, history=5)
    assert [r.id for r in window] == ["m9", "m8", "m7"]
    assert [r.id for r in history] == ["m9", "m8", "m7", "m5", "m3"]


def test_the_candidate_is_its_own_repeat_group_not_the_whole_branch(make_record: Make) -> None:
    older = [at(make_record, i, branch="pr", repeat_group="g-old", repeat_index=i)
             for i in range(3)]
    mine = [at(make_record, 10 + i, branch="pr", repeat_group="g-new", repeat_index=i)
            for i in range(2)]
    single = at(make_record, 20, branch="pr")
    branch_runs = [*older, *mine, single]
    assert select.repeat_group(mine[1], branch_runs) == mine
    assert select.repeat_group(single, branch_runs) == [single]


def test_only_base_branch_runs_are_a_baseline(make_record: Make) -> None:
    main = [at(make_record, m, branch="main", id=f"main{m}") for m in range(3)]
    other = [at(make_record, 50 + m, branch="feature", id=f"feat{m}") for m in range(3)]
    cand = at(make_record, 100, branch="pr")
    window, _ = select.baseline(cand, [*main, *other], base_branch="main", window=5, history=5)
    assert {r.id for r in window} == {"main0", "main1", "main2"}


def test_the_store_path_keeps_the_base_branch_and_the_newest_window(
    tmp_path: Path, make_record: Make
) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    with open_store(url) as store:
        for m in range(8):  # main: the oldest 3 are much better, so taking them would fail
            store.append(at(make_record, m, branch="main", performance=0.99 if m < 3 else 0.90))
        for m in range(3):  # newer runs of another branch, far worse: never a baseline
            store.append(at(make_record, 20 + m, branch="other", performance=0.50))
    cand = at(make_record, 30, branch="pr", performance=0.90)
    config = parse_config({"gate": {"window": 5}}, source="t", root=str(tmp_path))
    res = run_check(config, candidates=[cand], baseline_branch="main", store_url=url)
    assert res.baseline is not None and len(res.baseline.run_ids) == 5
    assert res.baseline.performance == 0.90
    assert res.pepr_change == 0.0 and res.verdict != "fail"


def test_no_baseline_reasons_name_the_cause_and_the_fix(make_record: Make) -> None:
    cand = at(make_record, 100, branch="pr")
    empty = select.diagnose(cand, [], base_branch="main", store_empty=True)
    assert empty.kind == "empty-store" and "pepr-gate run" in empty.fix
    none = select.diagnose(cand, [], base_branch="main")
    assert none.kind == "no-base-runs" and "main" in none.sentence()
    other_hw = select.diagnose(cand, [at(make_record, 1, fingerprint="hw-x")], base_branch="main")
    assert other_hw.kind == "hardware" and "runner" in other_hw.fix


def test_a_changed_config_names_the_keys(make_record: Make) -> None:
    old = parse_config({"score": {"scale": {"energy": 0.02}}}, source="t", root=".")
    new = parse_config({"score": {"scale": {"energy": 0.05}}, "carbon": {"pue": 1.2}},
                       source="t", root=".")
    base = at(make_record, 1, config_hash=old.config_hash(), config_keys=old.config_keys())
    cand = at(make_record, 2, branch="pr", config_hash=new.config_hash(),
              config_keys=new.config_keys())
    why = select.diagnose(cand, [base], base_branch="main")
    assert why.kind == "config"
    assert why.changed_keys == ["carbon.pue", "score.scale.energy"]
    assert "changed keys: carbon.pue, score.scale.energy" in why.sentence()
    legacy = base.model_copy(update={"config_keys": None})  # a record from before the digest
    assert select.diagnose(cand, [legacy], base_branch="main").changed_keys == []
