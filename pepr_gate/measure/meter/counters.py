"""A counter's increase over exactly one window, from its raw scraped samples.

Pure arithmetic, no I/O. Samples arrive in time order (duplicates from overlapping
queries are skipped). Every scrape interval that lies inside the window counts whole. A
sample lower than the one before is a counter reset (an exporter or driver restart): the
counter restarted from zero, so that interval's increase is the new value (what PromQL's
`increase()` assumes too).

The two intervals that straddle the window's edges are split at the start and end
instants. Splitting them in proportion to time (linear interpolation) smears the job's
power step over the whole interval: with 15 s scrapes a 60 s job stepping from 60 W to
300 W comes out 7 % low on average.
The power outside the run is better known than that: it is what the GPU drew in the
interval just before (at the start) or just after (at the end). So the outside part of
an edge interval is taken at its outside neighbour's rate and the rest counted; where the
outside neighbour is not there (no scrape two intervals after the end), the inside part
is taken at the rate of the adjacent interval inside the run; where neither exists (a
job shorter than a scrape interval), the split is linear. Each estimate is clamped to
the interval's own increase, so a window never gets more than the counter rose.
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


@dataclass(frozen=True)
class _Span:
    t0: float
    t1: float
    rise: float

    @property
    def rate(self) -> float:
        return self.rise / (self.t1 - self.t0)


@dataclass
class CounterWindow:
    start: float
    end: float
    _inner: float = 0.0  # the increase of the intervals wholly inside the window
    _samples: int = 0
    _resets: int = 0
    _first_t: float | None = None
    _prev: tuple[float, float] | None = None
    _before: _Span | None = None  # the last interval wholly before the window
    _after: _Span | None = None  # the first interval wholly after it
    _first_in: _Span | None = None  # the first and last intervals wholly inside it
    _last_in: _Span | None = None
    _edges: list[_Span] = field(default_factory=list)  # intervals straddling start or end
    _spacings: array[float] = field(default_factory=lambda: array("d"))
    # the scrape intervals that overlap the window: where each starts and how long it is
    _inside_t: array[float] = field(default_factory=lambda: array("d"))
    _inside_dt: array[float] = field(default_factory=lambda: array("d"))

    def add(self, t: float, value: float) -> None:
        prev = self._prev
        if prev is not None and t <= prev[0]:
            return  # the same sample again, from the next query's overlapping range
        self._samples += 1
        self._prev = (t, value)
        if prev is None:
            self._first_t = t
            return
        t0, v0 = prev
        if value < v0:
            self._resets += 1
        span = _Span(t0, t, value if value < v0 else value - v0)
        self._spacings.append(t - t0)
        if t <= self.start:
            self._before = span
        elif t0 >= self.end:
            self._after = self._after or span
        else:
            self._inside_t.append(t0)
            self._inside_dt.append(t - t0)
            if t0 >= self.start and t <= self.end:
                self._inner += span.rise
                self._first_in = self._first_in or span
                self._last_in = span
            else:
                self._edges.append(span)

    def _edge(self, e: _Span) -> float:
        """The part of an edge interval's increase that falls inside the window."""
        s, end = self.start, self.end
        before, after = max(0.0, s - e.t0), max(0.0, e.t1 - end)
        inside = min(e.t1, end) - max(e.t0, s)
        linear = e.rise * inside / (e.t1 - e.t0)
        if (before == 0 or self._before) and (after == 0 or self._after):
            outside = (self._before.rate * before if before and self._before else 0.0) + (
                self._after.rate * after if after and self._after else 0.0)
            est = e.rise - outside
        elif before and after:  # a window inside one interval, the end side unknown
            est = linear if self._before is None else (
                (e.rise - self._before.rate * before) * inside / (inside + after))
        elif after and self._last_in is not None:
            est = self._last_in.rate * inside
        elif before and self._first_in is not None:
            est = self._first_in.rate * inside
        else:
            est = linear
        return min(max(est, 0.0), e.rise)

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
            increase=self._inner + sum(self._edge(e) for e in self._edges),
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
