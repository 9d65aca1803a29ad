"""The prometheus meter's arithmetic against two stock-fleet cases, before and after the fix.

    python benchmarks/prometheus_fleet.py [--runs 2000] [--seed 1]

Pure arithmetic on simulated scrapes (pepr-gate's own `counters.py` and `promseries.py`),
no server: a GPU idles at 60 W and draws 300 W during a job; each run starts at a random
phase against the scrape and refresh clocks.

1. dcgm-exporter's stock 30 s refresh behind a 15 s scrape: the counter shows flat steps.
   Before: every scraped sample counted at its scrape time. After: the slow refresh is
   detected and one sample per value is kept, midway between the scrapes around its
   change.
2. Split series: the GPU's series is relabelled when the job's pod takes the GPU, 2 s
   after the job starts (Kubernetes), 15 s scrapes. Before: one series of the device kept
   and the rest discarded; shown for the pod's series (had Prometheus listed the series
   from before the pod first, the run would have read about -100 %). After: the device's
   series merged in time order.

Prints the mean and worst relative error of the run's GPU energy per job length.
"""

from __future__ import annotations

import argparse
import random
import statistics
from array import array

from pepr_gate.measure.meter.counters import CounterWindow
from pepr_gate.measure.meter.promseries import Device, Raw, keep_changes, merge, refresh_period

IDLE_W, BUSY_W = 60.0, 300.0


def energy(t: float, start: float, end: float) -> float:
    """Joules since t = 0 for a GPU at IDLE_W, BUSY_W during [start, end]."""
    busy = max(0.0, min(t, end) - start) if t > start else 0.0
    return 1e6 + IDLE_W * t + (BUSY_W - IDLE_W) * busy


def increase(t: list[float] | array[float], v: list[float] | array[float], start: float,
             end: float) -> float:
    acc = CounterWindow(start, end)
    for ts, val in zip(t, v, strict=True):
        acc.add(ts, val)
    return acc.result().increase


def refresh_case(rng: random.Random, job_s: float, scrape: float = 15.0,
                 refresh: float = 30.0) -> tuple[float, float]:
    start = 300.0 + rng.uniform(0, 60)
    end = start + job_s
    phase_r, phase_s = rng.uniform(0, refresh), rng.uniform(0, scrape)
    t = [phase_s + k * scrape for k in range(int((end + 3 * refresh) / scrape))]
    t = [x for x in t if x > start - 120]
    v = [energy(phase_r + ((x - phase_r) // refresh) * refresh, start, end) for x in t]
    known = energy(end, start, end) - energy(start, start, end)
    before = increase(t, v, start, end)
    dev = Device("n", "gpu", (), array("d", t), array("d", v))
    if refresh_period(dev.t, dev.v):
        keep_changes(dev)
    after = increase(dev.t, dev.v, start, end)
    return before / known - 1, after / known - 1


def split_case(rng: random.Random, job_s: float, scrape: float = 15.0) -> tuple[float, float]:
    start = 300.0 + rng.uniform(0, 60)
    end = start + job_s
    phase = rng.uniform(0, scrape)
    t = [phase + k * scrape for k in range(int((end + 3 * scrape) / scrape))]
    t = [x for x in t if x > start - 120]
    old = Raw((("pod", ""),))
    new = Raw((("pod", "train-0"),))
    for x in t:  # the pod takes the GPU a moment after the job starts
        (new if x >= start + 2.0 else old).extend([(x, energy(x, start, end))])
    known = energy(end, start, end) - energy(start, start, end)
    kept = new if new.t else old  # the old meter kept whichever series came first
    before = increase(kept.t, kept.v, start, end)
    dev = merge("n", "gpu", [old, new])
    after = increase(dev.t, dev.v, start, end)
    return before / known - 1, after / known - 1


def summary(errors: list[float]) -> str:
    worst = max(errors, key=abs)
    return f"mean {statistics.fmean(errors):+.1%}, worst {worst:+.1%}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    for name, case in (("30 s refresh, 15 s scrape", refresh_case),
                       ("split series at the pod's start, 15 s scrape", split_case)):
        print(name)
        for job_s in (60.0, 300.0):
            pairs = [case(rng, job_s) for _ in range(args.runs)]
            print(f"  {job_s:.0f} s jobs: before {summary([b for b, _ in pairs])}; "
                  f"after {summary([a for _, a in pairs])}")


if __name__ == "__main__":
    main()
