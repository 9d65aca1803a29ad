"""The PR comment's drift line: shown when a change point lies in the base branch's last
runs, absent on a flat base branch; the real `check` CLI on a real SQLite store."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from pepr_gate.records import RunRecord
from pepr_gate.services.drift import drift_line
from pepr_gate.store import open_store

Make = Callable[..., RunRecord]


def _levels(n: int, step_at: int | None, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [0.6 * (0.92 if step_at is not None and i >= step_at else 1.0)
            * (1 + rng.gauss(0, 0.02)) for i in range(n)]


def _check(folder: Path, make_record: Make, base: list[float]) -> tuple[str, dict[str, object]]:
    (folder / "pepr.toml").write_text('[store]\nurl = "sqlite:///h.db"\n')
    with open_store("sqlite:///h.db", root=folder) as store:
        for i, v in enumerate(base):
            store.append(make_record(pepr=v, sha=f"{i:012x}" + "f" * 28))
    candidate = make_record(pepr=base[-1], branch="feature")
    (folder / "cand.json").write_text(candidate.model_dump_json(by_alias=True))
    done = subprocess.run(
        [sys.executable, "-m", "pepr_gate", "check", "--candidate", "cand.json",
         "--baseline-branch", "main", "--markdown", "c.md", "--json", "c.json"],
        cwd=folder, capture_output=True, text=True, timeout=120)
    assert done.returncode in (0, 1), done.stderr
    return (folder / "c.md").read_text(), json.loads((folder / "c.json").read_text())


def test_the_comment_says_how_far_main_moved(tmp_path: Path, make_record: Make) -> None:
    comment, result = _check(tmp_path, make_record, _levels(50, 35, seed=2))
    line = next(n for n in result["notes"] if "efficient" in str(n))  # type: ignore[union-attr]
    assert str(line).startswith("main is ") and "less efficient (PePR) than on" in str(line)
    assert any(f"since {i:012x}" in str(line) for i in (34, 35, 36))  # the step: run 35
    assert "less efficient" in comment and "30 runs ago" in comment


def test_no_drift_line_on_a_flat_base_branch(tmp_path: Path, make_record: Make) -> None:
    comment, result = _check(tmp_path, make_record, _levels(50, None, seed=2))
    assert not any("efficient" in str(n) for n in result["notes"])  # type: ignore[union-attr]
    assert "efficient than" not in comment


def test_a_step_older_than_the_window_is_not_drift(make_record: Make) -> None:
    runs = [make_record(pepr=v) for v in _levels(80, 20, seed=3)]
    assert drift_line(runs, "main") is None
    recent = drift_line(runs, "main", window=70)
    assert recent is not None and "-" not in recent.split(" efficient")[0]
    assert "is 8" in recent or "is 7" in recent or "is 9" in recent
