"""A scripted NVML at the library boundary: the real `pynvml` module with its functions
replaced by autospec mocks (so a wrong call signature fails the test) that read from
fake GPUs driven by a clock the test advances. Constants and NVMLError classes are real.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pynvml

GiB = 1024**3


# (clock, how many times this function was called on this device, this call included)
#   -> an NVML error code to raise, or None to answer
Flaky = Callable[[float, int], int | None]


@dataclass(eq=False)
class FakeMig:
    uuid: str
    gi: int
    ci: int
    name: str = "NVIDIA A100-SXM4-40GB MIG 1g.5gb"
    processes: Callable[[float], list[tuple[int, int | None]]] = lambda t: []
    errors: dict[str, int] = field(default_factory=dict)
    flaky: dict[str, Flaky] = field(default_factory=dict)


@dataclass(eq=False)
class FakeGpu:
    uuid: str
    name: str = "NVIDIA A100-SXM4-40GB"
    pci: str = "00000000:07:00.0"
    cc: tuple[int, int] = (8, 0)
    cores: int = 6912
    memory_total: int = 40 * GiB
    power_limit_mw: int = 400_000
    # watts at clock time t; the counter is its exact integral unless `counter` is False
    power: Callable[[float], float] = lambda t: 250.0
    energy_integral: Callable[[float], float] | None = None  # joules from 0 to t
    counter: bool = True
    utilization: int = 87
    memory_used: int = 12 * GiB
    # (pid, bytes); bytes None is NVML_VALUE_NOT_AVAILABLE, as nvidia-ml-py hands it over
    processes: Callable[[float], list[tuple[int, int | None]]] = lambda t: []
    mig: list[FakeMig] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)  # function name -> NVML code
    flaky: dict[str, Flaky] = field(default_factory=dict)  # function name -> when it fails
    accounting: dict[int, int] = field(default_factory=dict)  # pid -> maxMemoryUsage
    instant_power: bool = False  # the driver has NVML_FI_DEV_POWER_INSTANT
    # GPU state: degrees C at clock time t, SM clock MHz, clock-event reason bits, pstate
    temperature: Callable[[float], float] = lambda t: 45.0
    sm_clock_mhz: int = 1410
    throttle: int = 0
    pstate: int = 0
    graphics: Callable[[float], list[tuple[int, int | None]]] = lambda t: []


def sine_power(base: float, amp: float, period: float) -> tuple[Callable[[float], float],
                                                                 Callable[[float], float]]:
    """P(t) = base + amp sin(2 pi t / period) and its exact integral from 0."""
    w = 2 * math.pi / period
    return (lambda t: base + amp * math.sin(w * t),
            lambda t: base * t + amp * (1 - math.cos(w * t)) / w)


class FakeNvml:
    def __init__(self, gpus: list[FakeGpu], *, init_error: int | None = None,
                 driver: str = "535.104.05", cuda: int = 12020,
                 handle_errors: dict[int, int] | None = None) -> None:
        self.gpus = gpus
        self.init_error = init_error
        self.handle_errors = handle_errors or {}  # NVML index -> code (e.g. Slurm's cgroup)
        self.calls: dict[tuple[int, str], int] = {}
        self.driver = driver
        self.cuda = cuda
        self.clock = 0.0
        self.mocks: dict[str, mock.MagicMock] = {}

    def _fail(self, handle: Any, name: str) -> None:
        code = getattr(handle, "errors", {}).get(name)
        if code is not None:
            raise pynvml.NVMLError(code)
        when = getattr(handle, "flaky", {}).get(name)
        if when is not None:
            key = (id(handle), name)
            self.calls[key] = self.calls.get(key, 0) + 1
            code = when(self.clock, self.calls[key])
            if code is not None:
                raise pynvml.NVMLError(code)

    def _impl(self) -> dict[str, Callable[..., Any]]:
        def dev(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
            def call(handle: Any, *args: Any) -> Any:
                self._fail(handle, name)
                return fn(handle, *args)
            return call

        def init() -> None:
            if self.init_error is not None:
                raise pynvml.NVMLError(self.init_error)

        def handle_by_index(i: int) -> FakeGpu:
            if i in self.handle_errors:
                raise pynvml.NVMLError(self.handle_errors[i])
            if i >= len(self.gpus):
                raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
            return self.gpus[i]

        def energy(g: FakeGpu) -> int:
            if not g.counter or g.energy_integral is None:
                raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
            return int(1_000_000_000 + g.energy_integral(self.clock) * 1000)

        def processes(h: Any) -> list[Any]:
            return [SimpleNamespace(pid=p, usedGpuMemory=m) for p, m in h.processes(self.clock)]

        def mig_handle(g: FakeGpu, j: int) -> FakeMig:
            if j >= len(g.mig):
                raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_FOUND)
            return g.mig[j]

        def field_values(g: FakeGpu, ids: list[int]) -> list[Any]:
            out = []
            for fid in ids:
                ok = fid == pynvml.NVML_FI_DEV_POWER_INSTANT and g.instant_power
                out.append(SimpleNamespace(
                    fieldId=fid, valueType=pynvml.NVML_VALUE_TYPE_UNSIGNED_INT,
                    nvmlReturn=pynvml.NVML_SUCCESS if ok else pynvml.NVML_ERROR_NOT_SUPPORTED,
                    value=SimpleNamespace(uiVal=round(g.power(self.clock) * 1000) if ok else 0)))
            return out

        def accounting_stats(g: FakeGpu, pid: int) -> Any:
            if pid not in g.accounting:
                raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_FOUND)
            return SimpleNamespace(maxMemoryUsage=g.accounting[pid])

        return {
            "nvmlInit": init,
            "nvmlShutdown": lambda: None,
            "nvmlSystemGetDriverVersion": lambda: self.driver,
            "nvmlSystemGetCudaDriverVersion": lambda: self.cuda,
            "nvmlDeviceGetCount": lambda: len(self.gpus),
            "nvmlDeviceGetHandleByIndex": handle_by_index,
            "nvmlDeviceGetUUID": dev("nvmlDeviceGetUUID", lambda h: h.uuid),
            "nvmlDeviceGetName": dev("nvmlDeviceGetName", lambda g: g.name),
            "nvmlDeviceGetPciInfo": dev("nvmlDeviceGetPciInfo",
                                        lambda g: SimpleNamespace(busId=g.pci.encode())),
            "nvmlDeviceGetCudaComputeCapability": dev("nvmlDeviceGetCudaComputeCapability",
                                                      lambda g: g.cc),
            "nvmlDeviceGetNumGpuCores": dev("nvmlDeviceGetNumGpuCores", lambda g: g.cores),
            "nvmlDeviceGetMigMode": dev("nvmlDeviceGetMigMode",
                                        lambda g: [1, 1] if g.mig else [0, 0]),
            "nvmlDeviceGetMaxMigDeviceCount": dev("nvmlDeviceGetMaxMigDeviceCount",
                                                  lambda g: 7),
            "nvmlDeviceGetMigDeviceHandleByIndex": dev("nvmlDeviceGetMigDeviceHandleByIndex",
                                                       mig_handle),
            "nvmlDeviceGetGpuInstanceId": lambda m: m.gi,
            "nvmlDeviceGetComputeInstanceId": lambda m: m.ci,
            "nvmlDeviceGetTotalEnergyConsumption": dev("nvmlDeviceGetTotalEnergyConsumption",
                                                       energy),
            "nvmlDeviceGetPowerUsage": dev("nvmlDeviceGetPowerUsage",
                                           lambda g: round(g.power(self.clock) * 1000)),
            "nvmlDeviceGetFieldValues": dev("nvmlDeviceGetFieldValues", field_values),
            "nvmlDeviceGetEnforcedPowerLimit": dev("nvmlDeviceGetEnforcedPowerLimit",
                                                   lambda g: g.power_limit_mw),
            "nvmlDeviceGetMemoryInfo": dev("nvmlDeviceGetMemoryInfo", lambda g, *v: SimpleNamespace(
                total=g.memory_total, used=g.memory_used, free=g.memory_total - g.memory_used)),
            "nvmlDeviceGetUtilizationRates": dev("nvmlDeviceGetUtilizationRates",
                                                 lambda g: SimpleNamespace(gpu=g.utilization,
                                                                           memory=40)),
            "nvmlDeviceGetComputeRunningProcesses": dev("nvmlDeviceGetComputeRunningProcesses",
                                                        processes),
            "nvmlDeviceGetGraphicsRunningProcesses": dev(
                "nvmlDeviceGetGraphicsRunningProcesses",
                lambda h: [SimpleNamespace(pid=p, usedGpuMemory=m)
                           for p, m in getattr(h, "graphics", lambda t: [])(self.clock)]),
            "nvmlDeviceGetTemperature": dev("nvmlDeviceGetTemperature",
                                            lambda g, sensor: round(g.temperature(self.clock))),
            "nvmlDeviceGetClockInfo": dev("nvmlDeviceGetClockInfo",
                                          lambda g, kind: g.sm_clock_mhz),
            "nvmlDeviceGetCurrentClocksEventReasons": dev(
                "nvmlDeviceGetCurrentClocksEventReasons", lambda g: g.throttle),
            "nvmlDeviceGetPerformanceState": dev("nvmlDeviceGetPerformanceState",
                                                 lambda g: g.pstate),
            "nvmlDeviceGetAccountingMode": dev("nvmlDeviceGetAccountingMode",
                                               lambda g: 1 if g.accounting else 0),
            "nvmlDeviceGetAccountingStats": dev("nvmlDeviceGetAccountingStats",
                                                accounting_stats),
        }

    @contextlib.contextmanager
    def installed(self) -> Iterator[FakeNvml]:
        with contextlib.ExitStack() as stack:
            for name, impl in self._impl().items():
                self.mocks[name] = stack.enter_context(
                    mock.patch.object(pynvml, name, autospec=True, side_effect=impl))
            yield self
