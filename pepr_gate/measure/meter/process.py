"""The job's process tree: peak resident memory, summed over the tree and per process.

Wall time and CPU time come from the runner (monotonic clock, `os.wait4`); this source
samples the tree's RSS at 2 Hz, and right away whenever a new stage starts. A job too short
to be sampled still gets its peak from `wait4`'s `ru_maxrss` (largest single process).
"""

from __future__ import annotations

import resource

import psutil

from pepr_gate.measure.meter.base import Source, SourceResult, Window
from pepr_gate.records import Component


class ProcessSource(Source):
    name = "process"
    interval_s = 0.5

    def __init__(self) -> None:
        self.peak_sum = 0
        self.peak_single = 0
        self.samples = 0
        self.pids_seen: set[int] = set()
        self._procs: dict[int, psutil.Process] = {}
        self.own_rss = 0
        self._cpu_by_pid: dict[int, float] = {}  # the latest CPU seconds of each process
        self.cpu_points: list[tuple[float, float]] = []  # (t, CPU seconds so far), last two

    def start(self, t: float) -> None:
        # subprocess starts children with vfork, and Linux carries the parent's high-water
        # RSS into the child's ru_maxrss at exec; a figure no larger than pepr-gate's own
        # peak therefore tells nothing about the job itself.
        self.own_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def sample(self, t: float, pids: frozenset[int]) -> None:
        total = 0
        single = 0
        for root in pids:
            for proc in self._tree(root):
                try:
                    rss = proc.memory_info().rss
                    cpu = proc.cpu_times()
                except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                    continue
                # A process that exits keeps its last figure: CPU seconds only grow.
                self._cpu_by_pid[proc.pid] = cpu.user + cpu.system
                self.pids_seen.add(proc.pid)
                total += rss
                single = max(single, rss)
        self.cpu_points = [*self.cpu_points[-1:], (t, sum(self._cpu_by_pid.values()))]
        if total:
            self.samples += 1
            # Sample fast while the job is young, so short jobs are seen at all.
            self.interval_s = 0.1 if self.samples < 10 else 0.5
            self.peak_sum = max(self.peak_sum, total)
            self.peak_single = max(self.peak_single, single)

    def _tree(self, root: int) -> list[psutil.Process]:
        # Process objects are cached so repeated samples skip re-reading /proc/<pid>/stat
        try:
            proc = self._procs.get(root) or psutil.Process(root)
            self._procs[root] = proc
            return [proc, *proc.children(recursive=True)]
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            return []

    def result(self, window: Window) -> SourceResult:
        waited = window.max_rss_single_bytes
        notes = []
        if self.samples == 0:
            single = waited
            notes.append(
                "the job ended before a memory sample; peak RSS is wait4's ru_maxrss, an "
                "upper bound that includes memory shared with pepr-gate at fork"
            )
        else:
            single = max(self.peak_single, waited if waited > self.own_rss else 0)
        total = max(self.peak_sum, single)
        return SourceResult(
            components=[
                Component(
                    kind="process",
                    name="process tree",
                    method="measured",
                    detail="monotonic clock, os.wait4, psutil RSS sampling",
                    counts_toward_total=False,
                    notes=notes,
                    extra={
                        "duration_s": window.duration_s,
                        "cpu_user_s": window.cpu_user_s,
                        "cpu_sys_s": window.cpu_sys_s,
                        "rss_samples": self.samples,
                        "processes_seen": len(self.pids_seen),
                    },
                )
            ],
            peak_rss_bytes=total or None,
            peak_rss_single_bytes=single or None,
        )
