"""Metrics where lower is better (a loss, perplexity, an error rate) mapped to P in [0, 1].

PePR needs P in [0, 1] with higher better. `[performance] better = "lower"` with `to_p`
says how a lower-is-better value x (the metric after `scale`) becomes P:

- "exp(-x)"  P = exp(-x), x >= 0: a cross-entropy loss in nats (P is then the geometric
             mean probability the model gives the right token or class).
- "1-x"      P = 1 - x, x in [0, 1]: an error rate (with `scale = 100` for percentages).
- "1/x"      P = 1 / x, x >= 1: perplexity (1 / perplexity = exp(-loss), the same P as
             "exp(-x)" on the loss it came from).
- "linear"   P = (worst - x) / (worst - best), x between `best` and `worst`: any metric
             with known ends, e.g. a loss that 0.5 would be perfect and 3.0 useless for.

The mapping is stated in every record (`performance.mapping`) and every comment. Pure
arithmetic: no I/O.
"""

from __future__ import annotations

import math
from typing import Literal

Better = Literal["higher", "lower"]
ToP = Literal["exp(-x)", "1-x", "1/x", "linear"]
CHOICES = '"exp(-x)", "1-x", "1/x" or "linear"'
DOCS = "docs/performance-metrics.md"


def check(better: Better, to_p: ToP | None, best: float | None,
          worst: float | None) -> None:
    """ValueError naming what is missing or contradictory in the `[performance]` keys."""
    if better == "lower" and to_p is None:
        raise ValueError(f'better = "lower" needs to_p = {CHOICES}, the mapping from the '
                         "metric to P")
    if better == "higher" and to_p is not None:
        raise ValueError(f'to_p = "{to_p}" maps a lower-is-better metric: set better = '
                         '"lower" too')
    if to_p == "linear":
        if best is None or worst is None:
            raise ValueError('to_p = "linear" needs best and worst (the metric\'s value at '
                             "P = 1 and at P = 0)")
        if not (math.isfinite(best) and math.isfinite(worst)) or best >= worst:
            raise ValueError(f"best ({best}) must be below worst ({worst}) for a metric "
                             "where lower is better")
        if not math.isfinite(worst - best):
            raise ValueError(f"worst - best ({worst:g} - {best:g}) is too large for a float "
                             "(it overflows to infinity, and every P would be 0): pick ends "
                             "within about 1e307 of each other")
    elif best is not None or worst is not None:
        raise ValueError('best and worst are for to_p = "linear" only')


def to_p(x: float, how: ToP, best: float | None = None, worst: float | None = None) -> float:
    """P for the lower-is-better value x; may fall outside [0, 1] (the caller says why)."""
    if how == "exp(-x)":
        return math.exp(-x) if x > -700 else math.inf
    if how == "1-x":
        return 1.0 - x
    if how == "1/x":
        return 1.0 / x if x != 0 else math.inf
    assert best is not None and worst is not None
    return (worst - x) / (worst - best)


def describe(key: str, how: ToP, best: float | None = None,
             worst: float | None = None, scale: float = 1.0) -> str:
    """The mapping in words, for the record and the comment."""
    x = f"{key} / {scale:g}" if scale != 1.0 else key
    formula = (f"P = ({worst:g} - x) / ({worst:g} - {best:g})" if how == "linear"
               else f"P = {how}")
    return f"{formula}, x = {x} (lower is better)"


def domain(how: ToP, best: float | None = None, worst: float | None = None) -> str:
    """Where x must lie for P to land in [0, 1]."""
    if how == "linear":
        return f"{best:g} <= x <= {worst:g}"
    return {"exp(-x)": "x >= 0", "1-x": "0 <= x <= 1", "1/x": "x >= 1"}[how]


def out_of_range_hint(raw: float) -> str:
    """The hint for a value that is no P in [0, 1] when no mapping is configured: both
    things it may be."""
    pct = " (it looks like one)" if 1.5 < raw <= 100.0 else ""
    return (f"if it is a percentage{pct}, set [performance] scale = 100; if lower is better "
            f'(a loss, perplexity, an error rate), set [performance] better = "lower" and '
            f"to_p = {CHOICES}, see {DOCS}")
