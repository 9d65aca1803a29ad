"""PePR arithmetic: normalisation, the score and its variants. Pure functions, no I/O.

    PePR = P / (1 + R),  P in [0, 1],  R in [0, 1]

`pool`: R = (x - min) / (max - min) over a set of runs (the paper's recipe; when
max == min every R is 0). `scale`: R = min(x / scale, 1), flagged `over_scale` when
x > scale. In CI the scale comes from the config's explicit scale, else the gate budget,
else 2 x the baseline's value (the baseline then sits at R = 0.5).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pepr_gate.records import VARIANTS, Component, Normalization, Resources, RunRecord, Score

GB = 1e9  # GPU memory is reported in decimal gigabytes, as in the paper's memR column


def pepr(performance: float, r: float) -> float:
    return performance / (1.0 + r)


def pool_normalize(values: Sequence[float]) -> tuple[list[float], float, float]:
    """Min-max normalise over the pool; returns (R values, min, max)."""
    if not values:
        return [], math.nan, math.nan
    lo, hi = min(values), max(values)
    span = hi - lo
    if span == 0:
        return [0.0 for _ in values], lo, hi
    return [(x - lo) / span for x in values], lo, hi


def scale_normalize(value: float, scale: float) -> tuple[float, bool]:
    """R = min(x / scale, 1); the flag says the value was over the scale."""
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    return min(value / scale, 1.0), value > scale


def resource_value(resources: Resources, resource: str) -> float | None:
    """The amount of one resource in the record's units (kWh, kg, s, GB, parameters)."""
    if resource == "energy":
        return resources.energy_kwh
    if resource == "carbon":
        return resources.carbon_kg
    if resource == "time":
        return resources.duration_s
    if resource == "gpu_memory":
        b = resources.gpu_peak_memory_bytes
        return None if b is None else b / GB
    if resource == "params":
        return None if resources.params is None else float(resources.params)
    raise ValueError(f"unknown resource {resource!r}")


def score_scaled(
    performance: float | None,
    value: float | None,
    resource: str,
    scale: float | None,
    scale_source: str | None,
) -> Score:
    """Score one run on a fixed scale; R and PePR stay None when anything is missing."""
    norm = None
    r: float | None = None
    score: float | None = None
    if scale is not None:
        norm = Normalization(mode="scale", scale=scale, scale_source=scale_source)
        if value is not None:
            r, over = scale_normalize(value, scale)
            norm = norm.model_copy(update={"over_scale": over})
            if performance is not None:
                score = pepr(performance, r)
    return Score(
        variant=VARIANTS[resource],
        resource=resource,
        resource_value=value,
        R=r,
        pepr=score,
        normalization=norm,
    )


def rescore(record: RunRecord, resource: str, scale: float, scale_source: str) -> Score:
    """Score a stored run on the given scale (baseline and candidate share one scale)."""
    return score_scaled(
        record.performance.value,
        resource_value(record.resources, resource),
        resource,
        scale,
        scale_source,
    )


def relative_change(new: float, old: float) -> float | None:
    if old == 0:
        return None
    return (new - old) / old


# -- which runs compare on energy ------------------------------------------------------
_DEFAULT_SCOPE = {"cpu": "whole-socket", "dram": "whole-socket", "gpu": "whole-device"}


def component_scope(c: Component) -> str:
    """The recorded scope, or for records older than the field what their method implied."""
    if c.scope is not None:
        return c.scope
    if c.method == "estimated":
        return "job-share"
    return _DEFAULT_SCOPE.get(c.kind, "whole-device")


def method_signature(record: RunRecord) -> tuple[tuple[str, str, str], ...]:
    """(kind, method, scope) of every counted energy reading: two runs are comparable on
    energy only when these are equal (a RAPL whole-socket figure is not a job-share
    estimate, though both runs would be "mixed")."""
    return tuple(sorted({
        (c.kind, c.method, component_scope(c)) for c in record.components
        if c.counts_toward_total and c.energy_kwh is not None
    }))


def describe_signature(signature: tuple[tuple[str, str, str], ...]) -> str:
    return ", ".join(f"{k} {m} ({s})" for k, m, s in signature) or "nothing"
def suggest_scale(value: float) -> float | None:
    """A `[score.scale]` value for a resource measured once: twice the amount, rounded up
    to two significant figures, so that run sits at R = 0.5 (the rule CI uses without one)."""
    if not math.isfinite(value) or value <= 0:
        return None
    doubled = 2.0 * value
    step = 10.0 ** (math.floor(math.log10(doubled)) - 1)
    return float(f"{math.ceil(doubled / step - 1e-9) * step:.2g}")
