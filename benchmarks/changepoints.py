"""Detection and false change points of `history --changes`, by simulation.

Each trial draws a series of RUNS PePR values with a Gaussian run-to-run spread of NOISE
(relative to the level) and asks `decide.changepoints` (the functions `history --changes`
uses) for the PePR change points:

- step: the level falls by STEP from run STEP_AT on; a hit is a change point reported
  within one run of STEP_AT (target >= 95% of series);
- flat: no step; any change point reported is false (target <= 2% of series).

    .venv/bin/python benchmarks/changepoints.py [--trials 2000] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import time

from pepr_gate.decide.changepoints import (
    MIN_CONFIDENCE,
    MIN_SIZE,
    MIN_STEP,
    PENALTY,
    breakpoints,
    confidence,
)

RUNS, STEP_AT, STEP, NOISE = 60, 30, 0.10, 0.03


def series(rng: random.Random, step: float, runs: int = RUNS, at: int = STEP_AT) -> list[float]:
    level = 0.6
    return [level * (1 - (step if i >= at else 0.0)) * (1 + rng.gauss(0.0, NOISE))
            for i in range(runs)]


def reported(values: list[float]) -> list[int]:
    """The change points `history --changes` would report (same filters)."""
    cuts = breakpoints(values)
    edges = [0, *cuts, len(values)]
    out = []
    for k, cut in enumerate(cuts):
        left, right = values[edges[k]:cut], values[cut:edges[k + 2]]
        before, after = sum(left) / len(left), sum(right) / len(right)
        if abs(after / before - 1) >= MIN_STEP and confidence(left, right) >= MIN_CONFIDENCE:
            out.append(cut)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    started = time.perf_counter()
    hits = extra = false = 0
    for _ in range(args.trials):
        found = reported(series(rng, STEP))
        hits += any(abs(c - STEP_AT) <= 1 for c in found)
        extra += any(abs(c - STEP_AT) > 1 for c in found)
        false += bool(reported(series(rng, 0.0)))
    n = args.trials
    detect, false_rate = hits / n, false / n
    print(f"series: {RUNS} runs, PePR noise {NOISE:.0%}, PELT l2 penalty {PENALTY} x log(n), "
          f"min size {MIN_SIZE}, confidence >= {MIN_CONFIDENCE:.0%}, step >= {MIN_STEP:.0%}")
    print(f"step of {STEP:.0%} at run {STEP_AT}: found within one run in {detect:.1%} of "
          f"{n} series (target >= 95%); another point also reported in {extra / n:.1%}")
    print(f"flat series: a false change point in {false_rate:.1%} of {n} series "
          "(target <= 2%)")
    print(f"{2 * n} series in {time.perf_counter() - started:.1f} s")
    ok = detect >= 0.95 and false_rate <= 0.02
    print("targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
