"""What `pepr-gate run` prints, at 80 columns: a short table, missing sensors on one line
(reasons behind --verbose), a capped R marked, and a summary after `--repeats N`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from pepr_gate.publish.run_table import print_repeats, print_run
from pepr_gate.records import Component, RunRecord

Make = Callable[..., RunRecord]
NO_NVML = "NVML library not found (libnvidia-ml.so.1)"
NO_RAPL = "no RAPL powercap interface (/sys/class/powercap does not exist)"


def without_sensors(make: Make, **kw: object) -> RunRecord:
    record = make(**kw)
    missing = [
        Component(kind="gpu", name="gpu", method="unavailable", reason=NO_NVML,
                  hint="install the NVIDIA driver"),
        Component(kind="cpu", name="cpu (rapl)", method="unavailable", reason=NO_RAPL),
        Component(kind="cpu", name="AMD EPYC", method="estimated", detail="tdp-estimate"),
    ]
    return record.model_copy(update={
        "components": [c for c in record.components if c.kind == "process"] + missing,
        "notes": [f"GPU energy not measured: {NO_NVML}", "a note of its own"]})


def render(record: RunRecord, *, verbose: bool = False) -> str:
    console = Console(width=80, record=True, markup=False, highlight=False)
    print_run(record, console, verbose=verbose)
    return console.export_text()


def test_missing_sensors_are_one_short_line(make_record: Make) -> None:
    out = render(without_sensors(make_record))
    assert max(len(line) for line in out.splitlines()) <= 80
    lines = [line for line in out.splitlines() if "not measured" in line]
    assert lines == ["not measured: gpu, cpu (rapl) (--verbose or `pepr-gate probe` says why)"]
    assert NO_NVML not in out and NO_RAPL not in out  # the details wait for --verbose
    assert "tdp-estimate" not in out
    assert "a note of its own" in out


def test_verbose_gives_each_reason_and_component(make_record: Make) -> None:
    out = render(without_sensors(make_record), verbose=True)
    flat = " ".join(out.split())
    assert NO_NVML in flat and NO_RAPL in flat and "install the NVIDIA driver" in flat
    assert "cpu AMD EPYC: estimated (tdp-estimate)" in flat
    assert max(len(line) for line in out.splitlines()) <= 80


def test_a_capped_r_is_marked(make_record: Make) -> None:
    out = render(make_record(energy_kwh=0.05))  # over the 0.02 kWh scale
    row = next(line for line in out.splitlines() if "R (energy)" in line)
    assert "1.000 (capped)" in row
    assert "capped" not in render(make_record(energy_kwh=0.01))


def test_tiny_energies_have_no_scientific_notation(make_record: Make) -> None:
    out = render(make_record(energy_kwh=9.286e-08))
    assert "92.9 µWh" in out
    assert "e-0" not in out


def test_repeats_end_with_a_summary(make_record: Make) -> None:
    runs = [make_record(energy_kwh=e, performance=0.9) for e in (0.008, 0.010, 0.009)]
    console = Console(width=80, record=True, markup=False, highlight=False)
    print_repeats(runs, console)
    out = console.export_text()
    assert "over 3 repeats: 3 ok" in out
    energy = next(line for line in out.splitlines() if line.lstrip().startswith("energy"))
    assert "9 Wh (range 8 Wh to 10 Wh), ±11.1%" in energy
    assert "PePR-E" in out


def test_run_repeats_prints_the_summary_last(tmp_path: Path) -> None:
    job = [sys.executable, "-c", "import json; json.dump({'acc': 0.8}, open('m.json', 'w'))"]
    (tmp_path / "pepr.toml").write_text(textwrap.dedent(f"""\
        [[run.stages]]
        name = "train"
        cmd = {json.dumps(job)}
        [performance]
        file = "m.json"
        key = "acc"
        [score.scale]
        energy = 0.001
        """), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "pepr_gate", "run", "--meter", "process",
                           "--no-store", "--repeats", "2"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env={**os.environ,
                                                       "COLUMNS": "80"}, check=False)
    assert proc.returncode == 0, proc.stderr
    tail = proc.stdout[proc.stdout.rindex("record: "):]
    assert "over 2 repeats: 2 ok" in tail and "PePR-E" in tail
    assert max(len(line) for line in proc.stdout.splitlines()
               if not line.startswith("record: ")) <= 80
