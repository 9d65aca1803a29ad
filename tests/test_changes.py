"""`history --changes`: change points on a store with a known step, none on a flat one,
boundaries where the hardware or config changed; the real CLI on a real SQLite store."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from pepr_gate.decide.changepoints import analyse, breakpoints, noise
from pepr_gate.records import RunRecord
from pepr_gate.store import open_store

Make = Callable[..., RunRecord]


def _levels(n: int, step_at: int | None, step: float, seed: int = 3) -> list[float]:
    rng = random.Random(seed)
    return [0.6 * (1 - (step if step_at is not None and i >= step_at else 0.0))
            * (1 + rng.gauss(0, 0.03)) for i in range(n)]


def _store(folder: Path, records: list[RunRecord]) -> None:
    with open_store("sqlite:///h.db", root=folder) as store:
        for record in records:
            store.append(record)


def _cli(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pepr_gate", "history", "--store",
                           "sqlite:///h.db", *args], cwd=folder, capture_output=True,
                          text=True, timeout=120)


def test_a_step_is_found_at_its_run_and_a_flat_series_has_none() -> None:
    assert breakpoints(_levels(60, 30, 0.10)) in ([29], [30], [31])
    assert breakpoints(_levels(60, None, 0.0)) == []


def test_noise_ignores_the_step_itself() -> None:
    flat = noise(_levels(60, None, 0.0))
    stepped = noise(_levels(60, 30, 0.10))
    assert stepped == pytest.approx(flat, rel=0.25)


def test_known_step_found_with_commits_and_size(tmp_path: Path, make_record: Make) -> None:
    records = [make_record(pepr=v, sha=f"{i:040x}") for i, v in enumerate(_levels(60, 30, 0.1))]
    _store(tmp_path, records)
    done = _cli(tmp_path, "--changes", "--branch", "main", "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    pepr = [c for c in out["changes"] if c["metric"] == "pepr"]
    assert len(pepr) == 1
    change = pepr[0]
    assert abs(int(change["after"]["sha"], 16) - 30) <= 1
    assert int(change["before"]["sha"], 16) == int(change["after"]["sha"], 16) - 1
    assert change["step"] == pytest.approx(-0.10, abs=0.025)
    assert change["confidence"] > 0.99 and change["worse"] is True
    assert out["boundaries"] == [] and len(out["series"]) == 1
    text = _cli(tmp_path, "--changes", "--branch", "main")
    assert text.returncode == 0 and "PePR -" in text.stdout and "confidence" in text.stdout


def test_flat_store_reports_no_change(tmp_path: Path, make_record: Make) -> None:
    _store(tmp_path, [make_record(pepr=v) for v in _levels(60, None, 0.0, seed=8)])
    done = _cli(tmp_path, "--changes", "--branch", "main", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["changes"] == []
    text = _cli(tmp_path, "--changes", "--branch", "main")
    assert "no change points" in text.stdout


def test_a_hardware_change_is_a_boundary_not_a_regression(make_record: Make) -> None:
    old = [make_record(pepr=v) for v in _levels(20, None, 0.0, seed=1)]
    new = [make_record(pepr=v * 0.7, fingerprint="hw-other")
           for v in _levels(20, None, 0.0, seed=2)]
    analysis = analyse(old + new)
    assert analysis.changes == []
    assert len(analysis.series) == 2
    [boundary] = analysis.boundaries
    assert boundary.changed == ["hardware"] and boundary.after.first.id == new[0].id
    assert boundary.before.first.id == old[-1].id


def test_a_config_change_is_a_boundary(make_record: Make) -> None:
    old = [make_record(pepr=0.6) for _ in range(8)]
    new = [make_record(pepr=0.4, config_hash="cfg-new") for _ in range(8)]
    analysis = analyse(old + new)
    assert analysis.changes == [] and analysis.boundaries[0].changed == ["config"]


def test_repeats_are_one_point_and_paired_runs_are_left_out(make_record: Make) -> None:
    runs = [make_record(pepr=0.6, repeat_group=f"g{i // 3}", repeat_index=i % 3)
            for i in range(12)]
    paired = make_record(pepr=0.1, paired={"session": "s", "side": "base", "index": 0})
    analysis = analyse([*runs, paired])
    assert len(analysis.series[0].points) == 4 and analysis.skipped == 1


def test_an_exact_step_without_noise_is_certain(make_record: Make) -> None:
    runs = [make_record(pepr=0.5 if i < 6 else 0.4) for i in range(12)]
    [change] = [c for c in analyse(runs).changes if c.metric == "pepr"]
    assert change.index == 6 and change.confidence == 1.0
    assert change.step == pytest.approx(-0.2)


def test_bad_variant_and_flag_mixes_are_exit_2(tmp_path: Path, make_record: Make) -> None:
    _store(tmp_path, [make_record()])
    bad = _cli(tmp_path, "--changes", "--branch", "main", "--variant", "X")
    assert bad.returncode == 2 and "--variant 'X'" in bad.stderr
    assert "Traceback" not in bad.stderr
    mixed = _cli(tmp_path, "--changes", "--all-branches")
    assert mixed.returncode == 2 and "--all-branches" in mixed.stderr
    alone = _cli(tmp_path, "--json", "--branch", "main")
    assert alone.returncode == 2 and "--changes" in alone.stderr
    ok = _cli(tmp_path, "--changes", "--branch", "main", "--variant", "T", "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["skipped_runs"] == 1
