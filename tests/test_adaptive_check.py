"""`pepr-gate check` on a repeat group that an adaptive loop (`repeats = "auto"`) made gives
the loop's verdict: the records say the group was adaptive, and check judges its last
look at the same share of the false-alarm rate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from pepr_gate.config import Config
from pepr_gate.decide import gate
from pepr_gate.records import RunRecord
from pepr_gate.store import open_store

Make = Callable[..., RunRecord]


def check(tmp_path: Path, *args: str) -> dict[str, object]:
    env = {**os.environ, "GITHUB_BASE_REF": "", "GITHUB_HEAD_REF": "", "GITHUB_REF_NAME": ""}
    done = subprocess.run([sys.executable, "-m", "pepr_gate", "check", "--store",
                           "sqlite:///h.db", "--baseline-branch", "main", "--json", "r.json",
                           *args], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode in (0, 1), done.stderr
    return json.loads((tmp_path / "r.json").read_text())  # type: ignore[no-any-return]


def test_check_after_an_adaptive_loop_gives_the_loops_verdict(tmp_path: Path,
                                                              make_record: Make) -> None:
    window = [make_record(performance=0.90 * (1 + 0.02 * d)) for d in (-1, 1, -0.5, 0.5, 0)]
    group = [make_record(branch="feat/x", performance=p, repeat_group="g1", repeat_index=i,
                         adaptive_looks=5) for i, p in enumerate((0.84, 0.85))]
    plain = [r.model_copy(update={"adaptive_looks": None, "repeat_group": "g2",
                                  "id": r.id + "-fixed"}) for r in group]
    with open_store(f"sqlite:///{tmp_path / 'h.db'}") as store:
        for r in [*window, *group]:
            store.append(r)
    ctx = gate.Context(created_at=datetime(2025, 1, 1, tzinfo=timezone.utc))
    # What the loop decided after its second look (at most 5 looks) ...
    loop = gate.evaluate(group, window, window, gate.Settings.from_config(Config(), looks=5),
                         ctx)
    # ... is not what one look at the whole alpha says about the same runs.
    once = gate.evaluate(plain, window, window, gate.Settings.from_config(Config()), ctx)
    assert (loop.verdict, once.verdict) == ("inconclusive", "fail")
    cand = tmp_path / "c.json"
    cand.write_text(group[-1].to_json())
    result = check(tmp_path, "--candidate", str(cand))
    assert result["verdict"] == loop.verdict
    assert result["noise_z"] == loop.noise_z
    assert any("look 2 of at most 5 of the adaptive loop" in n
               for n in result["notes"])  # type: ignore[attr-defined]


def test_the_loop_says_why_it_stopped(make_record: Make) -> None:
    from pepr_gate.services.adaptive import Measured, describe_looks
    from pepr_gate.services.run import Outcome

    ctx = gate.Context(created_at=datetime(2025, 1, 1, tzinfo=timezone.utc))
    settings = gate.Settings.from_config(Config(), looks=5)
    steady = [make_record(performance=p) for p in (0.891, 0.909, 0.8955, 0.9045, 0.900)]
    cands = [make_record(branch="pr", performance=0.87) for _ in range(5)]
    warned = gate.evaluate(cands[:1], steady, steady, settings, ctx)
    assert warned.verdict == "warn"
    assert describe_looks(Measured(Outcome(), warned, True, 5), 5) == (
        "Adaptive repeats: stopped at the maximum of 5 candidate repeats ([run] max_repeats "
        "= 5); the drop stayed under the threshold without being bounded (warn).")
    none = gate.evaluate(cands[:1], [], [], settings, ctx)  # no baseline: nothing to wait for
    assert describe_looks(Measured(Outcome(), none, True, 1), 5) == (
        "Adaptive repeats: stopped after 1 candidate repeat: more repeats could not change "
        "the verdict.")
