"""One GPU's energy over the window: the energy counter's difference when it is sound,
else the integral of the power samples, with notes on how far to trust either."""

from __future__ import annotations

from typing import Protocol

from pepr_gate.measure.meter import power as pw
from pepr_gate.measure.meter.devices import PhysicalGpu

SLOW_S = 1.0  # memory, utilisation, process lists; and the power backup curve
FAST_S = 0.1  # power, where it must be integrated
AVERAGED_NOTE = (
    "nvmlDeviceGetPowerUsage is a 1 s average on Ampere GPUs other than the A100 (GA100) "
    "and on newer ones: short spikes are smoothed; the integral over a run of many seconds "
    "is still close"
)
# (energy kWh or None, how, coverage, low-confidence)
Energy = tuple[float | None, str, float, bool]


class Device(Protocol):
    """What the energy of one GPU is worked out from: the readings `nvml_device.Device`
    collects (a protocol here, so this module needs nothing from that one)."""

    @property
    def gpu(self) -> PhysicalGpu: ...
    @property
    def mode(self) -> str: ...
    @property
    def power(self) -> list[tuple[float, float]]: ...
    @property
    def e0_mj(self) -> int | None: ...
    @property
    def e1_mj(self) -> int | None: ...
    @property
    def instant(self) -> bool: ...
    @property
    def power_misses(self) -> int: ...
    @property
    def power_miss_reason(self) -> str | None: ...
    figures: dict[str, float]  # written here: the counter's and the integral's joules


def averaged_power(gpu: PhysicalGpu) -> bool:
    """NVML documents nvmlDeviceGetPowerUsage as a 1 s average from Ampere on, except on
    GA100 (compute capability 8.0), which like older GPUs reports instantaneous power."""
    return (gpu.compute_capability or (0, 0)) > (8, 0)


def window_energy(dev: Device, t0: float, t1: float, notes: list[str]) -> Energy:
    """The energy of a GPU the job can see over [t0, t1]; reasons to doubt it go to `notes`."""
    period = FAST_S if dev.mode == "power-integration" else SLOW_S
    cov = pw.coverage(dev.power, t0, t1, period)
    if dev.mode == "counter" and dev.e0_mj is not None and dev.e1_mj is not None:
        counted = _from_counter(dev, (dev.e1_mj - dev.e0_mj) / 1000, cov, t0, t1, notes)
        if counted is not None:
            return counted
    return _integrated(dev, cov, notes)


def _from_counter(dev: Device, delta_j: float, cov: pw.Coverage, t0: float, t1: float,
                  notes: list[str]) -> Energy | None:
    """The counter's reading, or the power integral when the counter is contradicted by
    it; None when the counter went backwards (the caller integrates instead)."""
    if delta_j < 0:
        notes.append("energy counter went backwards (driver reloaded?): power "
                     "integrated instead")
        return None
    checked = len(dev.power) >= pw.COUNTER_CHECK_MIN_SAMPLES and cov.fraction >= 0.9
    if checked:  # both figures kept (extra.counter_j, extra.integrated_j) for a reader
        dev.figures = {"counter_j": round(delta_j, 3),
                       "integrated_j": round(pw.integral_j(dev.power), 3)}
    if checked and pw.counter_disagrees(delta_j, pw.integral_j(dev.power)):
        notes.append(
            f"energy counter ({delta_j:.0f} J) and the power sampled every second "
            f"({pw.integral_j(dev.power):.0f} J) differ by more than "
            f"{pw.COUNTER_TOLERANCE:.0%}: a stuck or misreading counter; the "
            "integrated power is used (both figures are kept in the component)")
        return pw.integral_j(dev.power) / 3.6e6, "power-integration", cov.fraction, True
    low = t1 - t0 < 1.0
    if low:
        notes.append("run shorter than 1 s: the energy counter may not have updated")
    return delta_j / 3.6e6, "counter", 1.0, low


def _integrated(dev: Device, cov: pw.Coverage, notes: list[str]) -> Energy:
    if len(dev.power) < 2:
        return None, "power-integration", cov.fraction, False
    low = cov.fraction < pw.FULL_COVERAGE or dev.mode == "counter" or len(dev.power) < 10
    if len(dev.power) < 10:
        notes.append(f"only {len(dev.power)} power samples: low confidence")
    if dev.mode == "counter":
        notes.append(f"energy counter incomplete: {len(dev.power)} power samples taken "
                     "every second were integrated instead")
    if cov.fraction < pw.FULL_COVERAGE:
        notes.append(cov.describe())
    if dev.power_misses:
        notes.append(f"{dev.power_misses} power reading(s) failed and were skipped "
                     f"({dev.power_miss_reason})")
    if not dev.instant and averaged_power(dev.gpu):
        notes.append(AVERAGED_NOTE)
    return pw.integral_j(dev.power) / 3.6e6, "power-integration", cov.fraction, low
