"""How long `pepr-gate score` takes to score and rank a big leaderboard.

A generated table of 100,000 models in 100 groups with 4 resources (4 PePR variants)
is normalised per group, scored and ranked (`leaderboard.score_table`); plotting and
file output are excluded. Prints the median of several runs; the target is <= 1 s.
Also prints, for information, the time to read the same table from a CSV file.

    .venv/bin/python benchmarks/score_speed.py [--rows N] [--groups G] [--repeats K]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from pepr_gate.leaderboard.io import read_csv
from pepr_gate.leaderboard.table import Table, score_table

RESOURCES = ("energy", "co2", "train_time", "memR")
TARGET_S = 1.0


def generate(rows: int, groups: int, seed: int = 0) -> Table:
    rng = np.random.default_rng(seed)
    names = np.array([f"model_{i:06d}" for i in range(rows)])
    group = np.array([f"experiment_{i % groups:03d}" for i in range(rows)])
    perf = rng.uniform(0.3, 0.99, rows)
    res = {c: rng.lognormal(mean=k, sigma=1.0, size=rows) for k, c in enumerate(RESOURCES)}
    return Table(names, group, perf, res, [f"row {i + 1}" for i in range(rows)], "P")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--groups", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    table = generate(args.rows, args.groups)
    score_table(table)  # warm-up: first-call imports and allocations
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        lb = score_table(table)
        times.append(time.perf_counter() - t0)
    assert len(lb.variants) == len(RESOURCES) and len(lb.group_names) == args.groups
    median = statistics.median(times)
    print(f"score+rank: {args.rows:,} rows, {len(RESOURCES)} variants, {args.groups} groups")
    print(f"  median {median:.3f} s over {args.repeats} runs "
          f"(min {min(times):.3f} s, max {max(times):.3f} s); target <= {TARGET_S:.1f} s: "
          f"{'OK' if median <= TARGET_S else 'MISSED'}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.csv"
        cols = ["model", "group", "P", *RESOURCES]
        data = [table.names, table.groups, table.performance.astype(str),
                *(table.resources[c].astype(str) for c in RESOURCES)]
        body = zip(*(d.tolist() for d in data), strict=True)
        lines = [",".join(cols)] + [",".join(row) for row in body]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        t0 = time.perf_counter()
        read_csv(path, performance="P", resources=list(RESOURCES), name="model", group="group")
        print(f"  (for information: reading and validating the CSV took "
              f"{time.perf_counter() - t0:.3f} s)")
    return 0 if median <= TARGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
