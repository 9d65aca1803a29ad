"""Measure the gate itself on a real NVIDIA GPU: run-to-run spread and verdict rates.

    PYTHONPATH=$PWD python scripts/gpu_gate_study.py [--repeats 20] [--out FILE]

Sized for about 8 minutes on an H100/H200 (an estimate: 20 repeats of two workloads of
about 10 s each, plus pepr-gate's start-up per run; never timed on a GPU yet). For each
of two workloads (the bundled example, examples/digits, and a torch GPU matmul loop at a
fixed duty cycle) it makes `--repeats`
real `pepr-gate run --no-store` runs with the NVML energy counter (`--meter auto`), then
reports:

- the per-run spread of the energy and of PePR-E (mean, standard deviation, coefficient
  of variation), and each run's GPU temperature at the start and end of its window;
  PePR-E is scored with the energy scale at twice the workload's median energy (R near
  0.5), so that an energy change moves it;
- the verdict rates of pepr-gate's own gate (`decide.gate.evaluate` / `evaluate_paired`)
  over those runs, each candidate judged against the runs before it:
  * false alarms: an identical-code candidate judged `fail` (and `warn`);
  * detection: the same candidate with its energy raised by 25 % and by 50 % at equal P
    (the GPU's real run-to-run noise, a known injected change) judged `fail`;
  in history mode (window 5, 1 repeat; and "auto": up to 5 candidate repeats, stopping at
  the first decided verdict, each look Bonferroni-corrected as `run --repeats auto` does)
  and in paired mode (4 base/head pairs of consecutive runs).

One JSON document goes to stdout (and FILE, or $OUT/gpu_gate_study.json when $OUT is set).
Without a usable NVIDIA GPU it prints {"ok": false, "error": ...} and exits 2; `--meter
replay:examples/traces/a100-train.json` runs the same study on a replayed GPU, which
checks the script but measures nothing (the report says so).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pepr_gate.config import load_config  # noqa: E402
from pepr_gate.decide.gate import Context, Settings, evaluate, evaluate_paired  # noqa: E402
from pepr_gate.records import RunRecord  # noqa: E402
from pepr_gate.score import rescore  # noqa: E402

WINDOW = 5
AUTO_MAX = 5
PAIRS = 4
CHANGES = (1.25, 1.5)

MATMUL_JOB = """\
import json, sys, time
import torch
busy, idle, cycles = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
cuda = torch.cuda.is_available()  # only a replayed-meter check of the script runs without
a = torch.randn(8192 if cuda else 512, 8192 if cuda else 512, device="cuda" if cuda else "cpu")
for _ in range(cycles):
    t = time.time()
    while time.time() - t < busy:
        b = a @ a
    if cuda:
        torch.cuda.synchronize()
    time.sleep(idle)
json.dump({"accuracy": 0.9}, open("metrics.json", "w"))
"""

MATMUL_TOML = """\
[[run.stages]]
name = "matmul"
cmd = ["python", "job.py", "2.0", "0.5", "4"]

[performance]
file = "metrics.json"
key = "accuracy"

[score]
resource = "energy"

[score.scale]
energy = 0.002

[gate]
window = 5
"""


def gpu_ready() -> str | None:
    """Why no NVIDIA GPU is usable here, or None."""
    try:
        import pynvml

        pynvml.nvmlInit()
        name = pynvml.nvmlDeviceGetName(pynvml.nvmlDeviceGetHandleByIndex(0))
        pynvml.nvmlShutdown()
    except Exception as exc:  # any failure means: no GPU to study
        return f"NVML not usable: {exc}"
    return None if name else "NVML found no GPU"


def gpu_name() -> str:
    try:
        import pynvml

        pynvml.nvmlInit()
        h = pynvml.nvmlDeviceGetHandleByIndex(0)
        name, driver = pynvml.nvmlDeviceGetName(h), pynvml.nvmlSystemGetDriverVersion()
        pynvml.nvmlShutdown()
        return f"{name} (driver {driver})"
    except Exception:
        return "unknown (no NVML)"


def workloads(tmp: Path) -> dict[str, Path]:
    example = tmp / "digits"
    shutil.copytree(ROOT / "examples" / "digits", example)
    matmul = tmp / "matmul"
    matmul.mkdir()
    (matmul / "job.py").write_text(MATMUL_JOB)
    (matmul / "pepr.toml").write_text(MATMUL_TOML)
    return {"example (digits)": example, "torch matmul 2 s on / 0.5 s off x4": matmul}


def measure(folder: Path, repeats: int, meter: str) -> list[RunRecord]:
    runs = []
    # the stages' `python` is this interpreter (the one with torch and pepr-gate)
    env = {**os.environ, "PYTHONPATH": str(ROOT),
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])}
    for i in range(repeats):
        out = folder / f"run-{i:02d}.json"
        proc = subprocess.run(
            [sys.executable, "-m", "pepr_gate", "run", "--no-store", "--meter", meter,
             "--out", str(out)], cwd=folder, env=env, capture_output=True, text=True,
            timeout=600, check=False)
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"run {i} in {folder.name} failed: {proc.stderr[-800:]}")
        runs.append(RunRecord.model_validate_json(out.read_text()))
    return runs


def spread(values: Sequence[float]) -> dict[str, float | None]:
    if len(values) < 2:
        return {"mean": None, "sd": None, "cv": None}
    mean, sd = statistics.fmean(values), statistics.stdev(values)
    return {"mean": mean, "sd": sd, "cv": sd / mean if mean else None}


def temperatures(run: RunRecord) -> dict[str, float | None]:
    gpus = [c for c in run.components if c.kind == "gpu" and c.counts_toward_total]
    state = gpus[0].extra.get("state", {}) if gpus else {}
    return {edge: (state.get(edge) or {}).get("temperature_c") for edge in ("start", "end")}


def scaled(run: RunRecord, factor: float) -> RunRecord:
    """The run with its energy x factor and everything else (P included) unchanged."""
    res = run.resources.model_copy(update={
        "energy_kwh": (run.resources.energy_kwh or 0) * factor,
        "energy_measured_kwh": (run.resources.energy_measured_kwh or 0) * factor})
    return run.model_copy(update={"resources": res, "id": f"{run.id}-x{factor:g}"})


Judge = Callable[[Sequence[RunRecord], Sequence[RunRecord]], str]


def history_rates(runs: list[RunRecord], settings: Settings) -> dict[str, Any]:
    ctx = Context(created_at=datetime.now(timezone.utc))
    out: dict[str, Any] = {}
    for label, factor in (("identical", 1.0), *((f"+{f - 1:.0%} energy", f) for f in CHANGES)):
        one, auto, looks = [], [], []
        for i in range(WINDOW, len(runs)):
            base, noise = runs[i - WINDOW:i], runs[:i]
            one.append(evaluate([scaled(runs[i], factor)], base, noise, settings, ctx).verdict)
            verdict, k = "inconclusive", 0
            for k in range(1, AUTO_MAX + 1):
                group = [scaled(r, factor) for r in runs[i:i + k]]
                if len(group) < k:
                    break
                s = dataclasses.replace(settings, looks=AUTO_MAX)
                verdict = evaluate(group, base, noise, s, ctx).verdict
                if verdict != "inconclusive":
                    break
            auto.append(verdict)
            looks.append(k)
        out[label] = {"1 repeat": rates(one), "auto": {**rates(auto),
                      "mean_repeats": statistics.fmean(looks) if looks else None}}
    return out


def paired_rates(runs: list[RunRecord], settings: Settings) -> dict[str, Any]:
    ctx = Context(created_at=datetime.now(timezone.utc))
    out: dict[str, Any] = {}
    for label, factor in (("identical", 1.0), *((f"+{f - 1:.0%} energy", f) for f in CHANGES)):
        verdicts = []
        for i in range(0, len(runs) - 2 * PAIRS + 1, 2):
            chunk = runs[i:i + 2 * PAIRS]
            base = chunk[0::2]
            head = [scaled(r, factor) for r in chunk[1::2]]
            verdicts.append(evaluate_paired(base, head, [], settings, ctx).verdict)
        out[label] = rates(verdicts)
    return out


def rates(verdicts: list[str]) -> dict[str, Any]:
    n = len(verdicts)
    return {"n": n, **{v: round(verdicts.count(v) / n, 3) if n else None
                       for v in ("pass", "warn", "fail", "inconclusive")}}


def study(folder: Path, repeats: int, meter: str) -> dict[str, Any]:
    t0 = time.time()
    runs = measure(folder, repeats, meter)
    energy = [r.resources.energy_kwh * 3.6e6 for r in runs if r.resources.energy_kwh]
    # R = 1 at twice the workload's median energy, so R sits near 0.5 and a change of the
    # energy moves PePR-E (a config's scale for a CPU run would cap R at 1 on a GPU)
    scale = 2 * statistics.median(energy) / 3.6e6 if energy else None
    settings = dataclasses.replace(Settings.from_config(load_config(folder / "pepr.toml")),
                                   scale=scale, scale_source="study: 2x the median energy")
    pepr = [p for r in runs if scale and (p := rescore(r, "energy", scale, "study").pepr)]
    return {
        "runs": len(runs), "seconds": round(time.time() - t0, 1), "energy_scale_kwh": scale,
        "energy_method": sorted({r.resources.energy_method for r in runs}),
        "energy_j": spread(energy), "pepr_e": spread(pepr),
        "gpu_temperature_c": [temperatures(r) for r in runs],
        "history_window_5": history_rates(runs, settings),
        "paired_4_pairs": paired_rates(runs, settings),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--meter", default="auto", help="auto (the NVML counter); replay:TRACE "
                    "only checks the script")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    if args.meter == "auto" and (why := gpu_ready()):
        print(json.dumps({"ok": False, "error": why}))
        return 2
    if args.repeats < WINDOW + AUTO_MAX:
        print(json.dumps({"ok": False, "error": f"--repeats must be {WINDOW + AUTO_MAX} or "
                          "more (a window of 5 and up to 5 candidate repeats)"}))
        return 2
    report: dict[str, Any] = {"ok": True, "gpu": gpu_name(), "meter": args.meter,
                              "measured": args.meter == "auto", "workloads": {}}
    with tempfile.TemporaryDirectory(prefix="pepr-gate-study-") as tmp:
        for name, folder in workloads(Path(tmp)).items():
            report["workloads"][name] = study(folder, args.repeats, args.meter)
    text = json.dumps(report, indent=1, default=str)
    print(text)
    out = args.out or (Path(os.environ["OUT"]) / "gpu_gate_study.json"
                       if os.environ.get("OUT") else None)
    if out is not None:
        out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

