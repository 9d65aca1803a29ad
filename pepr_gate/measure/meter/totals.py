"""How a session's components add up: which estimates a measurement replaces, the measured
and estimated totals, and the run's energy method. Pure functions on `Component`s."""

from __future__ import annotations

from collections.abc import Sequence

from pepr_gate.records import Component, EnergyMethod

# A measured reading replaces the estimate of the same part: RAPL package -> CPU
# estimate, RAPL DRAM -> RAM estimate (estimate kind -> measured kind).
REPLACES = {"cpu": "cpu", "ram": "dram"}


def measured_kinds(comps: Sequence[Component]) -> set[str]:
    return {c.kind for c in comps if c.method == "measured" and c.energy_kwh is not None}


def replace_estimates(comps: Sequence[Component], measured: set[str]) -> list[Component]:
    """The components, with each estimate a measurement replaces kept but not counted."""
    final: list[Component] = []
    for c in comps:
        if c.method == "estimated" and REPLACES.get(c.kind) in measured:
            c = c.model_copy(
                update={"counts_toward_total": False,
                        "notes": [*c.notes, "not counted: a measured reading replaces it"]}
            )
        final.append(c)
    return final


def energy_totals(final: Sequence[Component]) -> tuple[float | None, float | None, EnergyMethod]:
    """(measured kWh, estimated kWh, the run's method) over the counted components."""
    counted = [c for c in final if c.counts_toward_total and c.energy_kwh is not None]
    # A replayed reading is a recorded measurement (of another run): it sums with the
    # measured ones, and the run's method says "replayed" so it is never taken for this one.
    measured = [c.energy_kwh or 0.0 for c in counted if c.method in ("measured", "replayed")]
    estimated = [c.energy_kwh or 0.0 for c in counted if c.method == "estimated"]
    m_total = sum(measured) if measured else None
    e_total = sum(estimated) if estimated else None
    method: EnergyMethod
    if any(c.method == "replayed" for c in counted):
        method = "replayed"
    elif measured and estimated:
        method = "mixed"
    elif measured:
        method = "measured"
    elif estimated:
        method = "estimated"
    else:
        method = "unavailable"
    return m_total, e_total, method


def add(measured: float | None, estimated: float | None) -> float | None:
    """The total: None only when neither part has a figure."""
    if measured is None and estimated is None:
        return None
    return (measured or 0.0) + (estimated or 0.0)


def partial_kinds(comps: Sequence[Component], measured: set[str]) -> set[str]:
    """Parts measured in some domains but unreadable in others (counted, so missed)."""
    return {
        c.kind for c in comps if c.method == "unavailable" and c.kind in measured
        and c.counts_toward_total
    }


def peak(values: Sequence[int | None]) -> int | None:
    vals = [v for v in values if v is not None]
    return max(vals) if vals else None


def first(values: Sequence[str | None]) -> str | None:
    """The first non-empty value."""
    return next((v for v in values if v), None)
