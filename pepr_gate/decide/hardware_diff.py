"""What differs between two runs' machines, in words: the no-baseline reason names it."""

from __future__ import annotations

from pepr_gate.records import GpuInfo, Hardware


def _major(version: str | None) -> str | None:
    head = (version or "").strip().split(".", 1)[0]
    return head if head.isdigit() else None


def _gpus(hw: Hardware) -> list[GpuInfo]:
    return sorted((g for g in hw.gpus if g.visible), key=lambda g: (g.index or 0, g.name))


def _watts(value: float | None) -> str:
    return f"{value:g} W" if value is not None else "unknown"


def hardware_changes(ours: Hardware, theirs: Hardware) -> list[str]:
    """Each part of the fingerprint that differs, "what: ours vs theirs"."""
    out: list[str] = []
    if ours.cpu_model != theirs.cpu_model or ours.cpu_count != theirs.cpu_count:
        out.append(f"CPU {ours.cpu_model} x{ours.cpu_count} vs "
                   f"{theirs.cpu_model} x{theirs.cpu_count}")
    if round(ours.ram_bytes / 2**30) != round(theirs.ram_bytes / 2**30):
        out.append(f"RAM {round(ours.ram_bytes / 2**30)} GiB vs "
                   f"{round(theirs.ram_bytes / 2**30)} GiB")
    a, b = _gpus(ours), _gpus(theirs)
    if [g.name for g in a] != [g.name for g in b]:
        out.append(f"GPUs {len(a)} x {a[0].name if a else 'none'} vs "
                   f"{len(b)} x {b[0].name if b else 'none'}")
        return out
    for x, y in zip(a, b, strict=True):
        label = f"GPU {x.index if x.index is not None else '?'}"
        if (x.mig_profile or "whole-gpu") != (y.mig_profile or "whole-gpu") and (
                x.mig_profile and y.mig_profile):
            out.append(f"{label} MIG profile {x.mig_profile} vs {y.mig_profile}")
        if x.power_limit_w != y.power_limit_w and x.power_limit_w and y.power_limit_w:
            out.append(f"{label} power limit {_watts(x.power_limit_w)} vs "
                       f"{_watts(y.power_limit_w)}")
    if a and _major(ours.driver_version) != _major(theirs.driver_version):
        out.append(f"NVIDIA driver {_major(ours.driver_version) or 'unknown'} vs "
                   f"{_major(theirs.driver_version) or 'unknown'} (major version)")
    if not out and (any(g.mig_profile or g.power_limit_w for g in a)
                    != any(g.mig_profile or g.power_limit_w for g in b)):
        out.append("one side was measured before MIG profile, power limit and driver branch "
                   "joined the fingerprint (run the base branch once to store a new baseline)")
    return out
