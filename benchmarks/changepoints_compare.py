"""The three maintained change-point libraries on the same simulated series.

Same data as benchmarks/changepoints.py (60 runs, 3% noise; a 10% step at run 30, or
flat): for each library, the share of stepped series where it reports a change point
within one run of the truth, the share of flat series with any change point, and the time.

- pepr-gate: `decide.changepoints` (ruptures PELT, l2 cost on noise-scaled values, then
  the Welch confidence and 1% size filters), what `history --changes` reports;
- ruptures-binseg: ruptures' binary segmentation, same cost and penalty, no filters;
- otava: Apache Otava 0.8 `analysis.compute_change_points` (Hunter: windowed E-divisive
  with a t-test merge), max_pvalue 0.001 and 0.01;
- spa: MongoDB signal-processing-algorithms 2.1 `e_divisive` (permutation test), p 0.05.

Otava pins numpy 2.2 / scipy < 1.17 and signal-processing-algorithms numpy < 2 and gevent,
so they do not install beside pepr-gate; run this in a separate venv that has them
(a library that does not import is reported as such):

    python -m venv /tmp/cmp && /tmp/cmp/bin/pip install apache-otava ruptures pydantic \
        rich jinja2 && /tmp/cmp/bin/pip install --no-deps signal-processing-algorithms \
        && /tmp/cmp/bin/pip install structlog more-itertools
    PYTHONPATH=. /tmp/cmp/bin/python benchmarks/changepoints_compare.py --trials 200
"""

from __future__ import annotations

import argparse
import math
import random
import time
from collections.abc import Callable

RUNS, STEP_AT, STEP, NOISE = 60, 30, 0.10, 0.03
Detector = Callable[[list[float]], list[int]]


def series(rng: random.Random, step: float) -> list[float]:
    return [0.6 * (1 - (step if i >= STEP_AT else 0.0)) * (1 + rng.gauss(0.0, NOISE))
            for i in range(RUNS)]


def pepr_gate() -> Detector:
    from benchmarks.changepoints import reported

    return reported


def ruptures_binseg() -> Detector:
    import numpy as np
    import ruptures

    from pepr_gate.decide.changepoints import MIN_SIZE, PENALTY, noise

    def detect(values: list[float]) -> list[int]:
        x = (np.asarray(values) / noise(values)).reshape(-1, 1)
        algo = ruptures.Binseg(model="l2", min_size=MIN_SIZE, jump=1).fit(x)
        return [int(i) for i in algo.predict(pen=PENALTY * math.log(len(values)))[:-1]]

    return detect


def otava(max_pvalue: float) -> Callable[[], Detector]:
    def make() -> Detector:
        from otava.analysis import compute_change_points

        def detect(values: list[float]) -> list[int]:
            found, _ = compute_change_points(values, max_pvalue=max_pvalue)
            return [int(c.index) for c in found]

        return detect

    return make


def spa() -> Detector:
    from signal_processing_algorithms.energy_statistics.energy_statistics import e_divisive

    def detect(values: list[float]) -> list[int]:
        return [int(i) for i in e_divisive(values, pvalue=0.05, permutations=100)]

    return detect


LIBRARIES: dict[str, Callable[[], Detector]] = {
    "pepr-gate (ruptures PELT + filters)": pepr_gate,
    "ruptures Binseg, same penalty": ruptures_binseg,
    "Apache Otava, p 0.001": otava(0.001),
    "Apache Otava, p 0.01": otava(0.01),
    "MongoDB spa e_divisive, p 0.05": spa,
}


def score(detect: Detector, trials: int, seed: int) -> tuple[float, float, float]:
    rng = random.Random(seed)
    hits = false = 0
    started = time.perf_counter()
    for _ in range(trials):
        hits += any(abs(c - STEP_AT) <= 1 for c in detect(series(rng, STEP)))
        false += bool(detect(series(rng, 0.0)))
    per = (time.perf_counter() - started) / (2 * trials) * 1000
    return hits / trials, false / trials, per


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    print(f"{RUNS} runs, {NOISE:.0%} noise, {STEP:.0%} step at run {STEP_AT}; "
          f"{args.trials} stepped and {args.trials} flat series each (same seed)")
    print(f"{'library':38} {'found +-1':>9} {'false':>6} {'ms/series':>9}")
    for name, make in LIBRARIES.items():
        try:
            detect = make()
        except ImportError as exc:
            print(f"{name:38} not installed here ({exc.name})")
            continue
        found, false, ms = score(detect, args.trials, args.seed)
        print(f"{name:38} {found:>9.1%} {false:>6.1%} {ms:>9.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
