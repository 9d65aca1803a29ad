"""Finding the GPUs under NVML and the job's processes: which devices, which visible."""

from __future__ import annotations

from typing import Any

from pepr_gate.measure.meter.devices import MigSlice, PhysicalGpu, Resolution, VisibleSpec, resolve
from pepr_gate.measure.meter.nvml_device import Device, try_call
from pepr_gate.measure.meter.nvml_errors import Nvml, NvmlFailure, text

MIG_ENABLED = 1


def job_tree(roots: frozenset[int]) -> set[int]:
    """The roots and every descendant still alive (NVML lists PIDs, not trees)."""
    import psutil

    pids = set(roots)
    for pid in roots:
        try:
            pids.update(c.pid for c in psutil.Process(pid).children(recursive=True))
        except (psutil.Error, OSError):
            continue
    return pids


def discover(
    lib: Nvml, spec: VisibleSpec
) -> tuple[str | None, str | None, list[Device], Resolution]:
    driver = try_call(lib, "nvmlSystemGetDriverVersion")
    cuda_raw = try_call(lib, "nvmlSystemGetCudaDriverVersion")
    cuda = f"{cuda_raw // 1000}.{cuda_raw % 1000 // 10}" if isinstance(cuda_raw, int) else None
    count = lib.call("nvmlDeviceGetCount", what="counting GPUs")
    gpus: list[PhysicalGpu] = []
    handles: dict[str, tuple[Any, dict[str, Any]]] = {}
    unopened: list[tuple[int, NvmlFailure]] = []
    for i in range(count):
        try:
            h = lib.call("nvmlDeviceGetHandleByIndex", i, what=f"opening GPU {i}")
            uuid = text(lib.call("nvmlDeviceGetUUID", h, what=f"reading GPU {i}'s UUID"))
        except NvmlFailure as f:
            # Slurm's device cgroup or a lost GPU: meter the others. CUDA does not count a
            # device it cannot open, so leaving it out of `gpus` keeps indices as CUDA's.
            unopened.append((i, f))
            continue
        pci = try_call(lib, "nvmlDeviceGetPciInfo", h)
        cc = try_call(lib, "nvmlDeviceGetCudaComputeCapability", h)
        slices, mig_handles = _mig(lib, h)
        gpus.append(PhysicalGpu(
            index=i, uuid=uuid, name=text(try_call(lib, "nvmlDeviceGetName", h) or f"GPU {i}"),
            pci_bus_id=text(pci.busId) if pci is not None else "",
            compute_capability=(int(cc[0]), int(cc[1])) if cc else None,
            cores=try_call(lib, "nvmlDeviceGetNumGpuCores", h), mig=tuple(slices)))
        handles[uuid] = (h, mig_handles)
    resolution = resolve(spec, gpus)
    resolution.unopened = unopened
    devices = []
    for g in gpus:
        h, mig_handles = handles[g.uuid]
        mine = [t.mig for t in resolution.targets if t.gpu.uuid == g.uuid and t.mig]
        devices.append(Device(lib, g, h, visible=g.uuid in resolution.visible_uuids,
                              mig_visible=[m.uuid for m in mine],
                              proc_handles=list(mig_handles.items()) or [(g.uuid, h)]))
    return (text(driver) if driver else None), cuda, devices, resolution


def _mig(lib: Nvml, h: Any) -> tuple[list[MigSlice], dict[str, Any]]:
    mode = try_call(lib, "nvmlDeviceGetMigMode", h)
    if not mode or mode[0] != MIG_ENABLED:
        return [], {}
    slices, handles = [], {}
    for j in range(try_call(lib, "nvmlDeviceGetMaxMigDeviceCount", h) or 0):
        mh = try_call(lib, "nvmlDeviceGetMigDeviceHandleByIndex", h, j)
        if mh is None:
            continue  # an empty slot
        raw = try_call(lib, "nvmlDeviceGetUUID", mh)
        if raw is None:
            continue  # a slice whose UUID NVML will not give cannot be named by CUDA either
        uuid = text(raw)
        slices.append(MigSlice(uuid, j, try_call(lib, "nvmlDeviceGetGpuInstanceId", mh),
                               try_call(lib, "nvmlDeviceGetComputeInstanceId", mh),
                               mig_profile(try_call(lib, "nvmlDeviceGetName", mh))))
        handles[uuid] = mh
    return slices, handles


def mig_profile(name: Any) -> str | None:
    """"NVIDIA A100-SXM4-40GB MIG 1g.5gb" -> "1g.5gb" (NVML names a slice by its profile)."""
    if name is None:
        return None
    _, found, profile = text(name).partition(" MIG ")
    return profile.strip() or None if found else None
