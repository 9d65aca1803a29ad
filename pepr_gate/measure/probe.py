"""What this machine can measure, and why not: every reading `pepr-gate run` takes, tried once.

Opens NVML and RAPL the way the meter session does and returns the findings as plain data
(the `pepr-gate/probe/1` JSON document); `pepr_gate.publish.probe_table` prints them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

PROBE_SCHEMA = "pepr-gate/probe/1"


def _check(lib: Any, name: str, *args: Any) -> tuple[Any, dict[str, Any]]:
    from pepr_gate.measure.meter.nvml_errors import NvmlFailure

    try:
        return lib.call(name, *args), {"ok": True}
    except NvmlFailure as f:
        return None, {"ok": False, "reason": f.reason, "hint": f.hint}


def probe_gpus(env: dict[str, str]) -> dict[str, Any]:
    from pepr_gate.errors import InputError
    from pepr_gate.measure.meter.devices import VisibleSpec, parse_visible
    from pepr_gate.measure.meter.nvml_device import FEATURE_ENABLED
    from pepr_gate.measure.meter.nvml_discover import discover
    from pepr_gate.measure.meter.nvml_errors import Nvml, NvmlFailure, check_binding
    from pepr_gate.measure.meter.nvml_power import AVERAGED_NOTE, averaged_power

    out: dict[str, Any] = {"available": False, "gpus": [], "deprecated_pynvml": check_binding(),
                           "cuda_visible_devices": {"value": env.get("CUDA_VISIBLE_DEVICES")}}
    try:
        spec = parse_visible(env)
    except InputError as exc:
        out["cuda_visible_devices"]["problems"] = [exc.message]
        spec = VisibleSpec(raw=None, entries=())
    try:
        lib = Nvml.open()
    except NvmlFailure as f:
        out.update(reason=f.reason, hint=f.hint, error=f.kind)
        return out
    try:
        driver, cuda, devices, resolution = discover(lib, spec)
    except NvmlFailure as f:
        lib.shutdown()  # NVML stays open otherwise, holding its handles until we exit
        out.update(reason=f.reason, hint=f.hint, error=f.kind)
        return out
    out.update(available=True, driver_version=driver, cuda_version=cuda)
    cvd = out["cuda_visible_devices"]
    cvd["visible"] = [t.mig.uuid if t.mig else t.gpu.uuid for t in resolution.targets]
    cvd.setdefault("problems", []).extend(resolution.problems)
    cvd["notes"] = resolution.notes
    for d in devices:
        h = d.handle
        _, counter = _check(lib, "nvmlDeviceGetTotalEnergyConsumption", h)
        _, power = _check(lib, "nvmlDeviceGetPowerUsage", h)
        if power["ok"] and averaged_power(d.gpu):
            power["note"] = AVERAGED_NOTE
        _, procs = _check(lib, "nvmlDeviceGetComputeRunningProcesses", d.proc_handles[0][1])
        _, util = _check(lib, "nvmlDeviceGetUtilizationRates", h)
        accounting, _ = _check(lib, "nvmlDeviceGetAccountingMode", h)
        limit, _ = _check(lib, "nvmlDeviceGetEnforcedPowerLimit", h)
        method = ("counter" if counter["ok"] else
                  "power-integration" if power["ok"] else "unavailable")
        out["gpus"].append({
            "index": d.gpu.index, "uuid": d.gpu.uuid, "name": d.gpu.name,
            "visible": d.visible, "energy_method": method,
            "energy_counter": counter, "power": power, "process_lists": procs,
            "utilization": util, "mig": [s.uuid for s in d.gpu.mig],
            "accounting_mode": accounting == FEATURE_ENABLED,
            "power_limit_w": limit / 1000 if isinstance(limit, int) else None,
        })
    lib.shutdown()
    return out


def collect(powercap: Path, env: dict[str, str]) -> dict[str, Any]:
    from pepr_gate.measure.hardware import in_container
    from pepr_gate.measure.meter.rapl import probe_rapl

    gpu = probe_gpus(env)
    rapl = probe_rapl(powercap)
    visible = [g for g in gpu["gpus"] if g["visible"]]
    methods = sorted({g["energy_method"] for g in visible})
    return {
        "schema": PROBE_SCHEMA,
        "nvml": gpu,
        "rapl": {"readable": rapl.readable, "reason": rapl.reason, "hint": rapl.hint,
                 "domains": rapl.domains},
        "container": in_container(),
        "summary": {
            "gpu_energy": "/".join(methods) if methods else "unavailable",
            "cpu_energy": "rapl" if rapl.readable else "estimate",
        },
    }
