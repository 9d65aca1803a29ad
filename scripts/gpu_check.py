"""Check pepr-gate's GPU metering end to end on a real NVIDIA GPU; prints one JSON line.

    python scripts/gpu_check.py [--seconds 20] [--out FILE]

Needs torch with CUDA, nvidia-ml-py and pepr-gate importable (`PYTHONPATH=$PWD`). Under
3 minutes. Beside pepr-gate, an independent sampler thread reads NVML at 10 Hz through
`pynvml` directly (energy counter, nvmlDeviceGetPowerUsage and the instantaneous-power
field), so pepr-gate's figures are checked against readings it did not make:

1. idle: 5 s with no CUDA context, then the GPU's idle power (counter and power reading);
2. CUDA_VISIBLE_DEVICES: index, `GPU-` UUID, UUID prefix, `NoDevFiles` (alone and after
   an index), `-1` and empty,
   each resolved by pepr-gate and listed by torch in a child process; they must agree;
3. `pepr-gate run --no-store -- python job.py` (a torch training job, 3 s busy / 1 s
   idle) with CUDA_VISIBLE_DEVICES set to the GPU's UUID: the recorded GPU energy must
   lie between the independent counter's delta over the job's own span and over the
   whole `pepr-gate` process; NVML's per-process peak memory vs the job's
   `torch.cuda.max_memory_reserved`; load power: counter vs 10 Hz power readings;
4. pepr-gate's real MeterSession with the energy counter hidden from it, so it
   integrates power at 10 Hz (instantaneous field where the driver has it), against the
   independent counter over the same window.

The report is also written to FILE, or to $OUT/gpu_check.json when $OUT is set. Exits 2
with {"ok": false, "error": ...} on a machine without a usable NVIDIA GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# (monotonic s, counter mJ, nvmlDeviceGetPowerUsage mW, instantaneous field mW)
Row = tuple[float, float | None, float | None, float | None]

JOB = textwrap.dedent('''\
    import json, sys, time
    t_start = time.monotonic()
    import torch
    seconds, out = float(sys.argv[1]), sys.argv[2]
    dev = torch.device("cuda:0")
    model = torch.nn.Sequential(
        torch.nn.Linear(8192, 8192), torch.nn.GELU(), torch.nn.Linear(8192, 8192),
        torch.nn.GELU(), torch.nn.Linear(8192, 10)).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(4096, 8192, device=dev)
    y = torch.randint(0, 10, (4096,), device=dev)
    torch.cuda.synchronize()
    t_load = time.monotonic()
    steps = 0
    while time.monotonic() - t_load < seconds:
        if (time.monotonic() - t_load) % 4.0 < 3.0:  # 3 s of training, 1 s of waiting
            opt.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
            steps += 1
            if steps % 4 == 0:
                torch.cuda.synchronize()
        else:
            torch.cuda.synchronize()
            time.sleep(0.05)
    torch.cuda.synchronize()
    json.dump({"t_start": t_start, "t_load": t_load, "t_end": time.monotonic(),
               "steps": steps, "max_reserved": torch.cuda.max_memory_reserved(),
               "max_allocated": torch.cuda.max_memory_allocated()}, open(out, "w"))
''')

TORCH_DEVICES = (
    "import json, torch\n"
    "n = torch.cuda.device_count() if torch.cuda.is_available() else 0\n"
    "print(json.dumps([str(torch.cuda.get_device_properties(i).uuid) for i in range(n)]))\n"
)


class Failed(Exception):
    pass


# -- the independent sampler and its arithmetic (no pepr-gate code) ----------------------
class Sampler(threading.Thread):
    """Reads counter, power and instantaneous power at `hz` from its own thread."""

    def __init__(self, nvml: Any, handle: Any, hz: float = 10.0) -> None:
        super().__init__(name="gpu-check-sampler", daemon=True)
        self.nvml, self.handle, self.period = nvml, handle, 1.0 / hz
        # held here so that hiding the counter from pepr-gate (part 4) does not hide it here
        self.counter_fn = nvml.nvmlDeviceGetTotalEnergyConsumption
        self.rows: list[Row] = []
        self.halt = threading.Event()

    def _one(self, fn: Callable[[], Any]) -> float | None:
        try:
            return float(fn())
        except self.nvml.NVMLError:
            return None

    def _instant(self) -> float:
        (v,) = self.nvml.nvmlDeviceGetFieldValues(self.handle,
                                                  [self.nvml.NVML_FI_DEV_POWER_INSTANT])
        if v.nvmlReturn != 0:
            raise self.nvml.NVMLError(v.nvmlReturn)
        return float(v.value.uiVal)

    def read(self) -> None:
        counter = self._one(lambda: self.counter_fn(self.handle))
        t = time.monotonic()  # between the counter and the power reads
        power = self._one(lambda: self.nvml.nvmlDeviceGetPowerUsage(self.handle))
        self.rows.append((t, counter, power, self._one(self._instant)))

    def run(self) -> None:
        due = time.monotonic()
        while not self.halt.is_set():
            self.read()
            due += self.period
            self.halt.wait(max(0.0, due - time.monotonic()))
        self.read()

    def finish(self) -> list[Row]:
        self.halt.set()
        self.join()
        return self.rows


def counter_at(rows: Sequence[Row], t: float) -> float | None:
    """The counter (mJ) at time t, linear between the two samples around it."""
    pts = [(r[0], r[1]) for r in rows if r[1] is not None]
    for (t0, e0), (t1, e1) in pairwise(pts):
        if t0 <= t <= t1:
            return e0 + (e1 - e0) * ((t - t0) / (t1 - t0) if t1 > t0 else 0.0)
    return None


def trapezoid_j(rows: Sequence[Row], col: int) -> float | None:
    pts = [(r[0], r[col]) for r in rows]
    if len(pts) < 2 or any(p is None for _, p in pts):
        return None
    return sum((t1 - t0) * ((p0 or 0) + (p1 or 0)) / 2e3
               for (t0, p0), (t1, p1) in pairwise(pts))


def span(rows: Sequence[Row], a: float, b: float) -> dict[str, Any]:
    """Energy over [a, b] by the counter (interpolated at the edges) and by the power
    readings (trapezoids of the samples inside), in joules."""
    inside = [r for r in rows if a <= r[0] <= b]
    e0, e1 = counter_at(rows, a), counter_at(rows, b)
    gaps = [y[0] - x[0] for x, y in pairwise(inside)]
    return {
        "s": round(b - a, 3),
        "counter_J": None if e0 is None or e1 is None else round((e1 - e0) / 1e3, 2),
        "power_usage_J": _round(trapezoid_j(inside, 2)),
        "instant_J": _round(trapezoid_j(inside, 3)),
        "samples": len(inside),
        "max_gap_s": round(max(gaps), 3) if gaps else None,
    }


def _round(x: float | None, digits: int = 2) -> float | None:
    return None if x is None else round(x, digits)


def rel(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else round((a - b) / b, 4)


def same_uuid(u: str) -> str:
    """Compare UUIDs as CUDA and NVML print them: without the GPU-/MIG- prefix, lowercase."""
    u = u.strip().lower()
    return u.split("-", 1)[1] if u[:4] in ("gpu-", "mig-") else u


def cvd_forms(uuid: str) -> list[str | None]:
    return [None, "0", uuid, uuid[:12], "NoDevFiles", "0,NoDevFiles", "-1", ""]


# -- the parts ------------------------------------------------------------------------------
def check_cvd(gpus: Sequence[Any], env: dict[str, str]) -> list[dict[str, Any]]:
    """Each form, resolved by pepr-gate and listed by torch (children run in parallel)."""
    from pepr_gate.errors import InputError
    from pepr_gate.measure.meter.devices import parse_visible, resolve

    runs = []
    for value in cvd_forms(gpus[0].uuid):
        child_env = {k: v for k, v in env.items() if k != "CUDA_VISIBLE_DEVICES"}
        if value is not None:
            child_env["CUDA_VISIBLE_DEVICES"] = value
        proc = subprocess.Popen([sys.executable, "-c", TORCH_DEVICES], env=child_env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        runs.append((value, child_env, proc))
    out = []
    for value, child_env, proc in runs:
        stdout, stderr = proc.communicate(timeout=120)
        try:
            pepr: Any = [same_uuid(t.mig.uuid if t.mig else t.gpu.uuid)
                         for t in resolve(parse_visible(child_env), gpus).targets]
        except InputError as exc:
            pepr = f"InputError: {exc.message}"
        torch_list = ([same_uuid(u) for u in json.loads(stdout)] if proc.returncode == 0
                      else f"torch failed: {stderr.strip()[-200:]}")
        out.append({"value": value, "pepr_gate": pepr, "torch": torch_list,
                    "match": pepr == torch_list})
    return out


def pepr_gate_run(tmp: Path, env: dict[str, str], seconds: float, sampler: Sampler,
                  uuid: str) -> dict[str, Any]:
    """`pepr-gate run` of the training job, bracketed by the independent counter."""
    run_env = dict(env, CUDA_VISIBLE_DEVICES=uuid)
    t_a = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "pepr_gate", "run", "--no-store", "--meter",
                        "auto", "--out", str(tmp / "record.json"), "--", sys.executable,
                        str(tmp / "job.py"), str(seconds), str(tmp / "job.json")],
                       cwd=tmp, env=run_env, capture_output=True, text=True, timeout=300)
    t_b = time.monotonic()
    time.sleep(3 * sampler.period)  # a sample after t_b, to interpolate the counter at it
    if r.returncode != 0:
        raise Failed(f"pepr-gate run exited {r.returncode}: {r.stderr.strip()[-800:]}")
    rows = list(sampler.rows)
    rec = json.loads((tmp / "record.json").read_text())
    job = json.loads((tmp / "job.json").read_text())
    gpu = [c for c in rec["components"] if c["kind"] == "gpu" and c["counts_toward_total"]]
    recorded_j = sum(c["energy_kwh"] or 0.0 for c in gpu) * 3.6e6
    inner = span(rows, job["t_start"], job["t_end"])
    outer = span(rows, t_a, t_b)
    load = span(rows, job["t_load"], job["t_end"])
    mem = rec["resources"]["gpu_peak_memory_bytes"]
    return {
        "recorded_gpu_J": round(recorded_j, 2),
        "counter_job_J": inner["counter_J"], "counter_whole_command_J": outer["counter_J"],
        "bracketed": (inner["counter_J"] is not None and outer["counter_J"] is not None
                      and inner["counter_J"] * 0.98 <= recorded_j <= outer["counter_J"] * 1.02),
        "recorded_vs_job_counter": rel(recorded_j, inner["counter_J"]),
        "duration_s": rec["resources"]["duration_s"],
        "job_s": round(job["t_end"] - job["t_start"], 3),
        "command_s": round(t_b - t_a, 3),
        "energy_method": rec["resources"]["energy_method"],
        "gpu": [{k: c.get(k) for k in ("name", "method", "detail", "scope", "coverage")}
                | {"power_reading": c["extra"].get("power_reading"),
                   "power_samples": c["extra"].get("power_samples"), "notes": c["notes"]}
                for c in gpu],
        "visible_uuids": [g["uuid"] for g in rec["hardware"]["gpus"] if g["visible"]],
        "low_confidence": rec["low_confidence"], "exclusive": rec["exclusive"],
        "notes": rec["notes"],
        "memory": {"nvml_job_peak_bytes": mem, "torch_max_reserved_bytes": job["max_reserved"],
                   "torch_max_allocated_bytes": job["max_allocated"],
                   "nvml_minus_reserved_MiB": None if mem is None else
                   round((mem - job["max_reserved"]) / 2**20, 1)},
        "load": {**load, "W_counter": _round(load["counter_J"] / load["s"], 1)
                 if load["counter_J"] is not None else None,
                 "power_usage_vs_counter": rel(load["power_usage_J"], load["counter_J"]),
                 "instant_vs_counter": rel(load["instant_J"], load["counter_J"])},
        "train_steps": job["steps"],
    }


def integration(tmp: Path, env: dict[str, str], seconds: float, sampler: Sampler,
                nvml: Any) -> dict[str, Any]:
    """pepr-gate's own MeterSession, told the counter is unsupported, integrating power."""
    from unittest import mock

    from pepr_gate.measure.meter.base import MeterSession, Window
    from pepr_gate.measure.meter.nvml import NvmlSource

    def unsupported(handle: Any) -> int:
        raise nvml.NVMLError(nvml.NVML_ERROR_NOT_SUPPORTED)

    with mock.patch.object(nvml, "nvmlDeviceGetTotalEnergyConsumption", unsupported):
        src = NvmlSource(env)
        session = MeterSession([src], name="nvml")
        session.open()
        t0 = session.t_start
        job = subprocess.Popen([sys.executable, str(tmp / "job.py"), str(seconds),
                                str(tmp / "job2.json")], env=env)
        session.track(job.pid)
        job.wait(timeout=300)
        t1 = time.monotonic()
        result = session.close(Window(t0, t1))
    time.sleep(3 * sampler.period)
    if job.returncode != 0:
        raise Failed(f"the training job exited {job.returncode}")
    comp = next(c for c in result.components if c.kind == "gpu" and c.counts_toward_total)
    ref = span(list(sampler.rows), t0, t1)
    got = (comp.energy_kwh or 0.0) * 3.6e6
    return {"detail": comp.detail, "power_reading": comp.extra.get("power_reading"),
            "coverage": comp.coverage, "power_samples": comp.extra.get("power_samples"),
            "pepr_gate_J": round(got, 2), "counter_J": ref["counter_J"],
            "vs_counter": rel(got, ref["counter_J"]), "s": ref["s"],
            "low_confidence": result.low_confidence, "notes": comp.notes,
            "sampler_cpu_s": round(result.sampler_cpu_s, 3)}


def verdicts(r: dict[str, Any]) -> dict[str, Any]:
    e2e, integ = r["e2e"], r["integration"]
    diff = e2e["memory"]["nvml_minus_reserved_MiB"]
    return {
        "cvd_all_agree": all(c["match"] for c in r["cvd"]),
        "e2e_recorded_between_independent_counter_reads": e2e["bracketed"],
        "e2e_counter_used": [g["detail"] for g in e2e["gpu"]] == ["counter"],
        "e2e_visible_is_the_named_uuid": e2e["visible_uuids"] == [r["uuid"]],
        "e2e_nvml_memory_0_to_2GiB_above_torch_reserved": diff is not None and 0 <= diff <= 2048,
        "integration_within_5pct_of_counter": integ["vs_counter"] is not None
        and abs(integ["vs_counter"]) <= 0.05,
        "idle_below_load": (r["idle"]["W_counter"] or 0) < (e2e["load"]["W_counter"] or 0),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="training seconds per job")
    ap.add_argument("--out", type=Path, help="also write the report here")
    args = ap.parse_args(argv)
    out = args.out or (Path(os.environ["OUT"]) / "gpu_check.json" if os.environ.get("OUT")
                       else None)
    try:
        report = check(args.seconds)
        code = 0
    except Failed as exc:
        report, code = {"ok": False, "error": str(exc)}, 2
    line = json.dumps(report, separators=(",", ":"), default=str)
    print(line, flush=True)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(line + "\n")
    return code


def check(seconds: float) -> dict[str, Any]:
    try:
        import pynvml
        import torch
    except ImportError as exc:
        raise Failed(f"{exc.name} is not importable: needs torch with CUDA and "
                     "nvidia-ml-py") from None
    if not torch.cuda.is_available():
        raise Failed("torch sees no CUDA GPU (no NVIDIA GPU or driver, or a CPU build of torch)")
    from pepr_gate.measure.meter.devices import parse_visible
    from pepr_gate.measure.meter.nvml_discover import discover
    from pepr_gate.measure.meter.nvml_errors import Nvml, NvmlFailure

    env = {k: v for k, v in os.environ.items()
           if k not in ("CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), str(ROOT)) if p)
    try:
        lib = Nvml.open()
        t = time.perf_counter()
        driver, cuda, devices, _ = discover(lib, parse_visible({}))
    except NvmlFailure as f:
        raise Failed(f"NVML: {f.reason}; {f.hint}") from None
    discover_s = time.perf_counter() - t
    dev0 = devices[0]
    report: dict[str, Any] = {
        "ok": True, "gpu": dev0.gpu.name, "uuid": dev0.gpu.uuid, "gpus": len(devices),
        "compute_capability": dev0.gpu.compute_capability, "driver": driver, "cuda": cuda,
        "torch": torch.__version__, "nvml_discover_s": round(discover_s, 3),
        "power_limit_W": pynvml.nvmlDeviceGetEnforcedPowerLimit(dev0.handle) / 1e3,
    }
    with tempfile.TemporaryDirectory(prefix="pepr-gpu-check-") as d:
        tmp = Path(d)
        (tmp / "job.py").write_text(JOB)
        sampler = Sampler(pynvml, dev0.handle)
        sampler.start()
        try:
            time.sleep(5.0)  # idle: no CUDA context yet
            idle = span(list(sampler.rows), sampler.rows[0][0], sampler.rows[-1][0])
            report["idle"] = {**idle, "W_counter": _round((idle["counter_J"] or 0) / idle["s"], 1),
                              "W_power_usage": _round((idle["power_usage_J"] or 0) / idle["s"],
                                                      1)}
            report["cvd"] = check_cvd([x.gpu for x in devices], env)
            report["e2e"] = pepr_gate_run(tmp, env, seconds, sampler, dev0.gpu.uuid)
            report["integration"] = integration(tmp, dict(env, CUDA_VISIBLE_DEVICES="0"),
                                                min(seconds, 15.0), sampler, pynvml)
        finally:
            rows = sampler.finish()
            lib.shutdown()
    gaps = [b[0] - a[0] for a, b in pairwise(rows)]
    report["sampler"] = {"samples": len(rows), "max_gap_s": round(max(gaps), 3) if gaps else None,
                         "instant_field": any(r[3] is not None for r in rows)}
    report["verdicts"] = verdicts(report)
    return report


if __name__ == "__main__":
    raise SystemExit(main())
