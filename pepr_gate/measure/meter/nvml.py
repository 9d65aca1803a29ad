"""Measured GPU energy through NVML: the energy counter, else 10 Hz power integration.

`start` opens NVML, maps CUDA_VISIBLE_DEVICES to physical GPUs and reads each counter;
`sample` (1 Hz, or 10 Hz when a visible GPU lacks the counter) records power, memory,
utilisation and process lists; `stop` reads the counters again. Nothing here raises
once the source is built: every failure becomes an `unavailable` reading with a reason.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pepr_gate.measure.meter.base import LiveReading, Source, SourceResult, Window
from pepr_gate.measure.meter.devices import PhysicalGpu, Resolution, parse_visible
from pepr_gate.measure.meter.nvml_device import Device
from pepr_gate.measure.meter.nvml_discover import discover, job_tree
from pepr_gate.measure.meter.nvml_errors import Nvml, NvmlFailure
from pepr_gate.measure.meter.nvml_memory import memory_and_exclusivity
from pepr_gate.measure.meter.nvml_power import FAST_S, SLOW_S
from pepr_gate.measure.meter.nvml_state import Cooldown, cool_down
from pepr_gate.records import Component, GpuInfo


def check_recordable(job_env: Mapping[str, str], path: Path) -> None:
    """Before the job runs: can `--record-trace path` record anything? InputError if not.

    The trace is written after the job ends; a machine without a readable GPU, or an
    unwritable trace path, must fail at once, not after hours of training.
    """
    from pepr_gate.errors import InputError

    hint = ("record traces on a runner where `pepr-gate probe` shows readable GPU power; "
            "without a GPU, drop --record-trace")
    spec = parse_visible(job_env)
    try:
        lib = Nvml.open()
    except NvmlFailure as f:
        raise InputError(f"--record-trace {path}: no GPU to record: {f.reason}",
                         hint=hint) from None
    try:
        _, _, devices, resolution = discover(lib, spec)
        readable = [d for d in devices if d.gpu.uuid in resolution.visible_uuids
                    and _power_readable(lib, d)]
    except NvmlFailure as f:
        raise InputError(f"--record-trace {path}: no GPU to record: {f.reason}",
                         hint=hint) from None
    finally:
        lib.shutdown()
    if not readable:
        if not devices:
            why = "NVML found no GPU"
        elif not resolution.visible_uuids:
            why = f"the job can see no GPU (CUDA_VISIBLE_DEVICES={spec.raw!r})"
        else:
            why = "no GPU the job can see has a readable power reading"
        raise InputError(f"--record-trace {path}: nothing to record: {why}", hint=hint)
    if path.is_dir() or (path.parent.exists() and not os.access(path.parent, os.W_OK)):
        raise InputError(f"--record-trace {path}: cannot write the trace there",
                         hint="pass a writable file path to --record-trace")


def _power_readable(lib: Nvml, dev: Device) -> bool:
    try:
        lib.call("nvmlDeviceGetPowerUsage", dev.handle, what="reading GPU power")
    except NvmlFailure:
        return False
    return True


IDLE_UTILIZATION = 1.0  # percent: at or below this all run long, a GPU did no work


def _stderr(line: str) -> None:
    print(f"pepr-gate: {line}", file=sys.stderr, flush=True)


def unused_gpus(devices: list[Device]) -> list[Device]:
    """Visible GPUs that never listed a process of the job and stayed idle, on a runner where
    the job's processes did show on another GPU (so the lists can be trusted)."""
    visible = [d for d in devices if d.visible]
    if not any(d.job_seen for d in visible):
        return []
    return [d for d in visible if not d.job_seen and d.lists_ok and d.util
            and max(d.util) <= IDLE_UTILIZATION]


def unused_note(visible_spec: str | None) -> str:
    note = ("never held a process of the job and stayed idle: its idle power is charged to "
            "the run")
    if visible_spec is None:
        note += ("; CUDA_VISIBLE_DEVICES is unset, so the job could see every GPU: set it to "
                 "the GPUs the job uses (CUDA_VISIBLE_DEVICES=0) to leave the others out")
    return note


class NvmlSource(Source):
    name = "nvml"

    def __init__(self, job_env: Mapping[str, str], *,
                 cooldown: tuple[float, float] | None = None,
                 say: Callable[[str], None] = _stderr) -> None:
        self.spec = parse_visible(job_env)  # the one thing that may raise: a bad value
        self.cooldown_spec = cooldown  # (max_temp_c, timeout_s) from [run] cooldown
        self.say = say
        self.clock: tuple[Callable[[], float], Callable[[float], None]] = (
            time.monotonic, time.sleep)  # (now, sleep) for the cooldown wait
        self._cooldown: Cooldown | None = None
        self.interval_s: float | None = SLOW_S
        self._lib: Nvml | None = None
        self._failure: NvmlFailure | None = None
        self._devices: list[Device] = []
        self._resolution = Resolution(targets=[])
        self._driver: str | None = None
        self._cuda: str | None = None
        self._t0 = 0.0
        self._t1 = 0.0
        self._next_slow = 0.0
        self._job_pids: set[int] = set()
        self._peak_job_mem = 0
        self._peak_used_mem = 0
        self._prepared = False
        self._live_sums: dict[int, tuple[int, float]] = {}  # device -> (samples seen, J)

    # -- the window -----------------------------------------------------------------
    def prepare(self) -> None:
        """Open NVML and find the GPUs: slow (up to seconds), so done before the window."""
        self._prepared = True
        try:
            self._lib = Nvml.open()
        except NvmlFailure as failure:
            self._failure = failure
            return
        try:
            self._driver, self._cuda, self._devices, self._resolution = discover(
                self._lib, self.spec
            )
        except NvmlFailure as failure:
            self._failure = failure
            self._lib.shutdown()
            self._lib = None
            return
        if self.cooldown_spec is not None and self._devices:
            now, sleep = self.clock
            self._cooldown = cool_down(self._lib, self._devices, *self.cooldown_spec,
                                       say=self.say, now=now, sleep=sleep)

    def start(self, t: float) -> None:
        self._t0 = self._t1 = t
        if not self._prepared:
            self.prepare()
        if self._lib is None:
            return
        for dev in self._devices:
            dev.open_window(t)
        if any(d.visible and d.mode == "power-integration" for d in self._devices):
            self.interval_s = FAST_S
        self._slow(t, frozenset())

    def sample(self, t: float, pids: frozenset[int]) -> None:
        if self._lib is None:
            return
        for dev in self._devices:
            if dev.visible and dev.mode == "power-integration":
                dev.read_power(t)
        if t >= self._next_slow:
            self._slow(t, pids)

    def stop(self, t: float) -> None:
        self._t1 = t
        if self._lib is None:
            return
        for dev in self._devices:
            dev.close_window(t, self._job_pids)
        self._lib.shutdown()

    def live(self, t: float) -> LiveReading | None:
        """Latest power summed over the metered GPUs and the integral of the power samples
        taken so far (the counter is read only at the window's edges: no extra NVML call)."""
        watts = joules = 0.0
        seen = False
        for i, dev in enumerate(self._devices):
            if not dev.visible or dev.mode == "unavailable" or not dev.power:
                continue
            seen = True
            done, total = self._live_sums.get(i, (0, 0.0))
            pts = dev.power  # appended in time order by the sampling thread
            for (t0, p0), (t1, p1) in zip(pts[max(0, done - 1):-1], pts[max(1, done):],
                                          strict=True):
                total += (t1 - t0) * (p0 + p1) / 2
            self._live_sums[i] = (len(pts), total)
            watts += pts[-1][1]
            joules += total
        if not seen:
            return None
        memory = self._peak_job_mem or self._peak_used_mem or None
        return LiveReading("gpu", "measured", watts, joules, memory)

    def _slow(self, t: float, pids: frozenset[int]) -> None:
        self._next_slow = t + SLOW_S
        tree = job_tree(pids)
        self._job_pids |= tree
        job_mem = used_mem = 0
        for dev in self._devices:
            if not dev.visible:
                continue
            if dev.mode == "counter":
                dev.read_power(t)  # a backup curve, and the replay trace's power curve
            j, u = dev.read_slow(t, self._job_pids)  # every job process seen, not only live
            job_mem += j
            used_mem += u
        self._peak_job_mem = max(self._peak_job_mem, job_mem)
        self._peak_used_mem = max(self._peak_used_mem, used_mem)

    # -- the result -------------------------------------------------------------------
    def result(self, window: Window) -> SourceResult:
        if self._failure is not None or (self._lib is None and not self._devices):
            f = self._failure or NvmlFailure("error", "NVML was not opened", "")
            from pepr_gate.measure.meter.nvml_errors import check_binding

            old = check_binding()
            return SourceResult(
                components=[Component(kind="gpu", name="gpu", method="unavailable",
                                      reason=f.reason, hint=f.hint,
                                      extra={"nvml_error": f.kind})],
                notes=[f"GPU energy not measured: {f.reason}", *([old] if old else [])],
            )
        res = SourceResult(driver_version=self._driver, cuda_version=self._cuda)
        lib = self._lib
        if lib is not None and lib.deprecated:
            res.notes.append(lib.deprecated)
        res.notes.extend(self._resolution.notes)
        if not self._devices:
            res.components.append(Component(
                kind="gpu", name="gpu", method="unavailable", reason="NVML found no GPU",
                hint="check `nvidia-smi -L`; in a container start it with `--gpus all`"))
            return res
        for problem in self._resolution.problems:
            res.components.append(Component(
                kind="gpu", name="CUDA_VISIBLE_DEVICES", method="unavailable",
                reason=problem, counts_toward_total=False,
                hint="compare CUDA_VISIBLE_DEVICES with `nvidia-smi -L`; the job saw fewer "
                     "GPUs than it asked for"))
        for index, failure in self._resolution.unopened:
            res.components.append(Component(
                kind="gpu", name=f"GPU {index}", method="unavailable", counts_toward_total=False,
                reason=failure.reason, hint=failure.hint,
                notes=["not metered and not counted: NVML cannot open it, so CUDA cannot "
                       "either; the other GPUs are metered"],
                extra={"index": index, "nvml_error": failure.kind}))
            res.notes.append(f"GPU {index} could not be opened ({failure.reason})")
        self._device_readings(res)
        memory_and_exclusivity(res, self._devices, self._peak_job_mem, self._peak_used_mem)
        return res

    def _device_readings(self, res: SourceResult) -> None:
        """Each GPU's component and GpuInfo, with the unused-GPU and cooldown notes."""
        unused = unused_gpus(self._devices)
        for dev in self._devices:
            comp, low = dev.component(self._t0, self._t1)
            if any(d is dev for d in unused):
                comp.notes.append(unused_note(self.spec.raw))
            if self._cooldown is not None and dev.visible:
                comp.extra["cooldown"] = self._cooldown.as_dict()
            res.components.append(comp)
            res.low_confidence = res.low_confidence or low
            res.gpus.append(GpuInfo(index=dev.gpu.index, name=dev.gpu.name, uuid=dev.gpu.uuid,
                                    memory_total_bytes=dev.memory_total, visible=dev.visible,
                                    mig_profile=dev.mig_profile,
                                    power_limit_w=dev.power_limit_w))
        if unused:
            res.notes.append(
                f"{len(unused)} GPU(s) the job could see never held a process of the job and "
                f"stayed idle ({', '.join(f'GPU {d.gpu.index}' for d in unused)}): their "
                "idle power is in the total" + ("" if self.spec.raw is not None else
                "; CUDA_VISIBLE_DEVICES is unset, so every GPU of the runner is charged"))
        if self._cooldown is not None:
            res.notes.append(self._cooldown.note())

    # -- recording --------------------------------------------------------------------
    def trace(self) -> dict[str, Any]:
        """What was sampled, in the replay trace format (`pepr_gate.measure.meter.replay`)."""
        from pepr_gate import __version__
        from pepr_gate.errors import InputError
        from pepr_gate.measure.meter.replay import TRACE_SCHEMA
        from pepr_gate.records import utcnow

        devices = [d.trace(self._t0) for d in self._devices
                   if d.visible and len(d.power) >= 2]
        if not devices:
            why = self._failure.reason if self._failure else "no visible GPU had power samples"
            raise InputError(f"nothing to record as a trace: {why}",
                             hint="record traces on a runner where `pepr-gate probe` shows "
                                  "readable GPU power, with a job of a few seconds or more")
        return {
            "schema": TRACE_SCHEMA,
            "created_at": utcnow().isoformat(),
            "recorded_with": f"pepr-gate {__version__}",
            "driver_version": self._driver,
            "cuda_version": self._cuda,
            "duration_s": round(self._t1 - self._t0, 6),
            "devices": devices,
        }

    @property
    def gpus(self) -> list[PhysicalGpu]:
        return [d.gpu for d in self._devices]
