"""Human-readable quantities: a CPU demo uses microwatt-hours, a GPU run kilowatt-hours.

The one home of number formatting, shared by the gate's reasons and every report (PR
comment, terminal, history), so a number reads the same everywhere and as a person
writes it: `9.29 mWh`, never `9.286e-06 kWh`.
"""

from __future__ import annotations

import math

Steps = tuple[tuple[float, str], ...]  # (factor from the base unit, unit name), largest first
ENERGY_UNITS: Steps = ((1.0, "kWh"), (1e3, "Wh"), (1e6, "mWh"), (1e9, "µWh"))
CARBON_UNITS: Steps = ((1.0, "kg CO2eq"), (1e3, "g CO2eq"), (1e6, "mg CO2eq"), (1e9, "µg CO2eq"))
MISSING = "—"  # what every report shows for a value that was not measured


def plain(x: float, digits: int = 3) -> str:
    """`digits` significant digits, never in scientific notation."""
    if math.isinf(x) or math.isnan(x):
        return str(x)
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


def maybe(value: float | None, digits: int = 3) -> str:
    """`plain`, or the missing-value dash for None."""
    return MISSING if value is None else plain(value, digits)


def number(value: float | None, decimals: int = 3, unit: str = "") -> str:
    """`decimals` places (0.873), as tables align them; a value too small for them keeps
    3 significant digits instead of printing 0.000 (never scientific notation)."""
    if value is None:
        return MISSING
    text = f"{value:.{decimals}f}"
    if value != 0 and abs(value) < 10 ** -decimals:
        text = plain(value)
    return text + unit


def seconds(s: float | None) -> str:
    """`0.367 s`, `42.5 s`, `2 min 05 s`, `1 h 02 min`: as a clock reads, past a minute."""
    if s is None:
        return MISSING
    if abs(s) < 60:
        return f"{plain(s)} s"
    whole = round(s)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def gigabytes(n_bytes: float | None) -> str:
    """GPU memory as GPU vendors print it (decimal GB)."""
    return MISSING if n_bytes is None else f"{plain(n_bytes / 1e9)} GB"


def size(n_bytes: int | None) -> str:
    """Host memory (RSS) in binary units, as `ps` and `free -h` print it."""
    if n_bytes is None:
        return MISSING
    for unit, factor in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n_bytes >= factor:
            return f"{n_bytes / factor:.1f} {unit}"
    return f"{n_bytes} B"


def resource(value: float | None, kind: str) -> str:
    """An amount of one of the scored resources (record units: kWh, kg, s, GB, count)."""
    if value is None:
        return MISSING
    if kind == "energy":
        return energy(value)
    if kind == "carbon":
        return carbon(value)
    if kind == "time":
        return seconds(value)
    if kind == "gpu_memory":
        return f"{plain(value)} GB"
    return f"{value:,.0f} parameters"


def change(new: float | None, old: float | None) -> str:
    """The relative change from `old` to `new`, signed, in percent."""
    if new is None or old is None or old == 0:
        return MISSING
    return f"{(new - old) / old * 100:+.1f}%"


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
