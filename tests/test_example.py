"""The bundled example end to end: `pepr-gate run` trains the digits CNN and scores it.

Slow (a real PyTorch training run of some seconds), so marked `slow`; skipped where
PyTorch is not installed. It runs on a copy
of examples/digits/ so the repository's folder gets no metrics or history files.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pepr_gate.store import open_store

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "digits"

pytestmark = pytest.mark.slow
# The example trains with PyTorch (the `examples` extra): without it this is skipped,
# not failed, so `pip install -e .[dev]` alone gives a green suite.
pytest.importorskip("torch", reason="the digits example needs PyTorch (pip install torch)")


def test_digits_example_is_measured_and_scored(tmp_path: Path) -> None:
    work = tmp_path / "digits"
    work.mkdir()
    for name in ("train.py", "pepr.toml"):
        shutil.copy(EXAMPLE / name, work / name)
    # `python` in pepr.toml must be this environment's, as in an activated virtualenv
    env = {**os.environ,
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(
        [sys.executable, "-m", "pepr_gate", "run", "--meter", "process", "--out", "run.json"],
        cwd=work, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "test accuracy" in proc.stdout  # the job's own output streamed through
    assert "PePR-E" in proc.stdout

    rec = json.loads((work / "run.json").read_text())
    assert rec["status"] == "ok"
    perf = rec["performance"]
    assert perf["name"] == "accuracy" and 0.8 < perf["value"] <= 1.0
    res = rec["resources"]
    assert res["energy_method"] == "estimated" and res["energy_kwh"] > 0
    assert "Denmark" in res["carbon_source"]
    assert res["carbon_kg"] == pytest.approx(
        res["energy_kwh"] * res["pue"] * res["carbon_intensity_g_per_kwh"] / 1000)
    assert res["params"] > 1000  # params_key = "params" in the example's pepr.toml
    assert res["cpu_time_s"] > 1.0 and res["peak_rss_bytes"] > 100 * 2**20
    metrics = json.loads((work / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] == perf["value"]
    assert rec["stages"][0]["name"] == "train" and rec["stages"][0]["exit_code"] == 0

    with open_store("sqlite:///.pepr/history.db", root=work) as store:
        [stored] = store.runs()
    assert stored.id == rec["id"] and stored.status == "ok"
