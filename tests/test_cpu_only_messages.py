"""Messages on a machine without a GPU: a flagged run says why it was flagged (its low
confidence and the meter's reason, or a shared GPU) and never mentions a GPU no meter
read; an inconclusive result under other runner conditions gives one next step."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from rich.console import Console

from pepr_gate.decide import gate
from pepr_gate.publish.headline import next_step
from pepr_gate.publish.markdown import render_markdown
from pepr_gate.publish.terminal import render_terminal
from pepr_gate.records import Conditions, RunRecord

Make = Callable[..., RunRecord]
CONFIG = f"""\
[run]
stages = [{{ name = "train", cmd = ["{sys.executable}", "train.py"] }}]

[performance]
file = "metrics.json"
key = "accuracy"

[score]
resource = "time"

[score.scale]
time = 4.0

[meter]
kind = "process"

[gate]
max_pepr_drop = 0.05
"""
TRAIN = ("import json, pathlib\n"
         "pathlib.Path('metrics.json').write_text(json.dumps({'accuracy': 0.9}))\n")


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=True)


def settings() -> gate.Settings:
    return gate.Settings(resource="energy", max_pepr_drop=0.05, max_performance_drop=None,
                         budgets={}, scale=0.02, scale_source="score.scale", window=5,
                         performance_name="accuracy", strict=False)


def ctx(make: Make) -> gate.Context:
    return gate.Context(created_at=make().created_at + timedelta(hours=3),
                        base_branch="main", head_branch="feature")


def test_a_cpu_only_ab_names_the_low_confidence_reason_and_no_gpu(
        tmp_path: Path, git_env: dict[str, str]) -> None:
    root = tmp_path / "repo"
    git("init", "-q", "-b", "main", str(root), cwd=tmp_path)
    (root / "pepr.toml").write_text(CONFIG)
    (root / "train.py").write_text(TRAIN)
    (root / ".gitignore").write_text(".pepr/\nmetrics.json\n")
    git("add", "-A", cwd=root)
    git("commit", "-q", "-m", "base", cwd=root)
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"}
    done = subprocess.run([sys.executable, "-m", "pepr_gate", "ab", "--base", "main",
                           "--pairs", "2", "--no-store", "--json", "ab.json"], cwd=root,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode in (0, 1, 5), done.stderr
    reasons = json.loads((root / "ab.json").read_text())["reasons"]
    flagged = [r for r in reasons if "low_confidence" in r]
    # Runs under a second on the process meter: low confidence, with the meter's reason.
    # "e.g." only when the runs' times differ at the precision shown.
    assert flagged and re.search(r"4 run\(s\) were flagged low_confidence \((e\.g\. )?the "
                                 r"run took", flagged[0]), flagged
    assert "shorter than the energy counters' update periods" in flagged[0]
    assert not any("GPU" in r for r in reasons), reasons
    assert "shared the GPU" not in done.stdout and "exclusive" not in done.stdout


def test_a_shared_gpu_is_said_as_such_and_low_confidence_apart(make_record: Make) -> None:
    base = [make_record(energy_kwh=0.0070) for _ in range(5)]
    shared = [make_record(branch="feature", energy_kwh=0.0070, exclusive=False)
              for _ in range(2)]
    result = gate.evaluate(shared, base, base, settings(), ctx(make_record))
    said = next(r for r in result.reasons if "widened 1.5x" in r)
    assert said.startswith("2 run(s) shared the GPU with another process (exclusive: false)")
    assert "low_confidence" not in said
    shaky = [make_record(branch="feature", energy_kwh=0.0070, low_confidence=True,
                         notes=["only 3 power samples: low confidence"])]
    result = gate.evaluate(shaky, base, base, settings(), ctx(make_record))
    said = next(r for r in result.reasons if "widened 1.5x" in r)
    assert said.startswith("1 run(s) were flagged low_confidence (only 3 power samples")
    assert "shared the GPU" not in said


@pytest.mark.parametrize("local", [True, False])
def test_the_next_step_agrees_with_the_conditions_reason(make_record: Make,
                                                         local: bool) -> None:
    quiet = Conditions(load_start=1.2, load_end=1.4, other_cpu_share=0.05,
                       wall_cpu_ratio=1.0, cpu_count=2)
    busy = Conditions(load_start=8.0, load_end=8.2, other_cpu_share=0.80,
                      wall_cpu_ratio=2.6, cpu_count=2)
    base = [make_record(energy_kwh=0.0070, conditions=quiet) for _ in range(5)]
    cand = [make_record(branch="feature", energy_kwh=0.0089, conditions=busy)
            for _ in range(3)]
    result = gate.evaluate(cand, base, base, settings(), ctx(make_record))
    assert result.verdict == "inconclusive" and result.conditions_differ
    assert any("pepr-gate ab --base main" in r for r in result.reasons)
    step = next_step(result, local=local)
    assert step is not None and "pepr-gate ab --base main" in step
    assert "--repeats" not in step
    if local:
        console = Console(width=80, record=True, force_terminal=False)
        render_terminal(result, console)
        assert "--repeats" not in console.export_text()
    else:
        assert "--repeats" not in render_markdown(result).split("**Next step:**")[1]
