"""PePR arithmetic: P / (1 + R), pool and scale normalisation, variants by resource."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from pepr_gate.records import Resources, RunRecord
from pepr_gate.score import (
    GB,
    pepr,
    pool_normalize,
    relative_change,
    rescore,
    resource_value,
    scale_normalize,
    score_scaled,
)


def test_pepr_lies_between_half_p_and_p() -> None:
    assert pepr(0.8, 0.0) == 0.8
    assert pepr(0.8, 1.0) == 0.4
    assert pepr(0.9, 0.5) == pytest.approx(0.6)
    for p in (0.0, 0.3, 1.0):
        for r in (0.0, 0.25, 0.5, 1.0):
            assert p / 2 <= pepr(p, r) <= p


def test_pool_normalisation_is_min_max() -> None:
    r, lo, hi = pool_normalize([2.0, 4.0, 3.0, 6.0])
    assert (lo, hi) == (2.0, 6.0)
    assert r == [0.0, 0.5, 0.25, 1.0]


def test_pool_with_equal_values_gives_zero() -> None:
    assert pool_normalize([5.0, 5.0]) == ([0.0, 0.0], 5.0, 5.0)
    r, lo, hi = pool_normalize([])
    assert r == [] and math.isnan(lo) and math.isnan(hi)


def test_scale_normalisation_caps_and_flags() -> None:
    assert scale_normalize(0.5, 2.0) == (0.25, False)
    assert scale_normalize(2.0, 2.0) == (1.0, False)
    assert scale_normalize(3.0, 2.0) == (1.0, True)
    with pytest.raises(ValueError):
        scale_normalize(1.0, 0.0)


def test_resource_values_in_record_units() -> None:
    res = Resources(energy_kwh=0.01, carbon_kg=0.002, duration_s=12.5,
                    gpu_peak_memory_bytes=3_000_000_000, params=1234)
    assert resource_value(res, "energy") == 0.01
    assert resource_value(res, "carbon") == 0.002
    assert resource_value(res, "time") == 12.5
    assert resource_value(res, "gpu_memory") == 3.0  # decimal GB, as in the paper
    assert GB == 1e9
    assert resource_value(res, "params") == 1234.0
    empty = Resources()
    assert resource_value(empty, "energy") is None
    assert resource_value(empty, "gpu_memory") is None
    assert resource_value(empty, "params") is None
    with pytest.raises(ValueError):
        resource_value(res, "watts")


def test_score_on_a_fixed_scale() -> None:
    s = score_scaled(0.9, 0.01, "energy", 0.02, "config")
    assert s.variant == "PePR-E" and s.resource == "energy"
    r = s.R
    assert r == pytest.approx(0.5) and s.pepr == pytest.approx(0.6)
    assert s.resource_value == 0.01
    assert s.normalization is not None
    assert (s.normalization.mode, s.normalization.scale, s.normalization.scale_source) == (
        "scale", 0.02, "config")
    assert s.normalization.over_scale is False


def test_over_the_scale_is_flagged_and_r_capped() -> None:
    s = score_scaled(0.9, 0.05, "carbon", 0.02, "budget")
    assert s.variant == "PePR-C" and s.R == 1.0 and s.pepr == pytest.approx(0.45)
    assert s.normalization is not None and s.normalization.over_scale is True


@pytest.mark.parametrize(
    ("resource", "variant"),
    [("energy", "PePR-E"), ("carbon", "PePR-C"), ("time", "PePR-T"),
     ("gpu_memory", "PePR-M"), ("params", "PePR-P")],
)
def test_variant_names(resource: str, variant: str) -> None:
    assert score_scaled(0.5, 1.0, resource, 2.0, "config").variant == variant


def test_missing_pieces_leave_the_score_empty() -> None:
    no_scale = score_scaled(0.9, 0.01, "energy", None, None)
    assert no_scale.R is None and no_scale.pepr is None and no_scale.normalization is None
    assert no_scale.resource_value == 0.01
    no_value = score_scaled(0.9, None, "gpu_memory", 8.0, "config")
    assert no_value.R is None and no_value.pepr is None
    no_p = score_scaled(None, 0.01, "energy", 0.02, "config")
    r = no_p.R
    assert r == pytest.approx(0.5) and no_p.pepr is None


def test_rescore_puts_two_runs_on_one_scale(make_record: Callable[..., RunRecord]) -> None:
    base = make_record(performance=0.9, energy_kwh=0.01)
    cand = make_record(performance=0.9, energy_kwh=0.02)
    scale = 2 * 0.01  # 2 x the baseline: the baseline sits at R = 0.5
    b = rescore(base, "energy", scale, "baseline")
    c = rescore(cand, "energy", scale, "baseline")
    rb, rc = b.R, c.R
    assert rb == pytest.approx(0.5) and rc == pytest.approx(1.0)
    assert b.pepr == pytest.approx(0.6) and c.pepr == pytest.approx(0.45)
    assert relative_change(c.pepr or 0, b.pepr or 0) == pytest.approx(-0.25)


def test_relative_change() -> None:
    assert relative_change(1.1, 1.0) == pytest.approx(0.1)
    assert relative_change(0.9, 1.0) == pytest.approx(-0.1)
    assert relative_change(1.0, 0.0) is None
