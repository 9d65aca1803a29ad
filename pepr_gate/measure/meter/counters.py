"""A counter's increase over exactly one window, from its raw scraped samples.

Pure arithmetic, no I/O. Samples arrive in time order (duplicates from overlapping
queries are skipped). Between two consecutive samples the counter is taken to rise
linearly, so the increase over the window [start, end] is the sum of each scrape
interval's increase weighted by the part of the interval inside the window: this is the
counter interpolated at the two instants, without Prometheus's `increase()`
extrapolation. A sample lower than the one before is a counter reset (an exporter or
driver restart): the counter restarted from zero, so that interval's increase is the new
value (what PromQL's `increase()` assumes too).
"""

from __future__ import annotations

import statistics
from array import array
from dataclasses import dataclass, field

GAP_INTERVALS = 2.0  # a spacing longer than this many scrape intervals is a gap


@dataclass(frozen=True)
class Gap:
    start: float  # the last sample before the gap (same clock as the samples)
    length_s: float


@dataclass(frozen=True)
class Increase:
    """What one series says about one window."""

    increase: float  # in the counter's unit
    samples: int
    interval_s: float | None  # the median spacing of the samples read
    resets: int
    gaps: tuple[Gap, ...]  # spacings longer than GAP_INTERVALS intervals, inside the window
    head_missing_s: float  # the window's start had no sample at or before it: seconds uncovered
    tail_missing_s: float  # the same at the window's end

    @property
    def complete(self) -> bool:
        return self.samples >= 2 and self.head_missing_s == 0 and self.tail_missing_s == 0


@dataclass
class CounterWindow:
    start: float
    end: float
    _increase: float = 0.0
    _samples: int = 0
    _resets: int = 0
    _first_t: float | None = None
    _prev: tuple[float, float] | None = None
    _spacings: array[float] = field(default_factory=lambda: array("d"))
    # the scrape intervals that overlap the window: where each starts and how long it is
    _inside_t: array[float] = field(default_factory=lambda: array("d"))
    _inside_dt: array[float] = field(default_factory=lambda: array("d"))

    def add(self, t: float, value: float) -> None:
        prev = self._prev
        if prev is not None and t <= prev[0]:
            return  # the same sample again, from the next query's overlapping range
        self._samples += 1
        if prev is None:
            self._first_t = t
        else:
            t0, v0 = prev
            dt = t - t0
            if value < v0:
                self._resets += 1
                rise = value
            else:
                rise = value - v0
            overlap = min(t, self.end) - max(t0, self.start)
            if overlap > 0:
                self._increase += rise * overlap / dt
            self._spacings.append(dt)
            if t > self.start and t0 < self.end:
                self._inside_t.append(t0)
                self._inside_dt.append(dt)
        self._prev = (t, value)

    def result(self) -> Increase:
        interval = statistics.median(self._spacings) if self._spacings else None
        gaps: tuple[Gap, ...] = ()
        if interval:
            gaps = tuple(Gap(t0, dt) for t0, dt in zip(self._inside_t, self._inside_dt,
                                                          strict=True)
                         if dt > GAP_INTERVALS * interval)
        window = self.end - self.start
        if self._first_t is None or self._prev is None:
            head = tail = window
        else:
            head = min(window, max(0.0, self._first_t - self.start))
            tail = min(window, max(0.0, self.end - self._prev[0]))
        return Increase(
            increase=self._increase,
            samples=self._samples,
            interval_s=interval,
            resets=self._resets,
            gaps=gaps,
            head_missing_s=head,
            tail_missing_s=tail,
        )


def increase(samples: list[tuple[float, float]], start: float, end: float) -> Increase:
    """The increase of one series' samples (time-ordered) over [start, end]."""
    acc = CounterWindow(start, end)
    for t, v in samples:
        acc.add(t, v)
    return acc.result()
