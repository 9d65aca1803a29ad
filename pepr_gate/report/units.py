"""Human-readable quantities: a CPU demo uses milliwatt-hours, a GPU run kilowatt-hours."""

from __future__ import annotations


def _sig(value: float) -> str:
    text = f"{value:.3g}"
    if "e" in text:  # 3 significant digits without scientific notation
        text = f"{value:.0f}"
    return text


def _scaled(value: float | None, steps: tuple[tuple[float, str], ...]) -> str:
    if value is None:
        return "—"
    for factor, unit in steps:
        if abs(value) * factor >= 1 or factor == steps[-1][0]:
            return f"{_sig(value * factor)} {unit}"
    raise AssertionError("unreachable")


def energy(kwh: float | None) -> str:
    return _scaled(kwh, ((1.0, "kWh"), (1e3, "Wh"), (1e6, "mWh")))


def carbon(kg: float | None) -> str:
    return _scaled(kg, ((1.0, "kg CO2eq"), (1e3, "g CO2eq"), (1e6, "mg CO2eq")))
