"""What differs between two runs' machines, in words: the no-baseline reason names it;
and a candidate whose GPUs started much colder or warmer than the baseline's."""

from __future__ import annotations

from collections.abc import Sequence
from statistics import median

from pepr_gate.records import GpuInfo, Hardware, RunRecord


def _major(version: str | None) -> str | None:
    head = (version or "").strip().split(".", 1)[0]
    return head if head.isdigit() else None


def _gpus(hw: Hardware) -> list[GpuInfo]:
    return sorted((g for g in hw.gpus if g.visible), key=lambda g: (g.index or 0, g.name))


def _gib(n: int) -> int:
    return round(n / 2**30)


def _host(ours: Hardware, theirs: Hardware) -> list[str]:
    out = []
    if (ours.cpu_model, ours.cpu_count) != (theirs.cpu_model, theirs.cpu_count):
        out.append(f"CPU {ours.cpu_model} x{ours.cpu_count} vs "
                   f"{theirs.cpu_model} x{theirs.cpu_count}")
    if _gib(ours.ram_bytes) != _gib(theirs.ram_bytes):
        out.append(f"RAM {_gib(ours.ram_bytes)} GiB vs {_gib(theirs.ram_bytes)} GiB")
    return out


def _one_gpu(x: GpuInfo, y: GpuInfo) -> list[str]:
    """MIG profile and power limit, where both runs recorded them."""
    label = f"GPU {x.index if x.index is not None else '?'}"
    out = []
    if x.mig_profile and y.mig_profile and x.mig_profile != y.mig_profile:
        out.append(f"{label} MIG profile {x.mig_profile} vs {y.mig_profile}")
    if x.power_limit_w and y.power_limit_w and x.power_limit_w != y.power_limit_w:
        out.append(f"{label} power limit {x.power_limit_w:g} W vs {y.power_limit_w:g} W")
    return out


def _recorded(gpus: list[GpuInfo]) -> bool:
    return any(g.mig_profile or g.power_limit_w for g in gpus)


def hardware_changes(ours: Hardware, theirs: Hardware) -> list[str]:
    """Each part of the fingerprint that differs, "what: ours vs theirs"."""
    out = _host(ours, theirs)
    a, b = _gpus(ours), _gpus(theirs)
    if [g.name for g in a] != [g.name for g in b]:
        out.append(f"GPUs {len(a)} x {a[0].name if a else 'none'} vs "
                   f"{len(b)} x {b[0].name if b else 'none'}")
        return out
    for x, y in zip(a, b, strict=True):
        out.extend(_one_gpu(x, y))
    if a and _major(ours.driver_version) != _major(theirs.driver_version):
        out.append(f"NVIDIA driver {_major(ours.driver_version) or 'unknown'} vs "
                   f"{_major(theirs.driver_version) or 'unknown'} (major version)")
    if not out and _recorded(a) != _recorded(b):
        out.append("one side was measured before MIG profile, power limit and driver branch "
                   "joined the fingerprint (run the base branch once to store a new baseline)")
    return out


WARM_COLD_C = 15.0  # start temperatures this far apart make a warm/cold note


def start_temperature(run: RunRecord) -> float | None:
    """The mean start temperature of the GPUs a run counted: the run's recorded conditions,
    else (older records) the meter's GPU state."""
    if run.conditions is not None and run.conditions.gpu_temperature_c is not None:
        return run.conditions.gpu_temperature_c
    temps = []
    for c in run.components:
        start = (c.extra.get("state") or {}).get("start") or {}
        if c.kind == "gpu" and c.counts_toward_total and start.get("temperature_c") is not None:
            temps.append(float(start["temperature_c"]))
    return sum(temps) / len(temps) if temps else None


def warm_cold_note(candidates: Sequence[RunRecord], baselines: Sequence[RunRecord]) -> str | None:
    """A note when the candidate's GPUs started much colder or warmer than the baseline's."""
    ours = [t for r in candidates if (t := start_temperature(r)) is not None]
    theirs = [t for r in baselines if (t := start_temperature(r)) is not None]
    if not ours or not theirs:
        return None
    a, b = median(ours), median(theirs)
    if abs(a - b) < WARM_COLD_C:
        return None
    return (f"the candidate's GPUs started at {a:.0f} °C, the baseline runs' at {b:.0f} °C "
            f"(median): a {'colder' if a < b else 'warmer'} GPU draws "
            f"{'less' if a < b else 'more'} power for the same work, so part of the "
            "difference may be temperature; [run] cooldown = { max_temp_c = ... } starts "
            "every run at the same temperature")
