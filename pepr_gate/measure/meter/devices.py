"""Which GPUs the job can see: `CUDA_VISIBLE_DEVICES` resolved to physical devices by UUID.

CUDA accepts indices (`0,2`), `GPU-` UUIDs or unique UUID prefixes, and `MIG-` ids (the
R470+ `MIG-<uuid>` form and the older `MIG-GPU-<uuid>/<gi>/<ci>`). Indices follow
`CUDA_DEVICE_ORDER`: `PCI_BUS_ID` is NVML's order; the default `FASTEST_FIRST` puts the
most capable GPU first, which only differs from NVML's order on mixed machines. A
negative index hides itself and every later entry (the `-1` idiom hides all GPUs).
`NoDevFiles` (what Slurm sets for a job given no GPU) ends the list the same way.

Parsing happens when the meter is built, so a malformed value is a clear `InputError`
before the job starts; matching against the machine's GPUs happens when NVML is open.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pepr_gate.errors import InputError

ORDERS = ("FASTEST_FIRST", "PCI_BUS_ID")
_HINT = (
    "set CUDA_VISIBLE_DEVICES to a comma-separated list of GPU indices (0,2), GPU UUIDs or "
    "unique UUID prefixes (GPU-8f2a), or MIG ids (MIG-...), as `nvidia-smi -L` prints them"
)
_INDEX = re.compile(r"^-?\d+$")
_GPU = re.compile(r"^GPU-[0-9a-fA-F-]+$")
_MIG = re.compile(r"^MIG-[0-9A-Za-z/-]+$")


@dataclass(frozen=True)
class MigSlice:
    uuid: str  # "MIG-..." as NVML reports it
    index: int  # position under its parent GPU
    gpu_instance: int | None = None
    compute_instance: int | None = None
    profile: str | None = None  # "1g.10gb", from the slice's name


@dataclass(frozen=True)
class PhysicalGpu:
    index: int  # NVML index (PCI bus order)
    uuid: str
    name: str
    pci_bus_id: str = ""
    compute_capability: tuple[int, int] | None = None
    cores: int | None = None
    mig: tuple[MigSlice, ...] = ()


@dataclass(frozen=True)
class Entry:
    kind: Literal["index", "uuid", "mig"]
    value: str


@dataclass(frozen=True)
class VisibleSpec:
    raw: str | None  # None: CUDA_VISIBLE_DEVICES unset, every GPU is visible
    entries: tuple[Entry, ...]
    order: str = "FASTEST_FIRST"


@dataclass(frozen=True)
class Target:
    gpu: PhysicalGpu
    mig: MigSlice | None = None


@dataclass
class Resolution:
    targets: list[Target]
    problems: list[str] = field(default_factory=list)  # entries that matched nothing
    notes: list[str] = field(default_factory=list)
    unopened: list[tuple[int, Any]] = field(default_factory=list)  # (NVML index, NvmlFailure)

    @property
    def visible_uuids(self) -> set[str]:
        return {t.gpu.uuid for t in self.targets}


def parse_visible(env: Mapping[str, str]) -> VisibleSpec:
    """Parse the job's CUDA_VISIBLE_DEVICES and CUDA_DEVICE_ORDER; InputError when malformed."""
    order = env.get("CUDA_DEVICE_ORDER", "FASTEST_FIRST").strip() or "FASTEST_FIRST"
    if order not in ORDERS:
        raise InputError(
            f"CUDA_DEVICE_ORDER={order!r} is not a value CUDA knows",
            hint="use CUDA_DEVICE_ORDER=PCI_BUS_ID (nvidia-smi's order) or FASTEST_FIRST",
        )
    raw = env.get("CUDA_VISIBLE_DEVICES")
    if raw is None:
        return VisibleSpec(raw=None, entries=(), order=order)
    entries: list[Entry] = []
    for token in (t.strip() for t in raw.split(",")):
        if not token and raw.strip() == "":
            break  # CUDA_VISIBLE_DEVICES="" hides every GPU
        if token == "NoDevFiles":
            break  # Slurm's "no GPU": CUDA stops here, as at "-1" (seen on an H200)
        if _INDEX.match(token):
            if int(token) < 0:
                break  # CUDA stops at the first invalid index: "-1" hides all
            entries.append(Entry("index", str(int(token))))
        elif _GPU.match(token):
            entries.append(Entry("uuid", token))
        elif _MIG.match(token):
            entries.append(Entry("mig", token))
        else:
            raise InputError(
                f"CUDA_VISIBLE_DEVICES={raw!r}: entry {token!r} is not a GPU index, "
                "GPU- UUID or MIG- id",
                hint=_HINT,
            )
    seen: set[Entry] = set()
    for e in entries:
        if e in seen:
            raise InputError(
                f"CUDA_VISIBLE_DEVICES={raw!r} names {e.value!r} twice (CUDA refuses that)",
                hint=_HINT,
            )
        seen.add(e)
    return VisibleSpec(raw=raw, entries=tuple(entries), order=order)


def cuda_order(gpus: Sequence[PhysicalGpu], order: str) -> list[PhysicalGpu]:
    """The GPUs in the order CUDA numbers them."""
    by_pci = sorted(gpus, key=lambda g: (g.pci_bus_id.lower(), g.index))
    if order == "PCI_BUS_ID":
        return by_pci
    # FASTEST_FIRST: newest compute capability, then most cores; ties keep PCI order.
    return sorted(
        by_pci,
        key=lambda g: (-(g.compute_capability or (0, 0))[0],
                       -(g.compute_capability or (0, 0))[1], -(g.cores or 0)),
    )


def _match_uuid(value: str, gpus: Sequence[PhysicalGpu]) -> tuple[PhysicalGpu | None, str]:
    hits = [g for g in gpus if g.uuid.lower().startswith(value.lower())]
    if len(hits) == 1:
        return hits[0], ""
    if not hits:
        return None, f"{value!r} matches no GPU UUID"
    return None, f"{value!r} is a prefix of {len(hits)} GPU UUIDs (ambiguous)"


def _match_mig(value: str, gpus: Sequence[PhysicalGpu]) -> Target | None:
    for g in gpus:
        for s in g.mig:
            if s.uuid.lower() == value.lower():
                return Target(g, s)
    # Pre-R470 form: MIG-GPU-<uuid>/<gpu instance>/<compute instance>
    legacy = re.match(r"^MIG-(GPU-[0-9a-fA-F-]+)/(\d+)/(\d+)$", value)
    if legacy:
        for g in gpus:
            if g.uuid.lower() != legacy.group(1).lower():
                continue
            for s in g.mig:
                if (s.gpu_instance, s.compute_instance) == (
                    int(legacy.group(2)), int(legacy.group(3))
                ):
                    return Target(g, s)
    return None


def resolve(spec: VisibleSpec, gpus: Sequence[PhysicalGpu]) -> Resolution:
    """Map the parsed spec onto the machine's GPUs; like CUDA, stop at the first miss."""
    if spec.raw is None:
        return Resolution(targets=[Target(g) for g in sorted(gpus, key=lambda g: g.index)])
    ordered = cuda_order(gpus, spec.order)
    res = Resolution(targets=[])
    if spec.order != "PCI_BUS_ID" and len({g.name for g in gpus}) > 1 and any(
        e.kind == "index" for e in spec.entries
    ):
        res.notes.append(
            "CUDA_DEVICE_ORDER is FASTEST_FIRST on a machine with different GPU models: "
            "indices were mapped with CUDA's fastest-first rule; set "
            "CUDA_DEVICE_ORDER=PCI_BUS_ID to make indices match nvidia-smi"
        )
    for i, e in enumerate(spec.entries):
        target: Target | None = None
        why = ""
        if e.kind == "index":
            n = int(e.value)
            if n < len(ordered):
                target = Target(ordered[n])
            else:
                why = f"index {n} is out of range ({len(ordered)} GPU(s) found)"
        elif e.kind == "uuid":
            gpu, why = _match_uuid(e.value, gpus)
            target = Target(gpu) if gpu else None
        else:
            target = _match_mig(e.value, gpus)
            why = "" if target else f"{e.value!r} matches no MIG device"
        if target is None:
            hidden = [x.value for x in spec.entries[i + 1:]]
            tail = (f"; CUDA also ignores the entries after it ({', '.join(hidden)})"
                    if hidden else "")
            res.problems.append(f"CUDA_VISIBLE_DEVICES={spec.raw!r}: {why}{tail}")
            break
        if target.mig is None and target.gpu.mig:
            res.notes.append(
                f"GPU {target.gpu.index} ({target.gpu.uuid}) has MIG enabled but is named "
                "as a whole GPU; name a MIG- id to use a slice"
            )
        res.targets.append(target)
    return res
