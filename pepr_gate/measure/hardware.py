"""The machine a run was measured on, and a stable fingerprint for comparing runs.

The fingerprint hashes what changes the numbers between machines of one runner pool:
CPU model, logical CPUs, RAM (rounded to GiB) and the visible GPUs' names and memory;
where a meter read them, each visible GPU's MIG profile (or `whole-gpu`) and enforced
power limit, and the NVIDIA driver's major version (a driver branch changes clocks and
power management). It leaves out GPU UUIDs, hostnames and driver minor versions, so
identical runners share baselines while a different card, slice, power cap or driver
branch never does. A run without GPUs hashes exactly what it did before these joined.
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
from pathlib import Path

import psutil

from pepr_gate.records import GpuInfo, Hardware


@functools.lru_cache(maxsize=1)
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


@functools.lru_cache(maxsize=1)
def cpu_topology(cpuinfo: str | None = None) -> tuple[int, bool]:
    """(CPU sockets, whether this is a virtual machine) from /proc/cpuinfo; (1, False) when
    unknown. A VM's sockets are virtual, so the caller should not trust them."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8")
        except OSError:
            return 1, False
    sockets: set[str] = set()
    vm = False
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "physical id":
            sockets.add(value.strip())
        elif key == "flags" and "hypervisor" in value.split():
            vm = True
    return max(1, len(sockets)), vm


def in_container() -> bool:
    if Path("/.dockerenv").exists() or Path("/run/.containerenv").exists():
        return True
    try:
        cgroup = Path("/proc/1/cgroup").read_text(encoding="utf-8")
    except OSError:
        return False
    return any(word in cgroup for word in ("docker", "kubepods", "containerd", "lxc"))


def fingerprint(model: str, cpus: int, ram_bytes: int, gpus: list[GpuInfo],
                driver_version: str | None = None) -> str:
    visible = sorted(_gpu_part(g) for g in gpus if g.visible)
    parts = [model, str(cpus), str(round(ram_bytes / 2**30)), *visible]
    major = driver_major(driver_version)
    if visible and major:
        parts.append(f"driver {major}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def _gpu_part(g: GpuInfo) -> str:
    part = f"{g.name}:{round((g.memory_total_bytes or 0) / 2**30)}"
    if g.mig_profile:
        part += f":{g.mig_profile}"
    if g.power_limit_w:
        part += f":{round(g.power_limit_w)}W"
    return part


def driver_major(version: str | None) -> str | None:
    """"550.54.15" -> "550"."""
    head = (version or "").strip().split(".", 1)[0]
    return head if head.isdigit() else None


def describe(
    gpus: list[GpuInfo] | None = None,
    driver_version: str | None = None,
    cuda_version: str | None = None,
) -> Hardware:
    model = cpu_model()
    cpus = os.cpu_count() or 1
    ram = psutil.virtual_memory().total
    gpu_list = gpus or []
    return Hardware(
        cpu_model=model,
        cpu_count=cpus,
        ram_bytes=ram,
        platform=f"{platform.system()} {platform.release()} {platform.machine()}",
        gpus=gpu_list,
        driver_version=driver_version,
        cuda_version=cuda_version,
        container=in_container(),
        fingerprint=fingerprint(model, cpus, ram, gpu_list, driver_version),
    )
