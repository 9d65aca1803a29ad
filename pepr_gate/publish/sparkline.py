"""A one-line text sparkline, the fallback for clients that do not render Mermaid."""

from __future__ import annotations

from collections.abc import Sequence

BARS = "▁▂▃▄▅▆▇█"


MIN_RELATIVE_SPAN = 0.02  # a 0.1% wobble must not draw as a full-height swing


def sparkline(values: Sequence[float]) -> str:
    """Bars from the lowest to the highest value; the span is at least 2% of the largest
    magnitude, so changes smaller than that stay near the middle."""
    if not values:
        return ""
    lo, hi = min(values), max(values)
    floor = MIN_RELATIVE_SPAN * max(abs(lo), abs(hi))
    if hi - lo < floor:
        mid = (hi + lo) / 2
        lo, hi = mid - floor / 2, mid + floor / 2
    if hi == lo:
        return BARS[len(BARS) // 2] * len(values)
    top = len(BARS) - 1
    return "".join(BARS[round((v - lo) / (hi - lo) * top)] for v in values)
