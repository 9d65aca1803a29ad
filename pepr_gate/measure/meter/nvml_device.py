"""One physical GPU under NVML: its readings over the window, and its component."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pepr_gate.measure.meter import power as pw
from pepr_gate.measure.meter.devices import PhysicalGpu
from pepr_gate.measure.meter.nvml_errors import PERMANENT, Nvml, NvmlFailure
from pepr_gate.measure.meter.nvml_power import window_energy
from pepr_gate.measure.meter.nvml_state import read_state
from pepr_gate.records import Component

MJ_PER_KWH = 3.6e9
FEATURE_ENABLED = 1
FI_POWER_INSTANT = 186  # NVML_FI_DEV_POWER_INSTANT (nvml.h), driver R530 and newer
COUNTER_TRIES = 3
Mode = Literal["counter", "power-integration", "unavailable"]


def try_call(lib: Nvml, name: str, *args: Any) -> Any:
    try:
        return lib.call(name, *args)
    except NvmlFailure:
        return None


@dataclass
class Device:
    lib: Nvml
    gpu: PhysicalGpu
    handle: Any
    visible: bool
    mig_visible: list[str]
    proc_handles: list[tuple[str, Any]]  # (MIG or GPU UUID, handle) whose processes are listed
    mode: Mode = "counter"
    reason: str | None = None
    hint: str | None = None
    instant: bool = False  # power read from NVML's instantaneous-power field
    e0_mj: int | None = None
    e1_mj: int | None = None
    power: list[tuple[float, float]] = field(default_factory=list)
    power_misses: int = 0
    power_miss_reason: str | None = None
    slow: list[dict[str, Any]] = field(default_factory=list)
    util: list[float] = field(default_factory=list)
    power_limit_w: float | None = None
    memory_total: int | None = None
    accounting: bool = False
    accounting_peak: int = 0
    lists_ok: bool = False  # the job's own (slice's) compute list was read
    lists_partial: bool = False  # some other slice's list was not
    job_seen: bool = False
    memory_unknown: bool = False  # NVML listed a job process without its memory
    foreign: set[int] = field(default_factory=set)
    display: set[int] = field(default_factory=set)  # graphics-only PIDs not the job's (Xorg)
    state: dict[str, Any] = field(default_factory=dict)  # "start"/"end" -> nvml_state reading
    figures: dict[str, float] = field(default_factory=dict)  # counter_j and integrated_j
    _compute_rows: int = 0
    skipped: dict[str, str] = field(default_factory=dict)  # reading -> why it stopped
    notes: list[str] = field(default_factory=list)

    @property
    def shared(self) -> bool:
        """Whole-GPU energy that other MIG slices share: named as a slice, or as a whole
        GPU with MIG enabled."""
        return bool(self.gpu.mig) and len(self.mig_visible) < len(self.gpu.mig)

    @property
    def mig_profile(self) -> str:
        """The job's share of the GPU: "whole-gpu", its slices' profiles, or "mig-enabled"
        (a whole GPU named while MIG splits it)."""
        if not self.gpu.mig:
            return "whole-gpu"
        mine = [s.profile or "unknown" for s in self.gpu.mig if s.uuid in self.mig_visible]
        return "+".join(sorted(mine)) if mine else "mig-enabled"

    @property
    def scope(self) -> Literal["whole-device", "whole-device-shared"]:
        return "whole-device-shared" if self.shared else "whole-device"

    def open_window(self, t: float) -> None:
        self.state["start"] = read_state(self.lib, self.handle)
        limit = try_call(self.lib, "nvmlDeviceGetEnforcedPowerLimit", self.handle)
        self.power_limit_w = limit / 1000 if isinstance(limit, int) else None
        mem = try_call(self.lib, "nvmlDeviceGetMemoryInfo", self.handle)
        self.memory_total = int(mem.total) if mem is not None else None
        self.accounting = try_call(self.lib, "nvmlDeviceGetAccountingMode",
                               self.handle) == FEATURE_ENABLED
        failure: NvmlFailure | None = None
        tries = 0
        while tries < COUNTER_TRIES:  # a transient error must not cost the whole run
            tries += 1
            try:
                self.e0_mj = self.lib.call("nvmlDeviceGetTotalEnergyConsumption", self.handle,
                                           what="reading the energy counter")
                return
            except NvmlFailure as f:
                failure = f
                if f.kind in PERMANENT:
                    break
        assert failure is not None
        self._integrate_instead(t, failure, tries)

    def _integrate_instead(self, t: float, failure: NvmlFailure, tries: int) -> None:
        self.mode = "power-integration"
        if failure.kind in ("not-supported", "function-not-found"):
            self.notes.append(f"no energy counter ({failure.reason}): power integrated at 10 Hz")
        else:
            self.notes.append(f"energy counter unreadable at the start ({failure.reason}; "
                              f"tried {tries} time(s)): power integrated at 10 Hz")
        if not self.visible:
            return
        try:
            self.instant = True  # the driver's instantaneous field, where it has one
            self.power.append((t, self._watts()))
            return
        except NvmlFailure:
            self.instant = False
        try:
            self.power.append((t, self._watts()))
        except NvmlFailure as f:
            self.mode, self.reason, self.hint = "unavailable", f.reason, f.hint

    def _watts(self) -> float:
        if self.instant:
            return self.lib.field_value(self.handle, FI_POWER_INSTANT,
                                        "reading instantaneous GPU power") / 1000.0
        mw = self.lib.call("nvmlDeviceGetPowerUsage", self.handle, what="reading GPU power")
        return float(mw) / 1000.0

    def read_power(self, t: float) -> None:
        if "power" in self.skipped:
            return
        try:
            self.power.append((t, self._watts()))
        except NvmlFailure as f:
            if f.kind in PERMANENT:
                self.skipped["power"] = f.reason
            else:  # keep sampling: the coverage says what was missed
                self.power_misses += 1
                self.power_miss_reason = self.power_miss_reason or f.reason

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
        procs = self._processes(job)
        job_procs = [p for p in procs if p["job"]]
        self.memory_unknown = self.memory_unknown or any(
            p["used_memory_bytes"] is None for p in job_procs)
        job_mem = sum(p["used_memory_bytes"] or 0 for p in job_procs)
        self.job_seen = self.job_seen or bool(job_procs)
        compute = {p["pid"] for p in procs[:self._compute_rows] if not p["job"]}
        self.foreign.update(compute)
        self.display.update(p["pid"] for p in procs if not p["job"] and p["pid"] not in compute)
        row["processes"] = procs
        self.slow.append(row)
        return job_mem, used

    def _processes(self, job: set[int]) -> list[dict[str, Any]]:
        """Every process NVML lists on the metered GPU or slices, marked as the job's or not."""
        procs: list[dict[str, Any]] = []
        # compute lists first: the rows before `_compute_rows` are compute processes, the
        # rest graphics ones (a display server, a desktop), which are not another job
        for fn in ("nvmlDeviceGetComputeRunningProcesses",
                   "nvmlDeviceGetGraphicsRunningProcesses"):
            for uuid, h in self.proc_handles:
                own = not self.mig_visible or uuid in self.mig_visible
                listed = self._reading(f"processes:{fn}:{uuid}", fn, h)
                if listed is None:
                    self.lists_partial = self.lists_partial or not own
                    continue
                # CUDA jobs show up in the compute list; the graphics list alone proves little.
                self.lists_ok = self.lists_ok or ("Compute" in fn and own)
                procs.extend(_process_row(p, job) for p in listed)
            if "Compute" in fn:
                self._compute_rows = len(procs)
        return procs

    def _reading(self, key: str, fn: str, *args: Any) -> Any:
        if key in self.skipped:
            return None
        try:
            return self.lib.call(fn, *args, what=fn)
        except NvmlFailure as f:
            if f.kind in PERMANENT:
                self.skipped[key] = f.reason  # stop asking: it fails every time
            return None

    def close_window(self, t: float, job_pids: set[int]) -> None:
        self.state["end"] = read_state(self.lib, self.handle)
        self.foreign -= job_pids  # a PID seen before the tree showed it was the job's
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
                stats = try_call(self.lib, "nvmlDeviceGetAccountingStats", self.handle, pid)
                if stats is not None and stats.maxMemoryUsage:
                    self.accounting_peak = max(self.accounting_peak, int(stats.maxMemoryUsage))

    def integral_mj(self) -> float:
        return pw.integral_j(self.power) * 1000

    def component(self, t0: float, t1: float) -> tuple[Component, bool]:
        """The reading for the record, and whether it is low-confidence."""
        g = self.gpu
        notes = list(self.notes)
        energy, detail, cov, low = self._window_energy(t0, t1, notes)
        reason, hint = self._why_unavailable(energy, notes)
        method = "measured" if energy is not None else "unavailable"
        if self.shared and self.visible:
            low = True
            named = "a MIG slice" if self.mig_visible else "a whole GPU that has MIG enabled"
            notes.append(f"named as {named}: the energy is the whole GPU's, shared with the "
                         "other slices' work (low confidence)")
        for key, why in self.skipped.items():
            notes.append(f"{key.split(':')[0]} not read: {why}")
        comp = Component(kind="gpu", name=f"GPU {g.index} {g.name}", method=method,
                         detail=detail if energy is not None else None, energy_kwh=energy,
                         counts_toward_total=self.visible, scope=self.scope,
                         coverage=None if energy is None else round(cov or 0.0, 4),
                         reason=None if method == "measured" else reason,
                         hint=None if method == "measured" else hint, notes=notes,
                         extra=self._extra())
        return comp, low and self.visible

    def _window_energy(self, t0: float, t1: float, notes: list[str]
                       ) -> tuple[float | None, str | None, float | None, bool]:
        """(energy kWh or None, how, coverage, low-confidence): sampled GPUs from their
        counter or power; a GPU the job cannot see from its counter alone."""
        if self.visible and self.mode != "unavailable":
            return window_energy(self, t0, t1, notes)
        if self.mode == "counter" and self.e0_mj is not None and self.e1_mj is not None:
            return max(0, self.e1_mj - self.e0_mj) / MJ_PER_KWH, "counter", None, False
        return None, None, None, False

    def _why_unavailable(self, energy: float | None, notes: list[str]
                         ) -> tuple[str | None, str | None]:
        """(reason, hint) for a reading without energy; the note on an unsampled GPU."""
        reason, hint = self.reason, self.hint
        if energy is None and self.visible and self.mode == "power-integration":
            reason = reason or "too few power samples to integrate"
            hint = hint or "the run was too short or power is unreadable"
        if not self.visible and self.mode == "power-integration":
            notes.append("not sampled: the job cannot see this GPU")
            reason = reason or ("no energy counter, and its power is not sampled because "
                                "the job cannot see this GPU (not counted)")
            hint = hint or "nothing to do: only the GPUs the job can see are metered"
        if energy is None:
            reason = reason or self.skipped.get("power", "no energy reading")
            hint = hint or "run `pepr-gate probe` on this runner to see what NVML supports"
        return reason, hint

    def _extra(self) -> dict[str, Any]:
        g = self.gpu
        extra = {
            "uuid": g.uuid, "index": g.index, "visible": self.visible,
            "scope": "whole-gpu-shared" if self.shared else "whole-gpu",
            "mig_devices": self.mig_visible, "mig_profile": self.mig_profile,
            "mean_utilization": round(sum(self.util) / len(self.util), 2) if self.util else None,
            "power_limit_w": self.power_limit_w,
            "power_samples": len(self.power),
            "power_reading": "instant" if self.instant else "nvmlDeviceGetPowerUsage",
            "state": self.state,
        }
        extra.update(self.figures)
        if self.power_misses:
            extra["power_misses"] = self.power_misses
        return extra

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
            "scope": "whole-gpu-shared" if self.shared else "whole-gpu",
            "samples": [{"t": t, **rows[t]} for t in sorted(rows)],
        }


def _process_row(p: Any, job: set[int]) -> dict[str, Any]:
    # None: NVML_VALUE_NOT_AVAILABLE (vGPU, some containers): unknown, not 0
    memory = None if p.usedGpuMemory is None else int(p.usedGpuMemory)
    return {"pid": int(p.pid), "used_memory_bytes": memory, "job": int(p.pid) in job}
