"""A GPU's thermal and clock state, read at the window's edges, and the cooldown before it.

A cold GPU boosts higher and draws less leakage power than a hot one, so a candidate run
on a cold GPU against baselines on warm ones differs for no reason in the code. Each GPU's
temperature, SM clock, clock-event ("throttle") reasons and performance state are read
when the window opens and when it closes and kept in its component (`extra.state`).
`[run] cooldown = { max_temp_c = N, timeout_s = S }` waits, before the window opens,
until every GPU the job can see is at or below N degrees C, for at most S seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pepr_gate.measure.meter.devices import PhysicalGpu
from pepr_gate.measure.meter.nvml_errors import Nvml, NvmlFailure

TEMPERATURE_GPU = 0  # NVML_TEMPERATURE_GPU
CLOCK_SM = 1  # NVML_CLOCK_SM
PSTATE_UNKNOWN = 32
# nvmlClocksEventReason* bits (nvml.h), named as nvidia-smi -q names them
REASONS = {
    0x1: "gpu_idle", 0x2: "applications_clocks_setting", 0x4: "sw_power_cap",
    0x8: "hw_slowdown", 0x10: "sync_boost", 0x20: "sw_thermal_slowdown",
    0x40: "hw_thermal_slowdown", 0x80: "hw_power_brake_slowdown", 0x100: "display_clock_setting",
}


def _try(lib: Nvml, name: str, *args: Any) -> Any:
    try:
        return lib.call(name, *args)
    except NvmlFailure:
        return None


def temperature_c(lib: Nvml, handle: Any) -> float | None:
    value = _try(lib, "nvmlDeviceGetTemperature", handle, TEMPERATURE_GPU)
    return float(value) if isinstance(value, int | float) else None


def read_state(lib: Nvml, handle: Any) -> dict[str, Any]:
    """Temperature, SM clock, clock-event reasons and pstate; a field NVML will not give is
    None (a reading that fails never costs the run)."""
    clock = _try(lib, "nvmlDeviceGetClockInfo", handle, CLOCK_SM)
    bits = _try(lib, "nvmlDeviceGetCurrentClocksEventReasons", handle)
    if bits is None:  # drivers before R535 name it "throttle reasons"
        bits = _try(lib, "nvmlDeviceGetCurrentClocksThrottleReasons", handle)
    pstate = _try(lib, "nvmlDeviceGetPerformanceState", handle)
    return {
        "temperature_c": temperature_c(lib, handle),
        "sm_clock_mhz": int(clock) if isinstance(clock, int) else None,
        "throttle_reasons": (None if not isinstance(bits, int) else
                             [name for bit, name in REASONS.items() if bits & bit]),
        "pstate": (f"P{pstate}" if isinstance(pstate, int) and pstate != PSTATE_UNKNOWN
                   else None),
    }


@dataclass
class Cooldown:
    """What the wait before the window did, for the record."""

    max_temp_c: float
    timeout_s: float
    waited_s: float = 0.0
    start_temps: dict[int, float] | None = None
    end_temps: dict[int, float] | None = None
    reached: bool = True

    def note(self) -> str:
        hottest = max((self.end_temps or {}).values(), default=None)
        if hottest is None:
            return (f"cooldown: no GPU temperature readable after {self.waited_s:.0f} s; "
                    "the run started without knowing it")
        if self.waited_s == 0:
            return (f"cooldown: every GPU was at or below {self.max_temp_c:g} °C already "
                    f"(hottest {hottest:g} °C)")
        if self.reached:
            start = max((self.start_temps or {}).values(), default=hottest)
            return (f"cooldown: waited {self.waited_s:.0f} s for every GPU to cool to "
                    f"{self.max_temp_c:g} °C or below (hottest {start:g} °C before)")
        return (f"cooldown: still {hottest:g} °C after {self.waited_s:.0f} s (timeout_s = "
                f"{self.timeout_s:g}), above max_temp_c = {self.max_temp_c:g} °C: the run "
                "started warm")

    def as_dict(self) -> dict[str, Any]:
        return {"max_temp_c": self.max_temp_c, "timeout_s": self.timeout_s,
                "waited_s": round(self.waited_s, 1), "reached": self.reached,
                "start_temps_c": self.start_temps, "end_temps_c": self.end_temps}


class Device(Protocol):
    """What cooling down reads of a GPU (`nvml_device.Device` has it): no import of that
    module, which reads its state from here."""

    @property
    def gpu(self) -> PhysicalGpu: ...
    @property
    def handle(self) -> Any: ...
    @property
    def visible(self) -> bool: ...


def cool_down(lib: Nvml, devices: Sequence[Device], max_temp_c: float, timeout_s: float, *,
              say: Callable[[str], None], now: Callable[[], float] = time.monotonic,
              sleep: Callable[[float], None] = time.sleep) -> Cooldown:
    """Wait until every visible GPU is at or below `max_temp_c`, for at most `timeout_s`."""
    result = Cooldown(max_temp_c, timeout_s)
    visible = [d for d in devices if d.visible]

    def temps() -> dict[int, float]:
        out = {}
        for d in visible:
            t = temperature_c(lib, d.handle)
            if t is not None:
                out[d.gpu.index] = t
        return out

    t0 = now()
    current = result.start_temps = temps()
    announced = False
    while current and max(current.values()) > max_temp_c:
        if now() - t0 >= timeout_s:
            result.reached = False
            break
        if not announced:
            say(f"cooling down: GPU(s) at {_list(current)}, waiting for {max_temp_c:g} °C "
                f"or below (up to {timeout_s:g} s, [run] cooldown)")
            announced = True
        sleep(min(1.0, max(0.0, timeout_s - (now() - t0))))
        current = temps()
    result.waited_s = now() - t0
    result.end_temps = current
    if announced:
        say(result.note().removeprefix("cooldown: "))
    return result


def _list(temps: dict[int, float]) -> str:
    return ", ".join(f"GPU {i} {t:g} °C" for i, t in sorted(temps.items()))
