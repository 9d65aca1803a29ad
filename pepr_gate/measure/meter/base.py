"""The meter interface: one `MeterSession` per run, one sampling thread, many sources.

A `Source` is one thing that can be read: the process tree, the CPU estimate, NVML, RAPL,
a replayed trace. The session calls every source's `start` right before the first
`Popen`, then `sample` from its single thread at the interval each source asks for, and
`stop` right after the last `wait4`. No settle sleeps anywhere.

Sources return `Component` readings labelled `measured`, `estimated` or `unavailable`
(with the reason). `MeterSession.close` combines them: a measured CPU/DRAM reading
replaces the CPU/RAM estimate in the total (the estimate is kept, marked as not counted),
and the record says which parts were measured and which estimated.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from pepr_gate.measure.meter import totals as tot
from pepr_gate.records import Component, EnergyMethod, GpuInfo


@dataclass
class Window:
    """What the runner knows about the metered window when it closes."""

    start: float  # time.monotonic() right before the first Popen
    end: float  # time.monotonic() right after the last wait4
    cpu_user_s: float = 0.0  # from os.wait4, the whole waited-for tree
    cpu_sys_s: float = 0.0
    max_rss_single_bytes: int = 0  # ru_maxrss of the largest waited-for process

    @property
    def duration_s(self) -> float:
        return self.end - self.start

    @property
    def cpu_time_s(self) -> float:
        return self.cpu_user_s + self.cpu_sys_s


@dataclass(frozen=True)
class LiveReading:
    """One source's figures so far, from samples it already took (never a new reading).

    `power_w` is the latest power (None where the source has no power figure), `energy_j`
    the energy since the window opened, `method` how it was obtained (`measured`,
    `estimated`, `replayed`), `gpu_memory_bytes` the peak GPU memory seen so far.
    """

    kind: str  # "gpu" | "cpu"
    method: str
    power_w: float | None = None
    energy_j: float | None = None
    gpu_memory_bytes: int | None = None


@dataclass
class SourceResult:
    components: list[Component] = field(default_factory=list)
    peak_rss_bytes: int | None = None
    peak_rss_single_bytes: int | None = None
    gpu_peak_memory_bytes: int | None = None
    gpus: list[GpuInfo] = field(default_factory=list)
    driver_version: str | None = None
    cuda_version: str | None = None
    exclusive: bool | None = None
    low_confidence: bool = False
    notes: list[str] = field(default_factory=list)


class Source(ABC):
    """One readable thing. `interval_s` is how often `sample` wants to run (None: never)."""

    name: str = "source"
    interval_s: float | None = None

    def prepare(self) -> None:  # noqa: B027 - optional hook
        """Slow set-up (opening a library, finding devices), done before the window opens."""

    def start(self, t: float) -> None:  # noqa: B027 - optional hook
        """Snapshot counters; called right before the first Popen."""

    def sample(self, t: float, pids: frozenset[int]) -> None:  # noqa: B027 - optional hook
        """Take one sample; `pids` are the tracked roots (their trees are the job)."""

    def stop(self, t: float) -> None:  # noqa: B027 - optional hook
        """Snapshot counters; called right after the last wait4."""

    @abstractmethod
    def result(self, window: Window) -> SourceResult: ...

    def live(self, t: float) -> LiveReading | None:
        """Figures so far for the live line, from samples already taken; None: nothing."""
        return None


@dataclass
class MeterResult:
    """Everything a session measured, ready for the run record."""

    components: list[Component]
    energy_kwh: float | None
    energy_method: EnergyMethod
    energy_measured_kwh: float | None
    energy_estimated_kwh: float | None
    peak_rss_bytes: int | None
    peak_rss_single_bytes: int | None
    gpu_peak_memory_bytes: int | None
    gpus: list[GpuInfo]
    driver_version: str | None
    cuda_version: str | None
    exclusive: bool | None
    low_confidence: bool
    telemetry_ok: bool
    notes: list[str]
    sampler_cpu_s: float


class MeterSession:
    """Opens a metering window, samples from one thread, closes and combines."""

    def __init__(self, sources: list[Source], *, name: str = "process") -> None:
        self.name = name
        self.sources = sources
        self._pids: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._gaps = 0
        self._sampler_cpu_s = 0.0
        self.t_start = 0.0
        self.keep_live = False  # set by the live line before `open`
        self._live: tuple[LiveReading, ...] = ()
        self._stopped = False

    def open(self) -> None:
        for src in self.sources:
            src.prepare()  # NVML start-up is neither in the window nor in its first sample
        self.t_start = time.monotonic()
        for src in self.sources:
            src.start(self.t_start)
        if any(s.interval_s for s in self.sources):
            self._thread = threading.Thread(target=self._loop, name="pepr-meter", daemon=True)
            self._thread.start()

    def track(self, pid: int) -> None:
        """Add a job's root process; its descendants are found by the sources."""
        with self._lock:
            self._pids.add(pid)
        self._wake.set()  # take a first sample of the new process right away

    def stop(self, t: float) -> None:
        """End sampling and snapshot every counter at `t` (the job's exit); once. A stage
        calls it before it stops what the job left running, so the grace those leftovers
        get is not metered as part of the run."""
        if self._stopped:
            return
        self._stopped = True
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        for src in self.sources:
            src.stop(t)

    def close(self, window: Window) -> MeterResult:
        self.stop(window.end)
        return combine([s.result(window) for s in self.sources], window, self)

    def _loop(self) -> None:
        cpu0 = time.thread_time()
        due = {id(s): self.t_start for s in self.sources if s.interval_s}
        while not self._stop.is_set():
            now = time.monotonic()
            with self._lock:
                pids = frozenset(self._pids)
            woke = self._wake.is_set()
            self._wake.clear()
            for src in self.sources:
                if not src.interval_s:
                    continue
                if now >= due[id(src)] or woke:
                    if now - due[id(src)] > 2 * src.interval_s + 0.5:
                        self._gaps += 1
                    src.sample(now, pids)
                    due[id(src)] = now + src.interval_s
            if self.keep_live:
                self._live = self._collect_live(now)
            wait = max(0.0, min(due.values()) - time.monotonic())
            self._wake.wait(wait)
        self._sampler_cpu_s = time.thread_time() - cpu0

    def _collect_live(self, t: float) -> tuple[LiveReading, ...]:
        readings = (s.live(t) for s in self.sources)
        return tuple(r for r in readings if r is not None)

    @property
    def live_readings(self) -> tuple[LiveReading, ...]:
        """The newest figures so far, rebuilt by the sampling thread after each round.

        Reading this never touches a sensor: the tuple is replaced whole, so another thread
        sees either the previous round or the new one.
        """
        return self._live

    @property
    def sampler_cpu_s(self) -> float:
        """CPU time the sampling thread used (set when the session closes)."""
        return self._sampler_cpu_s

    @property
    def sampling_gaps(self) -> int:
        return self._gaps


def combine(results: list[SourceResult], window: Window, session: MeterSession) -> MeterResult:
    comps = [c for r in results for c in r.components]
    measured_kinds = tot.measured_kinds(comps)
    final = tot.replace_estimates(comps, measured_kinds)
    m_total, e_total, method = tot.energy_totals(final)
    total = tot.add(m_total, e_total)
    notes = [n for r in results for n in r.notes]
    low = _confidence(results, tot.partial_kinds(comps, measured_kinds), window, session, notes)
    exclusive_vals = [r.exclusive for r in results if r.exclusive is not None]
    return MeterResult(
        components=final,
        energy_kwh=total,
        energy_method=method,
        energy_measured_kwh=m_total,
        energy_estimated_kwh=e_total,
        peak_rss_bytes=tot.peak([r.peak_rss_bytes for r in results]),
        peak_rss_single_bytes=tot.peak([r.peak_rss_single_bytes for r in results]),
        gpu_peak_memory_bytes=tot.peak([r.gpu_peak_memory_bytes for r in results]),
        gpus=[g for r in results for g in r.gpus],
        driver_version=tot.first([r.driver_version for r in results]),
        cuda_version=tot.first([r.cuda_version for r in results]),
        exclusive=all(exclusive_vals) if exclusive_vals else None,
        low_confidence=low,
        telemetry_ok=total is not None,
        notes=notes,
        sampler_cpu_s=session.sampler_cpu_s,
    )


def _confidence(results: list[SourceResult], partial: set[str], window: Window,
                session: MeterSession, notes: list[str]) -> bool:
    """Whether the run's figures are low-confidence; appends the reasons to `notes`."""
    low = any(r.low_confidence for r in results)
    if window.duration_s < 1.0:
        low = True
        notes.append(
            f"the run took {window.duration_s:.2f} s, shorter than the energy counters' "
            "update periods; its figures are low-confidence"
        )
    if partial:
        low = True
        notes.append(
            f"only some {'/'.join(sorted(partial))} domains were measured; the total misses "
            "the unreadable ones (see components)"
        )
    if session.sampling_gaps:
        low = True
        notes.append(
            f"sampling fell behind {session.sampling_gaps} time(s); figures may miss peaks"
        )
    return low
