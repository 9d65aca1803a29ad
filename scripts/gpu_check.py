"""Check pepr-gate's GPU metering against a real NVIDIA GPU; prints one JSON report.

    python scripts/gpu_check.py [--seconds 60]

About a minute of real CUDA training (a small MLP on random data, torch) on the first
visible GPU while pepr-gate's NvmlSource meters it, then:

- energy counter delta vs 10 Hz power integration of the same window (relative difference);
- microseconds per NVML call (energy counter, power, memory, utilisation, process list);
- CUDA_VISIBLE_DEVICES mapping: torch's device UUID vs the UUID pepr-gate resolved;
- per-process memory from NVML's process list vs torch.cuda.max_memory_reserved.

Exits 2 with a clear message on a machine without a usable NVIDIA GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def fail(msg: str) -> None:
    print(json.dumps({"ok": False, "error": msg}), flush=True)
    print(f"gpu_check: {msg}", file=sys.stderr)
    raise SystemExit(2)


def time_calls(lib: Any, handle: Any, n: int = 200) -> dict[str, float]:
    from pepr_gate.measure.meter.nvml_errors import NvmlFailure

    out = {}
    for name in ("nvmlDeviceGetTotalEnergyConsumption", "nvmlDeviceGetPowerUsage",
                 "nvmlDeviceGetMemoryInfo", "nvmlDeviceGetUtilizationRates",
                 "nvmlDeviceGetComputeRunningProcesses"):
        try:
            lib.call(name, handle)
        except NvmlFailure:  # an unsupported call is reported as -1, not timed
            out[name] = -1.0
            continue
        t0 = time.perf_counter()
        for _ in range(n):
            lib.call(name, handle)
        out[name] = round((time.perf_counter() - t0) / n * 1e6, 2)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    args = ap.parse_args()

    from pepr_gate.measure.meter.base import Window
    from pepr_gate.measure.meter.nvml import NvmlSource
    from pepr_gate.measure.meter.nvml_device import discover
    from pepr_gate.measure.meter.nvml_errors import Nvml, NvmlFailure

    try:
        import torch
    except ImportError:
        fail("torch is not installed (pip install torch with CUDA support)")
    if not torch.cuda.is_available():
        fail("no CUDA GPU is visible to torch (no NVIDIA GPU, driver, or CUDA build of torch)")
    try:
        lib = Nvml.open()
    except NvmlFailure as f:
        fail(f"NVML unavailable: {f.reason}; {f.hint}")

    src = NvmlSource(dict(os.environ))
    _, _, devices, resolution = discover(lib, src.spec)
    if not resolution.targets:
        fail(f"CUDA_VISIBLE_DEVICES resolves to no GPU: {resolution.problems}")
    target = resolution.targets[0]
    handle = next(d.handle for d in devices if d.gpu.uuid == target.gpu.uuid)
    timings = time_calls(lib, handle)

    torch_uuid = None
    props = torch.cuda.get_device_properties(0)
    if hasattr(props, "uuid"):
        torch_uuid = "GPU-" + str(props.uuid)
    expected = target.mig.uuid if target.mig else target.gpu.uuid

    dev = torch.device("cuda:0")
    model = torch.nn.Sequential(torch.nn.Linear(4096, 4096), torch.nn.ReLU(),
                                torch.nn.Linear(4096, 4096), torch.nn.ReLU(),
                                torch.nn.Linear(4096, 10)).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    x = torch.randn(2048, 4096, device=dev)
    y = torch.randint(0, 10, (2048,), device=dev)
    torch.cuda.synchronize()

    # The same window metered twice: the source's own counter, and 10 Hz integration.
    src.start(time.monotonic())
    me = frozenset({os.getpid()})
    nvml_dev = next(d for d in src._devices if d.gpu.uuid == target.gpu.uuid)
    t_end = time.monotonic() + args.seconds
    next_fast = next_slow = time.monotonic()
    steps = 0
    sampler_s = 0.0
    while time.monotonic() < t_end:
        for _ in range(20):
            opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            steps += 1
        torch.cuda.synchronize()
        now = time.monotonic()
        s0 = time.perf_counter()
        while next_fast <= now:  # keep 10 Hz even when a batch of steps took longer
            nvml_dev.read_power(now)
            next_fast += 0.1
        if now >= next_slow:
            src.sample(now, me)
            next_slow = now + 1.0
        sampler_s += time.perf_counter() - s0
    t1 = time.monotonic()
    src.stop(t1)
    result = src.result(Window(src._t0, t1))
    comp = next(c for c in result.components if c.extra.get("uuid") == target.gpu.uuid)
    integral_kwh = nvml_dev.integral_mj() / 3.6e9
    counter_kwh = comp.energy_kwh if comp.detail == "counter" else None
    reserved = torch.cuda.max_memory_reserved(0)
    nvml_mem = result.gpu_peak_memory_bytes
    report = {
        "ok": True,
        "gpu": target.gpu.name,
        "uuid": target.gpu.uuid,
        "driver_version": result.driver_version,
        "cuda_version": result.cuda_version,
        "torch": torch.__version__,
        "seconds": round(t1 - src._t0, 2),
        "train_steps": steps,
        "energy": {
            "method": comp.detail,
            "counter_kwh": counter_kwh,
            "power_integration_kwh": integral_kwh,
            "power_samples": len(nvml_dev.power),
            "relative_difference": (abs(integral_kwh - counter_kwh) / counter_kwh
                                    if counter_kwh else None),
            "mean_power_w": integral_kwh * 3.6e6 / (t1 - src._t0),
            "mean_utilization": comp.extra.get("mean_utilization"),
        },
        "nvml_call_us": timings,
        "sampling_s_per_run_s": round(sampler_s / (t1 - src._t0), 5),
        "uuid_mapping": {
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "pepr_gate": expected, "torch": torch_uuid,
            "match": (torch_uuid == expected) if torch_uuid else None,
        },
        "memory": {
            "nvml_job_peak_bytes": nvml_mem,
            "torch_max_memory_reserved_bytes": reserved,
            "ratio": (nvml_mem / reserved) if nvml_mem and reserved else None,
            "exclusive": result.exclusive,
        },
        "notes": result.notes + comp.notes,
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
