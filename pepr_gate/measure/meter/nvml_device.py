"""One physical GPU under NVML: discovery, its readings over the window, its component."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Literal

from pepr_gate.measure.meter.devices import MigSlice, PhysicalGpu, Resolution, VisibleSpec, resolve
from pepr_gate.measure.meter.nvml_errors import Nvml, NvmlFailure, text
from pepr_gate.records import Component

MJ_PER_KWH = 3.6e9
MIG_ENABLED = 1
FEATURE_ENABLED = 1
AVERAGED_NOTE = (
    "nvmlDeviceGetPowerUsage is a 1 s average on Ampere and newer GPUs: short spikes are "
    "smoothed; the integral over a run of many seconds is still close"
)
Mode = Literal["counter", "power-integration", "unavailable"]


def job_tree(roots: frozenset[int]) -> set[int]:
    """The roots and every descendant still alive (NVML lists PIDs, not trees)."""
    import psutil

    pids = set(roots)
    for pid in roots:
        try:
            pids.update(c.pid for c in psutil.Process(pid).children(recursive=True))
        except (psutil.Error, OSError):
            continue
    return pids


def _try(lib: Nvml, name: str, *args: Any) -> Any:
    try:
        return lib.call(name, *args)
    except NvmlFailure:
        return None


def discover(
    lib: Nvml, spec: VisibleSpec
) -> tuple[str | None, str | None, list[Device], Resolution]:
    driver = _try(lib, "nvmlSystemGetDriverVersion")
    cuda_raw = _try(lib, "nvmlSystemGetCudaDriverVersion")
    cuda = f"{cuda_raw // 1000}.{cuda_raw % 1000 // 10}" if isinstance(cuda_raw, int) else None
    count = lib.call("nvmlDeviceGetCount", what="counting GPUs")
    gpus: list[PhysicalGpu] = []
    handles: dict[str, tuple[Any, dict[str, Any]]] = {}
    for i in range(count):
        h = lib.call("nvmlDeviceGetHandleByIndex", i, what=f"opening GPU {i}")
        uuid = text(lib.call("nvmlDeviceGetUUID", h, what=f"reading GPU {i}'s UUID"))
        pci = _try(lib, "nvmlDeviceGetPciInfo", h)
        cc = _try(lib, "nvmlDeviceGetCudaComputeCapability", h)
        slices, mig_handles = _mig(lib, h)
        gpus.append(PhysicalGpu(
            index=i, uuid=uuid, name=text(_try(lib, "nvmlDeviceGetName", h) or f"GPU {i}"),
            pci_bus_id=text(pci.busId) if pci is not None else "",
            compute_capability=(int(cc[0]), int(cc[1])) if cc else None,
            cores=_try(lib, "nvmlDeviceGetNumGpuCores", h), mig=tuple(slices)))
        handles[uuid] = (h, mig_handles)
    resolution = resolve(spec, gpus)
    devices = []
    for g in gpus:
        h, mig_handles = handles[g.uuid]
        mine = [t.mig for t in resolution.targets if t.gpu.uuid == g.uuid and t.mig]
        devices.append(Device(lib, g, h, visible=g.uuid in resolution.visible_uuids,
                              mig_visible=[m.uuid for m in mine],
                              proc_handles=list(mig_handles.values()) or [h]))
    return (text(driver) if driver else None), cuda, devices, resolution


def _mig(lib: Nvml, h: Any) -> tuple[list[MigSlice], dict[str, Any]]:
    mode = _try(lib, "nvmlDeviceGetMigMode", h)
    if not mode or mode[0] != MIG_ENABLED:
        return [], {}
    slices, handles = [], {}
    for j in range(_try(lib, "nvmlDeviceGetMaxMigDeviceCount", h) or 0):
        mh = _try(lib, "nvmlDeviceGetMigDeviceHandleByIndex", h, j)
        if mh is None:
            continue  # an empty slot
        uuid = text(lib.call("nvmlDeviceGetUUID", mh, what="reading a MIG device's UUID"))
        slices.append(MigSlice(uuid, j, _try(lib, "nvmlDeviceGetGpuInstanceId", mh),
                               _try(lib, "nvmlDeviceGetComputeInstanceId", mh)))
        handles[uuid] = mh
    return slices, handles


@dataclass
class Device:
    lib: Nvml
    gpu: PhysicalGpu
    handle: Any
    visible: bool
    mig_visible: list[str]
    proc_handles: list[Any]
    mode: Mode = "counter"
    reason: str | None = None
    hint: str | None = None
    e0_mj: int | None = None
    e1_mj: int | None = None
    power: list[tuple[float, float]] = field(default_factory=list)
    slow: list[dict[str, Any]] = field(default_factory=list)
    util: list[float] = field(default_factory=list)
    power_limit_w: float | None = None
    memory_total: int | None = None
    accounting: bool = False
    accounting_peak: int = 0
    lists_ok: bool = False
    job_seen: bool = False
    foreign: set[int] = field(default_factory=set)
    skipped: dict[str, str] = field(default_factory=dict)  # reading -> why it stopped
    notes: list[str] = field(default_factory=list)

    def open_window(self, t: float) -> None:
        limit = _try(self.lib, "nvmlDeviceGetEnforcedPowerLimit", self.handle)
        self.power_limit_w = limit / 1000 if isinstance(limit, int) else None
        mem = _try(self.lib, "nvmlDeviceGetMemoryInfo", self.handle)
        self.memory_total = int(mem.total) if mem is not None else None
        self.accounting = _try(self.lib, "nvmlDeviceGetAccountingMode",
                               self.handle) == FEATURE_ENABLED
        try:
            self.e0_mj = self.lib.call("nvmlDeviceGetTotalEnergyConsumption", self.handle,
                                       what="reading the energy counter")
            return
        except NvmlFailure as f:
            counter_failure = f
        if counter_failure.kind not in ("not-supported", "function-not-found"):
            self.mode = "unavailable"
            self.reason, self.hint = counter_failure.reason, counter_failure.hint
            return
        self.notes.append(
            f"no energy counter ({counter_failure.reason}): power integrated at 10 Hz")
        self.mode = "power-integration"
        if not self.visible:
            return
        try:
            self.power.append((t, self._watts()))
        except NvmlFailure as f:
            self.mode, self.reason, self.hint = "unavailable", f.reason, f.hint

    def _watts(self) -> float:
        mw = self.lib.call("nvmlDeviceGetPowerUsage", self.handle, what="reading GPU power")
        return float(mw) / 1000.0

    def read_power(self, t: float) -> None:
        if "power" in self.skipped:
            return
        try:
            self.power.append((t, self._watts()))
        except NvmlFailure as f:
            self.skipped["power"] = f.reason

    def read_slow(self, t: float, job: set[int]) -> tuple[int, int]:
        """Utilisation, memory and process lists; returns (job memory, device used memory)."""
        row: dict[str, Any] = {"t": t}
        util = self._reading("utilization", "nvmlDeviceGetUtilizationRates", self.handle)
        if util is not None:
            self.util.append(float(util.gpu))
            row["utilization"] = float(util.gpu)
        mem = self._reading("memory", "nvmlDeviceGetMemoryInfo", self.handle)
        used = int(mem.used) if mem is not None else 0
        row["memory_used_bytes"] = used
        procs: list[dict[str, Any]] = []
        for h in self.proc_handles:
            for fn in ("nvmlDeviceGetComputeRunningProcesses",
                       "nvmlDeviceGetGraphicsRunningProcesses"):
                listed = self._reading(f"processes:{fn}", fn, h)
                if listed is None:
                    continue
                # CUDA jobs show up in the compute list; the graphics list alone proves little.
                self.lists_ok = self.lists_ok or "Compute" in fn
                for p in listed:
                    procs.append({"pid": int(p.pid), "used_memory_bytes": p.usedGpuMemory or 0,
                                  "job": int(p.pid) in job})
        job_mem = sum(p["used_memory_bytes"] for p in procs if p["job"])
        self.job_seen = self.job_seen or any(p["job"] for p in procs)
        self.foreign.update(p["pid"] for p in procs if not p["job"])
        row["processes"] = procs
        self.slow.append(row)
        return job_mem, used

    def _reading(self, key: str, fn: str, *args: Any) -> Any:
        if key in self.skipped:
            return None
        try:
            return self.lib.call(fn, *args, what=fn)
        except NvmlFailure as f:
            self.skipped[key] = f.reason  # stop asking: errors here repeat every second
            return None

    def close_window(self, t: float, job_pids: set[int]) -> None:
        if self.visible and self.mode != "unavailable":
            self.read_power(t)
        if self.mode == "counter":
            try:
                self.e1_mj = self.lib.call("nvmlDeviceGetTotalEnergyConsumption", self.handle,
                                           what="reading the energy counter")
            except NvmlFailure as f:
                self.notes.append(f"energy counter unreadable at the end ({f.reason})")
        if self.accounting and self.visible:
            for pid in job_pids:
                stats = _try(self.lib, "nvmlDeviceGetAccountingStats", self.handle, pid)
                if stats is not None and stats.maxMemoryUsage:
                    self.accounting_peak = max(self.accounting_peak, int(stats.maxMemoryUsage))

    def integral_mj(self) -> float:
        pts = sorted(self.power)
        return sum((t1 - t0) * (p0 + p1) / 2 for (t0, p0), (t1, p1) in pairwise(pts)) * 1000

    def component(self, duration_s: float) -> tuple[Component, bool]:
        """The reading for the record, and whether it is low-confidence."""
        g = self.gpu
        notes = list(self.notes)
        low = False
        energy: float | None = None
        method = "measured"
        detail: str | None = self.mode
        reason, hint = self.reason, self.hint
        if self.mode == "counter" and self.e0_mj is not None and self.e1_mj is not None:
            delta = self.e1_mj - self.e0_mj
            if delta >= 0:
                energy = delta / MJ_PER_KWH
                if duration_s < 1.0:
                    low = True
                    notes.append("run shorter than 1 s: the energy counter may not have updated")
            else:
                notes.append("energy counter went backwards (driver reloaded?)")
                detail = "power-integration"
        elif self.mode == "counter":
            detail = "power-integration"
        if detail == "power-integration" and self.visible:
            if len(self.power) >= 2:
                energy = self.integral_mj() / MJ_PER_KWH
                gaps = [b[0] - a[0] for a, b in pairwise(self.power)]
                expected = 0.1 if self.mode == "power-integration" else 1.0
                if len(self.power) < 10 or max(gaps) > 5 * expected or self.mode == "counter":
                    low = True
                    notes.append(f"{len(self.power)} power samples, largest gap "
                                 f"{max(gaps):.2f} s: low confidence")
                if (g.compute_capability or (0, 0))[0] >= 8:
                    notes.append(AVERAGED_NOTE)
            else:
                energy = None
                reason = reason or "too few power samples to integrate"
                hint = hint or "the run was too short or power is unreadable"
        if not self.visible and self.mode == "power-integration":
            notes.append("not sampled: the job cannot see this GPU")
            reason = reason or ("no energy counter, and its power is not sampled because "
                                "the job cannot see this GPU (not counted)")
            hint = hint or "nothing to do: only the GPUs the job can see are metered"
        if energy is None:
            method = "unavailable"
            detail = None if self.mode == "unavailable" else detail
            reason = reason or self.skipped.get("power", "no energy reading")
            hint = hint or "run `pepr-gate probe` on this runner to see what NVML supports"
        if self.mig_visible:
            notes.append("MIG slice: energy is only available for the whole GPU, shared "
                         "with the other slices' work")
        for key, why in self.skipped.items():
            notes.append(f"{key.split(':')[0]} not read: {why}")
        extra = {
            "uuid": g.uuid, "index": g.index, "visible": self.visible,
            "scope": "whole-gpu-shared" if self.mig_visible else "whole-gpu",
            "mig_devices": self.mig_visible,
            "mean_utilization": round(sum(self.util) / len(self.util), 2) if self.util else None,
            "power_limit_w": self.power_limit_w,
            "power_samples": len(self.power),
        }
        comp = Component(kind="gpu", name=f"GPU {g.index} {g.name}", method=method,
                         detail=detail, energy_kwh=energy, counts_toward_total=self.visible,
                         reason=None if method == "measured" else reason,
                         hint=None if method == "measured" else hint, notes=notes, extra=extra)
        return comp, low and self.visible

    def trace(self, t0: float) -> dict[str, Any]:
        delta = None
        if self.e0_mj is not None and self.e1_mj is not None:
            delta = self.e1_mj - self.e0_mj
        rows: dict[float, dict[str, Any]] = {}
        for t, w in self.power:
            rows.setdefault(round(t - t0, 4), {})["power_w"] = round(w, 3)
        for s in self.slow:
            row = rows.setdefault(round(s["t"] - t0, 4), {})
            row.update({k: v for k, v in s.items() if k != "t"})
        return {
            "index": self.gpu.index, "uuid": self.gpu.uuid, "name": self.gpu.name,
            "memory_total_bytes": self.memory_total, "power_limit_w": self.power_limit_w,
            "method": self.mode, "energy_mj": delta,
            "scope": "whole-gpu-shared" if self.mig_visible else "whole-gpu",
            "samples": [{"t": t, **rows[t]} for t in sorted(rows)],
        }
