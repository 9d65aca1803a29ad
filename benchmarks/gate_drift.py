"""A drifting runner, by simulation through the gate itself: what history mode says when
the candidate and the base window ran under other loads, with and without the conditions
recorded, and what paired A/B says under the same drift.

The load model is the one measured on 558 runs of karpathy/makemore on a shared 2-core
runner (issue 27): the same code's CPU-estimated energy rises LOAD_SLOPE = 3.3% per unit of
load average, with a per-run spread of 0.8% at a given load; the job's wall/CPU ratio is
1.0 when quiet and 2-3 when busy. A run's record carries its conditions (load, other CPU
share, wall/CPU) as `pepr-gate run` writes them, and `decide.gate.evaluate` /
`evaluate_paired` decide, exactly as `check` and `ab` do.

Scenarios (TRIALS each; P = 0.9, PePR-E on a 2 x baseline scale):

- busy candidate: 5 base runs at load 1.3, 3 candidate runs of the same code at 8.1.
- reversed: 5 base runs at load 8.1, 3 candidate runs at 1.3 of a worse model (a true
  -11.2% PePR change, from P): how much of it history sees.
- same load: both at 1.3, same code: the false alarms that remain (auto keeps history).
- paired: 4 ABBA pairs while the load falls from 8 to 1 over the session, the same
  worse model (true -11.2%); the spread from the pairs alone vs pooled with 20 unpaired history runs
  (the old behaviour), and the verdicts.

    .venv/bin/python benchmarks/gate_drift.py [--trials 400] [--seed 1]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any

from pepr_gate.decide import gate, paired
from pepr_gate.records import Conditions, Pairing, RunRecord

LOAD_SLOPE = 0.033
SPREAD = 0.008
E0 = 0.0069e-3  # kWh: 6.9 mWh at low load
P = 0.9
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
SETTINGS = gate.Settings(resource="energy", max_pepr_drop=0.05, max_performance_drop=None,
                         budgets={}, scale=2 * E0, scale_source="score.scale", window=5,
                         performance_name="loss", strict=False)
TEMPLATE: dict[str, Any] = {
    "schema": "pepr-gate/run/1", "status": "ok", "stages": [],
    "performance": {"name": "loss", "value": P}, "meter": "process",
    "hardware": {"cpu_model": "shared runner", "cpu_count": 2, "ram_bytes": 8 << 30,
                 "platform": "Linux", "fingerprint": "hw-runner"},
    "config_hash": "cfg",
}


def conditions(load: float) -> Conditions:
    return Conditions(load_start=round(load, 2), load_end=round(load, 2),
                      other_cpu_share=round(min(0.95, max(0.0, (load - 1) / (load + 1))), 3),
                      wall_cpu_ratio=round(max(1.0, 1 + 0.25 * (load - 1)), 3), cpu_count=2)


def record(rng: random.Random, n: int, load: float, change: float, branch: str, *,
           with_conditions: bool = True, pairing: Pairing | None = None) -> RunRecord:
    energy = E0 * (1 + LOAD_SLOPE * (load - 1.3)) * math.exp(rng.gauss(0, SPREAD))
    data = {**TEMPLATE, "performance": {"name": "loss", "value": P * (1 + change)},
            "id": f"r{n}-{rng.getrandbits(32):08x}",
            "created_at": T0 + timedelta(minutes=n), "git": {"branch": branch},
            "resources": {"energy_kwh": energy, "energy_method": "estimated",
                          "duration_s": 60.0},
            "conditions": conditions(load) if with_conditions else None,
            "paired": pairing}
    return RunRecord.model_validate(data)


def ctx() -> gate.Context:
    return gate.Context(created_at=T0 + timedelta(hours=5), base_branch="main",
                        head_branch="pr")


def history_case(rng: random.Random, base_load: float, cand_load: float, change: float,
                 with_conditions: bool) -> tuple[str, float]:
    base = [record(rng, i, base_load, 0.0, "main", with_conditions=with_conditions)
            for i in range(5)]
    cand = [record(rng, 100 + i, cand_load, change, "pr", with_conditions=with_conditions)
            for i in range(3)]
    result = gate.evaluate(cand, base, base, SETTINGS, ctx())
    return result.verdict, result.pepr_change or 0.0


def pepr(runs: list[RunRecord]) -> list[float]:
    return [(r.performance.value or 0.0) / (1 + (r.resources.energy_kwh or 0.0) / (2 * E0))
            for r in runs]


def paired_case(rng: random.Random, change: float) -> tuple[str, str, float, float]:
    """(verdict from the pairs, verdict pooled with unpaired history, spreads of each)."""
    loads = [8 - 7 * k / 7 for k in range(8)]  # the load falls over the session
    base: list[RunRecord] = []
    head: list[RunRecord] = []
    order = [(i, s) for i in range(4) for s in (("base", "head") if i % 2 == 0
                                                 else ("head", "base"))]
    for k, (i, side) in enumerate(order):
        pairing = Pairing(session="s1", side=side, index=i)
        run = record(rng, k, loads[k], change if side == "head" else 0.0,
                     "main" if side == "base" else "pr", pairing=pairing)
        (base if side == "base" else head).append(run)
    history = [record(rng, 200 + j, rng.choice((1.3, 8.1)), 0.0, "main") for j in range(20)]
    now = gate.evaluate_paired(base, head, history, SETTINGS, ctx())
    score, bp, hp = pepr(history), pepr(base), pepr(head)
    old = paired.decide_paired(bp, hp, 0.05, history=score)
    return now.verdict, old.verdict, now.spread or 0.0, old.noise.spread


def rates(verdicts: list[str]) -> str:
    c, n = Counter(verdicts), len(verdicts)
    return "  ".join(f"{v} {100 * c[v] / n:5.1f}%" for v in ("pass", "warn", "fail",
                                                              "inconclusive"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=400)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    started = time.perf_counter()
    print(f"gate_drift: {args.trials} trials per row; energy +{LOAD_SLOPE * 100:.1f}% per "
          f"unit of load, per-run spread {SPREAD * 100:.1f}%")
    for title, base_load, cand_load, change in (
            ("busy candidate (load 8.1 vs 1.3), same code", 1.3, 8.1, 0.0),
            ("reversed (load 1.3 vs 8.1), true -11.2% PePR", 8.1, 1.3, -0.112),
            ("same load (1.3 vs 1.3), same code", 1.3, 1.3, 0.0)):
        for with_conditions in (False, True):
            got = [history_case(rng, base_load, cand_load, change, with_conditions)
                   for _ in range(args.trials)]
            seen = statistics.median(c for _, c in got) * 100
            label = "conditions recorded" if with_conditions else "no conditions (before)"
            print(f"  history, {title:<48} {label:<23} {rates([v for v, _ in got])}  "
                  f"median PePR change {seen:+.1f}%")
    got4 = [paired_case(rng, -0.112) for _ in range(args.trials)]
    ratio = statistics.median(old / new for _, _, new, old in got4 if new > 0)
    print("  paired, 4 pairs, load 8 -> 1 during the session, true -11.2% PePR:")
    print(f"    spread from the pairs (now)            {rates([v for v, _, _, _ in got4])}  "
          f"median spread {statistics.median(n for _, _, n, _ in got4) * 100:.2f}%")
    print(f"    pooled with 20 unpaired runs (before)  {rates([v for _, v, _, _ in got4])}  "
          f"median spread {statistics.median(o for _, _, _, o in got4) * 100:.2f}% "
          f"({ratio:.1f}x)")
    print(f"  ({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
