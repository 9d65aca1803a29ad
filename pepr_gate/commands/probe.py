"""`pepr-gate probe [--json]`: what this machine can measure, and why not.

The first thing to run on a new runner: it opens NVML and RAPL the way `pepr-gate run`
does, tries every reading once, and explains each one that fails. Always exits 0: a
machine that can measure nothing is a finding, not an error.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

PROBE_SCHEMA = "pepr-gate/probe/1"


def register(sub: Any) -> None:
    p = sub.add_parser(
        "probe",
        help="show what this machine can measure (NVML, RAPL, container) and why not",
        description="Try every reading pepr-gate takes (GPU energy counter, power, "
                    "process lists, RAPL) once and explain what is missing.",
    )
    p.add_argument("--json", action="store_true", help="print the findings as JSON")
    p.add_argument("--powercap", type=Path, default=Path("/sys/class/powercap"),
                   metavar="DIR", help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def _check(lib: Any, name: str, *args: Any) -> tuple[Any, dict[str, Any]]:
    from pepr_gate.measure.meter.nvml_errors import NvmlFailure

    try:
        return lib.call(name, *args), {"ok": True}
    except NvmlFailure as f:
        return None, {"ok": False, "reason": f.reason, "hint": f.hint}


def probe_gpus(env: dict[str, str]) -> dict[str, Any]:
    from pepr_gate.errors import InputError
    from pepr_gate.measure.meter.devices import VisibleSpec, parse_visible
    from pepr_gate.measure.meter.nvml_device import (
        AVERAGED_NOTE,
        FEATURE_ENABLED,
        averaged_power,
    )
    from pepr_gate.measure.meter.nvml_discover import discover
    from pepr_gate.measure.meter.nvml_errors import Nvml, NvmlFailure, check_binding

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


def _yes(ok: bool) -> str:
    return "[green]yes[/green]" if ok else "[red]no[/red]"


def _print(findings: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    table = Table(title="pepr-gate probe: what this machine can measure")
    for col in ("reading", "available", "why not / how"):
        table.add_column(col, overflow="fold")
    nv = findings["nvml"]
    table.add_row("NVML (GPU telemetry)", _yes(nv["available"]),
                  escape(nv.get("reason") or f"driver {nv.get('driver_version')}, "
                                             f"CUDA {nv.get('cuda_version')}"))
    for g in nv["gpus"]:
        label = f"GPU {g['index']} {g['name']}" + ("" if g["visible"] else " (not visible)")
        table.add_row(escape(label), escape(g["energy_method"]), escape(g["uuid"]))
        for key, name in (("energy_counter", "  energy counter"), ("power", "  power sampling"),
                          ("process_lists", "  process lists"), ("utilization", "  utilisation")):
            r = g[key]
            table.add_row(name, _yes(r["ok"]), escape(r.get("reason") or r.get("note") or ""))
        if g["mig"]:
            table.add_row("  MIG", "enabled", "energy of a slice is the whole GPU's (shared)")
    rapl = findings["rapl"]
    doms = ", ".join(d["name"] for d in rapl["domains"])
    table.add_row("RAPL (CPU/DRAM energy)", _yes(rapl["readable"]),
                  escape(rapl["reason"] or f"domains: {doms}"))
    table.add_row("container", "yes" if findings["container"] else "no", "")
    console.print(table)
    for line in ([nv.get("hint")] if not nv["available"] else []) + (
        [rapl["hint"]] if not rapl["readable"] else []
    ):
        if line:
            console.print(f"hint: {escape(line)}")
    cvd = nv["cuda_visible_devices"]
    for msg in [*cvd.get("problems", []), *cvd.get("notes", [])]:
        console.print(f"CUDA_VISIBLE_DEVICES: {escape(msg)}")
    if nv.get("deprecated_pynvml"):
        console.print(f"warning: {escape(nv['deprecated_pynvml'])}; fix: pip uninstall -y "
                      "pynvml && pip install --force-reinstall nvidia-ml-py")
    s = findings["summary"]
    console.print(f"GPU energy: {s['gpu_energy']}; CPU energy: {s['cpu_energy']}")


def run(args: argparse.Namespace) -> int:
    findings = collect(args.powercap, dict(os.environ))
    if args.json:
        print(json.dumps(findings, indent=2))
    else:
        _print(findings)
    return 0
