"""The numbers behind the verdict: Student's t, sequential looks, the paired ABBA test."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timezone

import pytest

from pepr_gate.config import Config
from pepr_gate.decide import gate, noise, paired, rule, sequential
from pepr_gate.decide.stats import t_quantile
from pepr_gate.records import RunRecord

Make = Callable[..., RunRecord]


@pytest.mark.parametrize(("p", "dof", "expected"), [
    (0.99, 1, 31.821), (0.99, 2, 6.965), (0.99, 4, 3.747), (0.99, 10, 2.764),
    (0.95, 3, 2.353), (0.998, 6, 4.524), (0.99, None, 2.326),
])
def test_t_quantiles_match_the_tables(p: float, dof: int | None, expected: float) -> None:
    assert t_quantile(p, dof) == pytest.approx(expected, abs=1e-3)


def test_each_look_spends_a_share_of_the_false_alarm_rate() -> None:
    base = [0.60, 0.61, 0.59, 0.605, 0.595]
    head = [0.57, 0.575, 0.565]  # a 5.7% drop on a ~1% spread: past the 5% threshold
    once, _, _ = sequential.decided_yet(base, head, threshold=0.05, max_looks=1)
    five, _, _ = sequential.decided_yet(base, head, threshold=0.05, max_looks=5)
    # 3 candidate runs = look 3 of 5: (3/5)^3 - (2/5)^3 = 15.2% of alpha
    assert sequential.look_levels(5)(3)[0] == pytest.approx(0.01 * 0.152)
    assert five.q > once.q  # every one of 5 looks must clear a higher bar
    shares = [sequential.look_levels(5)(n)[0] for n in range(1, 6)]
    assert sum(shares) == pytest.approx(0.01) and shares == sorted(shares)
    assert sequential.look_levels(5)(9) == sequential.look_levels(5)(5)  # past the last look
    assert sequential.look_levels(1)(3) == (0.01, 0.025, 0.025)  # fixed repeats: one look
    # warn never ends the loop early, so its bound keeps the whole 2.5% at every look
    assert sequential.look_levels(5)(2)[2] == 0.025


def test_adaptive_repeats_keep_false_alarms_under_the_target() -> None:
    # Unchanged code, 5% run-to-run spread, window 5, up to 5 looks: stopping at the first
    # fail would alarm far more often than 1% without the split alpha.
    rng = random.Random(7)
    trials, alarms = 1500, 0
    for _ in range(trials):
        base = [0.6 * (1 + rng.gauss(0, 0.05)) for _ in range(5)]
        head: list[float] = []
        for _look in range(5):
            head.append(0.6 * (1 + rng.gauss(0, 0.05)))
            judged, _, _ = sequential.decided_yet(base, head, threshold=0.05, max_looks=5)
            if judged.verdict in ("pass", "fail"):  # warn looks again
                break
        alarms += judged.verdict == "fail"
    assert alarms / trials <= 0.01


def test_the_loop_stops_when_decided_or_nothing_more_would_help(make_record: Make) -> None:
    settings = gate.Settings.from_config(Config(), looks=5)
    ctx = gate.Context(created_at=datetime(2025, 1, 1, tzinfo=timezone.utc))
    base = [make_record(performance=p) for p in (0.80, 0.95, 0.86, 0.99, 0.90)]
    noisy = gate.evaluate([make_record(performance=0.74)], base, [], settings, ctx)
    assert noisy.verdict == "inconclusive" and noisy.repeats_needed
    assert not sequential.stop(noisy, 1, 5) and sequential.stop(noisy, 5, 5)
    none = gate.evaluate([make_record(performance=0.9)], [], [], settings, ctx)
    assert none.repeats_needed is None and sequential.stop(none, 1, 5)  # no baseline
    steady = [make_record(performance=p) for p in (0.891, 0.909, 0.8955, 0.9045, 0.900)]
    warned = gate.evaluate([make_record(performance=0.87)], steady, [], settings, ctx)
    assert warned.verdict == "warn"  # 3.3% down on a 1% spread: not bounded at look 1
    assert not sequential.stop(warned, 1, 5) and sequential.stop(warned, 5, 5)
    flat = [make_record(performance=p) for p in (0.898, 0.902, 0.899, 0.901, 0.900)]
    passed = gate.evaluate([make_record(performance=0.9)], flat, [], settings, ctx)
    assert passed.verdict == "pass" and sequential.stop(passed, 1, 5)


def test_paired_pairs_cancel_a_drift_that_fools_history() -> None:
    rng = random.Random(3)
    base, head = [], []
    for i in range(4):  # ABBA ABBA: the load rises 3% per run, the code is unchanged
        order = ("A", "B", "B", "A") if i % 2 == 0 else ("B", "A", "A", "B")
        for j, side in enumerate(order[:2]):
            t = 4 * i + 2 * (i % 2) + j
            value = 0.6 * (1 - 0.03 * t) * (1 + rng.gauss(0, 0.002))
            (base if side == "A" else head).append(value)
    d = paired.decide_paired(base, head, 0.05)
    assert d.verdict in ("pass", "warn") and abs(d.change) < 0.03
    drop = paired.decide_paired([0.60, 0.61, 0.59, 0.60], [0.53, 0.54, 0.52, 0.535], 0.05)
    assert drop.verdict == "fail" and drop.change == pytest.approx(-0.115, abs=0.01)
    assert drop.noise.measured and drop.noise.runs == 8


def test_paired_with_one_pair_assumes_the_spread_and_says_how_many_pairs() -> None:
    d = paired.decide_paired([0.60], [0.50], 0.05, prior_key="measured")
    assert d.noise.source == "assumed" and d.noise.spread == noise.PRIORS["measured"]
    assert d.verdict == "inconclusive" and d.judgement.repeats_needed is not None
    with pytest.raises(ValueError, match="as many base as head"):
        paired.decide_paired([0.6, 0.6], [0.5], 0.05)


def test_an_assumed_spread_never_fails_but_a_measured_one_does() -> None:
    assert rule.judge(0.30, 0.01, 0.05, dof=0, measured=False)[0] == "inconclusive"
    assert rule.judge(0.30, 0.01, 0.05, dof=4, measured=True)[0] == "fail"
    assert rule.judge(0.00, 0.01, 0.05, dof=4, measured=True)[0] == "pass"
    assert rule.judge(0.04, 0.01, 0.05, dof=4, measured=True)[0] == "warn"
    assert rule.judge(0.04, 0.05, 0.05, dof=4, measured=True)[0] == "inconclusive"
