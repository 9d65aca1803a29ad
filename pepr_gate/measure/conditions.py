"""The conditions a run ran under: the machine's load and the CPU time others took.

A CPU-estimated (or RAPL whole-socket) energy reading, and wall time, move with what else
the runner does: on a shared 2-core runner the same code's estimated energy rose about
3.3% per unit of load average. Each run therefore records, beside its figures:

- `load_start`, `load_end`: the 1-minute load average when the job started and ended;
- `other_cpu_share`: the share of the machine's CPU time (all CPUs, from `/proc/stat`)
  that was busy during the window but not spent by the job: other processes' work;
- `wall_cpu_ratio`: the job's wall time over its CPU time (about 1.0 for a
  single-threaded job that never waited for a CPU; 2-3 when it queued behind others);
- `cpu_count`: the machine's logical CPUs, so a load can be read per CPU.

Readings the platform does not offer (no `/proc/stat` on macOS) are left out; nothing
here can fail a run.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from pepr_gate.records import MAX_WALL_CPU_RATIO, Component, Conditions

PROC_STAT = "/proc/stat"


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):
        return None


def cpu_seconds(path: str = PROC_STAT) -> tuple[float, float] | None:
    """(busy, total) CPU seconds over all CPUs since boot, or None where unreadable."""
    try:
        with open(path, encoding="ascii") as fh:
            first = fh.readline().split()
        ticks = float(os.sysconf("SC_CLK_TCK"))
        fields = [float(x) for x in first[1:9]]
    except (OSError, ValueError, AttributeError):
        return None
    if len(fields) < 8 or first[0] != "cpu" or ticks <= 0:
        return None
    user, nice, system, idle, iowait, irq, softirq, steal = fields
    busy = user + nice + system + irq + softirq + steal
    return busy / ticks, (busy + idle + iowait) / ticks


def other_share(before: tuple[float, float] | None, after: tuple[float, float] | None,
                job_cpu_s: float) -> float | None:
    """The share of all CPU time in the window that was busy but not the job's."""
    if before is None or after is None:
        return None
    busy, total = after[0] - before[0], after[1] - before[1]
    if total <= 0:
        return None
    return round(min(max((busy - job_cpu_s) / total, 0.0), 1.0), 4)


@dataclass
class ConditionsProbe:
    """Started right before the job's first stage, finished right after its last."""

    load_start: float | None
    stat_start: tuple[float, float] | None

    @classmethod
    def start(cls) -> ConditionsProbe:
        return cls(_load(), cpu_seconds())

    def finish(self, duration_s: float, cpu_time_s: float,
               gpu_temperature_c: float | None = None) -> Conditions:
        ratio = round(duration_s / cpu_time_s, 3) if cpu_time_s > 0 else None
        if ratio is not None and not 0 < ratio <= MAX_WALL_CPU_RATIO:
            ratio = None  # rounded to 0 (thousands of busy threads) or past any sane figure
        return Conditions(
            load_start=self.load_start,
            load_end=_load(),
            other_cpu_share=other_share(self.stat_start, cpu_seconds(), cpu_time_s),
            wall_cpu_ratio=ratio,
            gpu_temperature_c=gpu_temperature_c,
            cpu_count=os.cpu_count(),
        )


def gpu_start_temperature(components: Sequence[Component]) -> float | None:
    """The mean temperature of the metered GPUs when the window opened (the meter's GPU
    state, `extra.state.start`); None without a GPU reading."""
    temps = []
    for c in components:
        start = (c.extra.get("state") or {}).get("start") or {}
        if c.kind == "gpu" and c.counts_toward_total and start.get("temperature_c") is not None:
            temps.append(float(start["temperature_c"]))
    return round(sum(temps) / len(temps), 1) if temps else None
