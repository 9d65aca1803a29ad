"""Replay a recorded GPU trace, so demos and tests produce GPU-like records without a GPU.

A trace (`schema: "pepr-gate/trace/1"`, written by `pepr-gate run --record-trace FILE`
through `NvmlSource.trace()` and `write_trace`) holds, per visible GPU, its identity and
samples over time: power (W), utilisation (%), used memory and the process list. The
replay plays each device's power curve over the real run's window, looping it when the
run is longer than the recording, and integrates it: a longer job gets more energy.
"""

from __future__ import annotations

import bisect
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pepr_gate.errors import InputError
from pepr_gate.measure.meter.base import LiveReading, Source, SourceResult, Window
from pepr_gate.records import Component, GpuInfo

TRACE_SCHEMA = "pepr-gate/trace/1"
J_PER_KWH = 3.6e6
_HINT = "pass a trace written by `pepr-gate run --record-trace FILE` (README: Replay traces)"


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TraceProcess(_M):
    pid: int
    used_memory_bytes: int | None = Field(default=0, ge=0)  # None: NVML could not say
    job: bool = True


class TraceSample(_M):
    t: float = Field(ge=0)
    power_w: float | None = Field(default=None, ge=0, le=5000)
    utilization: float | None = Field(default=None, ge=0, le=100)
    memory_used_bytes: int | None = Field(default=None, ge=0)
    processes: list[TraceProcess] | None = None


class TraceDevice(_M):
    index: int | None = None
    uuid: str | None = None
    name: str
    memory_total_bytes: int | None = None
    power_limit_w: float | None = None
    method: str = "counter"
    energy_mj: float | None = Field(default=None, ge=0)
    scope: str = "whole-gpu"
    samples: list[TraceSample]


class Trace(_M):
    schema_: str = Field(alias="schema")
    created_at: str | None = None
    recorded_with: str | None = None
    driver_version: str | None = None
    cuda_version: str | None = None
    duration_s: float = Field(gt=0)
    devices: list[TraceDevice] = Field(min_length=1)


def write_trace(path: Path, trace: dict[str, Any]) -> None:
    """Write a trace (from `NvmlSource.trace()`); InputError naming the file on failure."""
    from pepr_gate.fileio.atomic import write_atomic

    hint = "pass a writable path to --record-trace"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{path}: cannot write the trace: {exc.strerror or exc}",
                         hint=hint) from None
    try:
        write_atomic(path, json.dumps(trace, indent=1) + "\n", error=InputError, hint=hint)
    except InputError as exc:
        raise InputError(f"cannot write the trace: {exc.message}", hint=hint) from None


def load_trace(path: Path) -> Trace:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: replay trace not found", hint=_HINT) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the replay trace: {exc}", hint=_HINT) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: replay trace is not JSON (line {exc.lineno}, column "
                         f"{exc.colno}: {exc.msg})", hint=_HINT) from None
    except RecursionError:
        raise InputError(f"{path}: replay trace nested too deeply to read", hint=_HINT) from None
    if not isinstance(data, dict) or data.get("schema") != TRACE_SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise InputError(f"{path}: not a pepr-gate trace (schema {found!r}, expected "
                         f"{TRACE_SCHEMA!r})", hint=_HINT)
    try:
        trace = Trace.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(f"{path}: invalid trace at field '{where}': {first['msg']}",
                         hint=_HINT) from None
    for i, dev in enumerate(trace.devices):
        if len([s for s in dev.samples if s.power_w is not None]) < 2:
            raise InputError(f"{path}: devices.{i} ({dev.name}) has fewer than 2 power samples",
                             hint=_HINT)
    return trace


class PowerCurve:
    """A recorded power curve, played in a loop, with its integral in closed form."""

    def __init__(self, samples: list[TraceSample], energy_mj: float | None) -> None:
        pts = sorted((s.t, s.power_w) for s in samples if s.power_w is not None)
        t0 = pts[0][0]
        self.t = [t - t0 for t, _ in pts]
        self.p = [p for _, p in pts]
        self.period = self.t[-1]
        self.cum = [0.0]  # joules from the start to each sample
        for i in range(1, len(pts)):
            dt = self.t[i] - self.t[i - 1]
            self.cum.append(self.cum[-1] + dt * (self.p[i] + self.p[i - 1]) / 2)
        # The counter is the better total; the samples give the shape.
        recorded = energy_mj / 1000 if energy_mj else None
        self.scale = recorded / self.cum[-1] if recorded and self.cum[-1] > 0 else 1.0

    def _partial(self, x: float) -> float:
        i = max(1, bisect.bisect_right(self.t, x))
        if i >= len(self.t):
            return self.cum[-1]
        t0, t1, p0, p1 = self.t[i - 1], self.t[i], self.p[i - 1], self.p[i]
        px = p0 + (p1 - p0) * (x - t0) / (t1 - t0) if t1 > t0 else p0
        return self.cum[i - 1] + (x - t0) * (p0 + px) / 2

    def power_w(self, elapsed_s: float) -> float:
        if self.period <= 0:
            return self.p[0] * self.scale
        x = elapsed_s % self.period
        i = min(len(self.t) - 1, max(1, bisect.bisect_right(self.t, x)))
        t0, t1, p0, p1 = self.t[i - 1], self.t[i], self.p[i - 1], self.p[i]
        return (p0 + (p1 - p0) * (x - t0) / (t1 - t0) if t1 > t0 else p0) * self.scale

    def energy_j(self, duration_s: float) -> float:
        if self.period <= 0:
            return self.p[0] * duration_s * self.scale
        loops, rest = divmod(max(0.0, duration_s), self.period)
        return (loops * self.cum[-1] + self._partial(rest)) * self.scale


class ReplaySource(Source):
    name = "replay"
    interval_s = None

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.trace = load_trace(self.path)
        self.curves = [PowerCurve(d.samples, d.energy_mj) for d in self.trace.devices]
        self._t0 = 0.0

    def start(self, t: float) -> None:
        self._t0 = t

    def live(self, t: float) -> LiveReading | None:
        elapsed = max(0.0, t - self._t0)
        return LiveReading("gpu", "replayed", sum(c.power_w(elapsed) for c in self.curves),
                           sum(c.energy_j(elapsed) for c in self.curves))

    def result(self, window: Window) -> SourceResult:
        d = max(0.0, window.duration_s)
        tr = self.trace
        res = SourceResult(driver_version=tr.driver_version, cuda_version=tr.cuda_version)
        peak = 0
        foreign = unknown = False
        for dev, curve in zip(tr.devices, self.curves, strict=True):
            played = [s for s in dev.samples if s.t <= d] or dev.samples[:1]
            # A looped run has seen the whole recording; a shorter one only its start.
            seen = dev.samples if d >= curve.period else played
            dev_foreign, dev_unknown, dev_peak = _processes(seen)
            foreign = foreign or dev_foreign
            unknown = unknown or dev_unknown
            peak += dev_peak
            res.components.append(self._component(dev, curve, d, played))
            res.gpus.append(GpuInfo(index=dev.index, name=dev.name, uuid=dev.uuid,
                                    memory_total_bytes=dev.memory_total_bytes, visible=True))
        res.gpu_peak_memory_bytes = None if unknown else peak  # as NvmlSource: not 0
        res.exclusive = False if foreign else (None if unknown else True)
        if d < 1.0:
            # As with NVML's counter (updated every ~100 ms to 1 s): too short to trust.
            res.low_confidence = True
            res.notes.append(f"run shorter than 1 s ({d:.3f} s): the replayed GPU energy of "
                             "so short a window is low confidence")
        res.notes.append(f"GPU readings are a replay of {self.path}, not measured on this machine")
        return res

    def _component(self, dev: TraceDevice, curve: PowerCurve, d: float,
                   played: list[TraceSample]) -> Component:
        """One recorded GPU's curve played over a window of `d` seconds."""
        util = [s.utilization for s in played if s.utilization is not None]
        loops = d / curve.period if curve.period > 0 else 0.0
        return Component(
            kind="gpu", name=f"GPU {dev.index if dev.index is not None else 0} {dev.name}",
            method="replayed", detail="replay", scope="whole-device", coverage=1.0,
            energy_kwh=curve.energy_j(d) / J_PER_KWH,
            notes=[f"replay of {self.path}: the recorded power curve played over this "
                   f"run's {d:.2f} s window ({loops:.2f} times the {curve.period:.1f} s "
                   "recording); not a measurement of this machine"],
            extra={"uuid": dev.uuid, "visible": True, "scope": dev.scope,
                   "mean_utilization": round(sum(util) / len(util), 2) if util else None,
                   "power_limit_w": dev.power_limit_w, "recorded_method": dev.method,
                   "trace": str(self.path)})


def _processes(seen: list[TraceSample]) -> tuple[bool, bool, int]:
    """(another process was listed, a job process without its memory, the job's peak memory)
    over the samples the run has seen."""
    listed = [p for s in seen for p in s.processes or []]
    foreign = any(not p.job for p in listed)
    unknown = any(p.job and p.used_memory_bytes is None for p in listed)
    job_mem = [sum(p.used_memory_bytes or 0 for p in s.processes if p.job)
               for s in seen if s.processes]
    return foreign, unknown, max(job_mem, default=0)
