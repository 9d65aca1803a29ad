"""The job's GPU peak memory and whether it had its GPUs to itself, from what NVML's
process lists showed over the run (and accounting mode's peaks, where it is on)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pepr_gate.measure.meter.base import SourceResult

if TYPE_CHECKING:
    from pepr_gate.measure.meter.nvml_device import Device


@dataclass(frozen=True)
class Seen:
    """What the process lists of the GPUs the job can see showed over the run."""

    visible: bool  # the job can see at least one GPU
    lists_ok: bool  # the job's own (slice's) compute list was read
    matched: bool  # a process of the job was listed
    unknown: bool  # ... without its memory (NVML_VALUE_NOT_AVAILABLE)
    partial: bool  # another slice's list was not readable
    foreign: list[int]  # listed PIDs outside the job's process tree
    accounted: int  # accounting mode's peak, summed over the GPUs


def seen_on(devices: Sequence[Device]) -> Seen:
    visible = [d for d in devices if d.visible]
    return Seen(
        visible=bool(visible),
        lists_ok=any(d.lists_ok for d in visible),
        matched=any(d.job_seen for d in visible),
        unknown=any(d.memory_unknown for d in visible),
        partial=any(d.lists_partial for d in visible),
        foreign=sorted({p for d in visible for p in d.foreign}),
        accounted=sum(d.accounting_peak for d in visible),
    )


def memory_and_exclusivity(res: SourceResult, devices: Sequence[Device], peak_job_mem: int,
                           peak_used_mem: int) -> None:
    """Set `res`'s GPU peak memory and exclusivity, with notes saying how they were found."""
    seen = seen_on(devices)
    if seen.matched and seen.unknown and not seen.accounted:
        _memory_unknown(res, seen)
        return
    if seen.lists_ok and seen.matched:
        _job_listed(res, seen, peak_job_mem)
    elif seen.lists_ok and not seen.foreign:
        _job_not_listed(res, seen)
    else:
        _lists_unusable(res, seen, peak_used_mem)
    if seen.accounted:
        res.notes.append("GPU peak memory includes accounting mode's maxMemoryUsage")
    display = sorted({p for d in devices if d.visible for p in d.display})
    if display:
        res.notes.append(
            f"display processes (graphics only, PIDs {', '.join(map(str, display[:5]))}: a "
            "desktop or X server) used the job's GPU(s): not counted as other jobs; their "
            "draw is in the whole-GPU figure")


def _memory_unknown(res: SourceResult, seen: Seen) -> None:
    res.gpu_peak_memory_bytes = None
    res.exclusive = False if seen.foreign else None
    res.notes.append(
        "GPU peak memory unavailable: NVML lists the job's processes without their "
        "memory (NVML_VALUE_NOT_AVAILABLE; vGPUs and some containers); exclusivity "
        + ("no: other processes used the GPU" if seen.foreign else "unknown"))


def _job_listed(res: SourceResult, seen: Seen, peak_job_mem: int) -> None:
    foreign = seen.foreign
    res.gpu_peak_memory_bytes = max(peak_job_mem, seen.accounted)
    res.exclusive = False if foreign else (None if seen.partial else True)
    if seen.partial and not foreign:
        res.notes.append("another MIG slice's process list was not readable: "
                         "exclusivity unknown")
    if foreign:
        res.notes.append(
            f"other processes used the job's GPU(s) during the run (PIDs "
            f"{', '.join(map(str, foreign[:5]))}): the run is not exclusive and "
            "its GPU energy includes their work")


def _job_not_listed(res: SourceResult, seen: Seen) -> None:
    res.gpu_peak_memory_bytes = seen.accounted
    res.exclusive = None if seen.partial else True
    if seen.visible:
        res.notes.append("no process of the job appeared in NVML's process lists "
                         "(sampled every 1 s): the job used no GPU memory")


def _lists_unusable(res: SourceResult, seen: Seen, peak_used_mem: int) -> None:
    res.gpu_peak_memory_bytes = peak_used_mem if seen.visible else None
    res.exclusive = None
    why = ("NVML's process lists show PIDs outside the job's process tree (a "
           "container's PID namespace?)" if seen.lists_ok else
           "NVML's process lists are not readable")
    if seen.visible:
        res.notes.append(f"{why}: GPU peak memory is the device's used-memory peak, "
                         "which includes any other process; exclusivity unknown")
