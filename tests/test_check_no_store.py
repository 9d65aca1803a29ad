"""`pepr-gate check --candidate r.json` with no store configured and none present judges
the budgets and says there is no baseline; a store that was named and is missing is still
exit 2 (a typo must not pass)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from pepr_gate.records import RunRecord

Make = Callable[..., RunRecord]


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GITHUB_BASE_REF": "", "GITHUB_HEAD_REF": "", "GITHUB_REF_NAME": ""}
    return subprocess.run([sys.executable, "-m", "pepr_gate", "check", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=60, check=False)


def test_budgets_are_judged_without_a_store(tmp_path: Path, make_record: Make) -> None:
    (tmp_path / "pepr.toml").write_text("[gate.budgets]\nduration_s = 30\n")
    slow = tmp_path / "slow.json"
    slow.write_text(make_record(branch="feat/x", duration_s=42.5).to_json())
    res = cli(tmp_path, "--candidate", str(slow), "--json", "r.json")
    assert res.returncode == 1, res.stderr  # the time budget fails, store or not
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["verdict"] == "fail" and data["no_baseline"] == "no-store"
    assert data["reasons"][0] == ("Wall time 42.5 s is over the budget of 30 s "
                                  "([gate.budgets] duration_s).")
    assert any(r.startswith("No baseline: no history store is configured and none exists "
                            "(.pepr/history.db), so only the budgets were judged")
               for r in data["reasons"])
    assert not (tmp_path / ".pepr").exists()  # nothing was created
    quick = tmp_path / "quick.json"
    quick.write_text(make_record(branch="feat/x", duration_s=12.0).to_json())
    res = cli(tmp_path, "--candidate", str(quick), "--json", "r.json")
    assert res.returncode == 0, res.stderr  # within budget: inconclusive, no baseline
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["verdict"] == "inconclusive" and data["no_baseline"] == "no-store"


def test_a_named_store_that_is_missing_is_still_exit_2(tmp_path: Path,
                                                       make_record: Make) -> None:
    cand = tmp_path / "c.json"
    cand.write_text(make_record(branch="feat/x").to_json())
    res = cli(tmp_path, "--candidate", str(cand), "--store", "sqlite:///typo.db")
    assert res.returncode == 2 and "typo.db" in res.stderr
    (tmp_path / "pepr.toml").write_text('[store]\nurl = "sqlite:///hist.db"\n')
    res = cli(tmp_path, "--candidate", str(cand))
    assert res.returncode == 2 and "hist.db" in res.stderr
    assert not (tmp_path / "typo.db").exists() and not (tmp_path / "hist.db").exists()
