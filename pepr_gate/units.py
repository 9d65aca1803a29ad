"""Human-readable quantities: a CPU demo uses milliwatt-hours, a GPU run kilowatt-hours.

Shared by the gate's reasons and every report, so a number reads the same everywhere.
"""

from __future__ import annotations

import math

Steps = tuple[tuple[float, str], ...]  # (factor from the base unit, unit name), largest first
ENERGY_UNITS: Steps = ((1.0, "kWh"), (1e3, "Wh"), (1e6, "mWh"))
CARBON_UNITS: Steps = ((1.0, "kg CO2eq"), (1e3, "g CO2eq"), (1e6, "mg CO2eq"))


def plain(x: float, digits: int = 3) -> str:
    """`digits` significant digits, never in scientific notation."""
    text = f"{x:.{digits}g}"
    if "e" not in text:
        return text
    if abs(x) >= 1:
        return f"{x:.0f}"
    return f"{x:.{digits - 1 - math.floor(math.log10(abs(x)))}f}"


def unit_for(value: float, steps: Steps) -> tuple[float, str]:
    """The largest unit in which `value` is at least 1 (the smallest one otherwise)."""
    return next(((f, u) for f, u in steps if abs(value) * f >= 1), steps[-1])


def scaled(value: float | None, steps: Steps) -> str:
    if value is None:
        return "—"
    factor, unit = unit_for(value, steps)
    return f"{plain(value * factor)} {unit}"


def energy(kwh: float | None) -> str:
    return scaled(kwh, ENERGY_UNITS)


def carbon(kg: float | None) -> str:
    return scaled(kg, CARBON_UNITS)


def distinct(value: float, limit: float) -> tuple[str, str]:
    """Both numbers with the fewest significant digits (at least 3) that tell them apart,
    so a tiny job never reads "0.0000 kWh is over the budget of 0.0000 kWh"."""
    a, b = plain(value), plain(limit)
    for digits in range(3, 13):
        a, b = plain(value, digits), plain(limit, digits)
        if a != b:
            break
    return a, b


def parse_fraction(text: str) -> float:
    """A fraction written as `0.05` or `5%` (the same value); ValueError names both forms."""
    raw = text.strip()
    percent = raw.endswith("%")
    try:
        number = float(raw.removesuffix("%").strip())
    except ValueError:
        raise ValueError(
            f"{text!r} is not a number: use a fraction such as 0.05, or a percentage such as 5%"
        ) from None
    if not math.isfinite(number):
        raise ValueError(f"{text!r} is not a finite number")
    return number / 100 if percent else number
