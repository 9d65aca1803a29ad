"""False-alarm and detection rates of the gate's decision rule, by simulation.

Each trial makes a base-branch history and a candidate with N repeats; every run's PePR is
the true PePR x (1 + e), e ~ Normal(0, spread), and the real `gate.evaluate` decides.
"No change": the candidate's true PePR equals the baseline's; a fail is a false alarm.
"10% drop": the candidate's true PePR is 10% lower; a fail is a detection (warn is not).

    .venv/bin/python benchmarks/gate_power.py [--trials 2000] [--spread 0.03] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import datetime, timedelta, timezone

from pepr_gate.decide import gate
from pepr_gate.decide import rule as gate_rule
from pepr_gate.records import (
    GitInfo,
    Hardware,
    Performance,
    Resources,
    RunRecord,
)

P0 = 0.8
ENERGY = 0.01  # kWh; with a fixed scale of 0.02 kWh R = 0.5, so PePR moves only with P
T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
TEMPLATE = RunRecord(
    id="template", created_at=T0, status="ok", stages=[],
    performance=Performance(name="accuracy", value=P0),
    resources=Resources(energy_kwh=ENERGY, energy_method="measured", duration_s=60.0),
    hardware=Hardware(cpu_model="sim", cpu_count=8, ram_bytes=2**34, platform="linux",
                      fingerprint="hw-sim"),
    git=GitInfo(branch="main"), config_hash="cfg-sim",
)
SETTINGS = gate.Settings(
    resource="energy", max_pepr_drop=0.05, max_performance_drop=None, budgets={},
    scale=0.02, scale_source="config", window=5, performance_name="accuracy", strict=False,
)


def runs(rng: random.Random, n: int, factor: float, spread: float, branch: str,
         start: int) -> list[RunRecord]:
    out = []
    for i in range(n):
        p = P0 * factor * (1 + rng.gauss(0, spread))
        out.append(TEMPLATE.model_copy(update={
            "id": f"{branch}-{start + i}",
            "created_at": T0 + timedelta(minutes=start + i),
            "performance": Performance(name="accuracy", value=p),
            "git": GitInfo(branch=branch),
        }))
    return out


def rates(rng: random.Random, repeats: int, history: int, spread: float,
          trials: int) -> tuple[float, float, float]:
    ctx = gate.Context(created_at=T0, base_branch="main", head_branch="pr")
    alarms = detections = warns = 0
    for _ in range(trials):
        hist = runs(rng, history, 1.0, spread, "main", 0)
        hist.reverse()  # newest first, as the store returns them
        window = hist[:SETTINGS.window]
        for factor in (1.0, 0.9):
            cand = runs(rng, repeats, factor, spread, "pr", 1000)
            verdict = gate.evaluate(cand, window, hist, SETTINGS, ctx).verdict
            if factor == 1.0:
                alarms += verdict == "fail"
            else:
                detections += verdict == "fail"
                warns += verdict == "warn"
    return alarms / trials, detections / trials, warns / trials


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=2000)
    ap.add_argument("--spread", type=float, default=0.03)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    t0 = time.perf_counter()
    print(f"decision rule: alpha = {gate_rule.ALPHA}, "
          f"max_pepr_drop {SETTINGS.max_pepr_drop:.0%}, window {SETTINGS.window}; "
          f"{args.spread:.0%} run-to-run spread, {args.trials} trials per row\n")
    print("| base runs in store | repeats | false alarms (no change) | detection (10% drop) "
          "| warn instead (10% drop) |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    ok = True
    for history in (gate.NOISE_HISTORY, SETTINGS.window):
        for repeats in (1, 3, 5):
            fa, det, warn = rates(rng, repeats, history, args.spread, args.trials)
            print(f"| {history} | {repeats} | {fa:.2%} | {det:.1%} | {warn:.1%} |")
            if history == gate.NOISE_HISTORY:
                ok &= fa <= 0.01 and (repeats != 3 or det >= 0.95)
    print(f"\ntargets (store holding >= {gate.NOISE_HISTORY} base runs): false alarms <= 1% "
          f"at any repeats, detection >= 95% with 3 repeats: {'met' if ok else 'NOT met'}"
          f"  ({time.perf_counter() - t0:.1f} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
