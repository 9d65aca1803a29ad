"""The Prometheus meter's words and fallbacks: notes on merged, cleaned and slowly refreshed
series, why a series' increase is not an energy, an unavailable result, NVML's cross-check."""

from __future__ import annotations

import math

from pepr_gate.measure.meter.base import SourceResult
from pepr_gate.measure.meter.counters import Increase
from pepr_gate.measure.meter.promseries import Device
from pepr_gate.records import Component


def series_notes(d: Device) -> list[str]:
    notes = []
    if d.series > 1:
        notes.append(f"{d.series} series for this device one after another (its labels "
                     "changed, e.g. a new pod); merged into one counter")
    for dup in d.duplicates:
        notes.append(f"a second series for the same device at the same time ({dup}); "
                     "counted once")
    if d.invalid:
        notes.append(f"{d.invalid} sample(s) negative, NaN or infinite: not energy readings, "
                     "left out")
    if d.refresh_s:
        notes.append(f"the counter changes only every {d.refresh_s:.3g} s, slower than the "
                     "scrape: each value is placed midway between the scrapes around its "
                     "change, so each edge of the run is known to half a scrape interval; "
                     "refresh the exporter "
                     "at least as often as it is scraped (dcgm-exporter -c 1000)")
    return notes


def not_energy(inc: Increase, kind: str) -> str | None:
    """Why a series' increase is not an energy figure, or None when it is one."""
    if inc.samples < 2:
        return "fewer than two valid samples around the run"
    if inc.resets > max(2, inc.samples // 4):
        return (f"the counter fell {inc.resets} times in {inc.samples} samples: not an "
                f"energy counter (a gauge? check {kind}_energy)")
    if not math.isfinite(inc.increase) or inc.increase < 0:
        return f"the counter's increase is {inc.increase!r}, not an energy"
    if inc.increase == 0 and inc.complete:
        return ("the counter did not move during the run: a powered device's energy "
                "counter always rises, so the exporter is stuck or not refreshing")
    return None


def unavailable(reason: str, hint: str) -> SourceResult:
    return SourceResult(
        components=[Component(kind="gpu", name="gpus (prometheus)", method="unavailable",
                              detail="prometheus", scope="whole-device", coverage=0.0,
                              reason=reason, hint=hint)],
        notes=[f"energy not measured: {reason}"])


def cross_check(res: SourceResult, local: SourceResult) -> None:
    """Add the launching node's NVML readings, not counted, compared by GPU UUID."""
    ours = {c.extra.get("uuid"): c for c in res.components
            if c.kind == "gpu" and c.method == "measured" and c.extra.get("uuid")}
    for c in local.components:
        if c.kind != "gpu" or c.method != "measured" or c.energy_kwh is None:
            continue  # NVML unreadable here (a login node): nothing to compare
        other = ours.get(c.extra.get("uuid"))
        note = "cross-check only: Prometheus's reading of this GPU counts"
        if other is not None and other.energy_kwh:
            diff = c.energy_kwh / other.energy_kwh - 1
            note += (f" (NVML {c.energy_kwh * 3.6e6:.3f} kJ, Prometheus "
                     f"{other.energy_kwh * 3.6e6:.3f} kJ, {diff:+.1%})")
        elif other is None:
            note += "; Prometheus has no series for it (is this node in nodes?)"
        res.components.append(c.model_copy(update={
            "name": f"{c.name} (NVML cross-check)", "counts_toward_total": False,
            "notes": [*c.notes, note]}))
