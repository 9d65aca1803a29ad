"""A counter's increase over exactly the run's window, from raw scrape samples."""

from __future__ import annotations

import pytest

from pepr_gate.measure.meter.counters import CounterWindow, increase


def ramp(watts: float, t0: float, t1: float, step: float = 1.0,
         base: float = 1e9) -> list[tuple[float, float]]:
    n = round((t1 - t0) / step)
    return [(t0 + i * step, base + watts * (i * step)) for i in range(n + 1)]


def test_the_window_edges_are_interpolated_between_scrapes() -> None:
    # scrapes every second at x.0; the run goes from 10.3 to 20.6: 10.3 s at 300 W
    inc = increase(ramp(300, 0, 30), 10.3, 20.6)
    assert inc.increase == pytest.approx(300 * 10.3)
    assert inc.complete and inc.resets == 0 and not inc.gaps
    assert inc.interval_s == pytest.approx(1.0)


def test_a_reset_counts_from_the_restart_not_as_a_negative_jump() -> None:
    samples = ramp(100, 0, 10)  # 1e9 + 100 t
    samples += [(11.0, 50.0), (12.0, 150.0), (13.0, 250.0)]  # restarted from 0 at 10.5
    inc = increase(samples, 0.0, 13.0)
    assert inc.resets == 1
    # 0..10: 1000; 10..11: the new value 50 (the part before the restart is lost); 11..13: 200
    assert inc.increase == pytest.approx(1000 + 50 + 200)


def test_a_gap_longer_than_two_intervals_inside_the_window_is_reported() -> None:
    samples = [s for s in ramp(100, 0, 20) if not 5 < s[0] < 9]  # 5 -> 9: 4 s without a scrape
    inc = increase(samples, 2.0, 18.0)
    assert [round(g.length_s, 3) for g in inc.gaps] == [4.0]
    assert inc.gaps[0].start == 5.0
    assert inc.increase == pytest.approx(1600)  # a counter is exact across a gap


def test_two_missed_scrapes_outside_the_window_are_not_a_gap() -> None:
    samples = [s for s in ramp(100, 0, 20) if not 1 < s[0] < 5]
    assert increase(samples, 6.0, 18.0).gaps == ()


def test_a_series_starting_late_misses_the_head_of_the_run() -> None:
    inc = increase(ramp(100, 5, 20), 2.0, 18.0)
    assert inc.head_missing_s == pytest.approx(3.0) and inc.tail_missing_s == 0
    assert not inc.complete
    assert inc.increase == pytest.approx(1300)


def test_no_sample_after_the_end_leaves_the_tail_uncounted() -> None:
    inc = increase(ramp(100, 0, 10), 2.0, 12.5)
    assert inc.tail_missing_s == pytest.approx(2.5)
    assert inc.increase == pytest.approx(800)


def test_samples_repeated_by_overlapping_queries_are_counted_once() -> None:
    acc = CounterWindow(0.0, 10.0)
    chunk1, chunk2 = ramp(10, 0, 6), ramp(10, 6, 12, base=1e9 + 60)
    for t, v in chunk1 + chunk2:  # both chunks hold the sample at t = 6
        acc.add(t, v)
    res = acc.result()
    assert res.samples == 13 and res.increase == pytest.approx(100)


def test_an_empty_series_covers_nothing() -> None:
    inc = increase([], 0.0, 10.0)
    assert inc.increase == 0 and inc.head_missing_s == 10 and not inc.complete


def stepped(t: float, start: float, end: float, idle: float = 60.0, busy: float = 300.0) -> float:
    """The exact energy up to `t` of a GPU idling except at `busy` W within [start, end]."""
    inside = max(0.0, min(t, end) - start)
    return 1e9 + idle * (t - inside) + busy * inside


def test_the_power_step_at_the_edges_is_not_smeared_over_the_edge_intervals() -> None:
    s, e = 10.3, 20.6
    samples = [(float(t), stepped(t, s, e)) for t in range(31)]
    inc = increase(samples, s, e)
    assert inc.increase == pytest.approx(300 * (e - s))
    # a linear split of the two edge intervals would give 282 J instead of 390 J there
    assert increase(samples[:22], s, e).increase == pytest.approx(300 * (e - s))  # no after


def test_a_run_inside_one_scrape_interval_uses_both_neighbours() -> None:
    s, e = 12.0, 17.0
    samples = [(float(t), stepped(t, s, e)) for t in (0, 10, 20, 30)]
    assert increase(samples, s, e).increase == pytest.approx(1500)
    # without the interval after the run, the rest after the idle start is split by time
    assert increase(samples[:3], s, e).increase == pytest.approx((1800 - 120) * 5 / 8)


def test_an_edge_estimate_never_exceeds_what_the_counter_rose() -> None:
    # idle 500 W before the run, 0 W during it: the start edge cannot go negative
    samples = [(0.0, 0.0), (1.0, 500.0), (2.0, 700.0), (3.0, 700.0), (4.0, 700.0)]
    inc = increase(samples, 1.6, 4.0)
    assert inc.increase == 0.0
