"""False alarms and detection of the gate's decision rule, by simulation, in every cell of
spread x window x repeats x (history | paired) x (no drift | drift).

Each trial draws PePR values with a per-run log-normal spread and asks the functions the
gate itself decides with: `decide.sequential.decided_yet` (what `gate.evaluate` calls for
a comparison with history) and `decide.paired.decide_paired` (the paired ABBA test).

- history: the store holds `window` base runs; the candidate runs `repeats` times
  (`auto`: one at a time, stopping on pass, fail or when nothing could settle it, at most
  MAX_REPEATS looks; warn looks again).
- paired: `repeats` ABBA pairs of base and head on one runner (`auto`: pairs one at a
  time, at most MAX_REPEATS); the store's `window` older base runs join the spread.
- drift: the runner's load changes between the base batch and the candidate batch: the
  candidate batch runs DRIFT lower (history: a step between batches an hour apart); in a
  paired session the load falls at the same pace, DRIFT over 2 x MAX_REPEATS runs.
- "no change": a fail is a false alarm. "2x drop": the candidate is 2 x the threshold
  worse; pass or warn would be a silent miss, fail or inconclusive is caught.

A target counts as missed only when the simulated rate is off by more than two standard
errors of the simulation itself (with 4000 trials: 0.3 points at 1%, 0.7 at 95%).
The whole grid at 4000 trials per cell and scenario takes about 7 minutes on a busy core.

    .venv/bin/python benchmarks/gate_power.py [--trials 4000] [--drift 0.03] [--seed 1]
    .venv/bin/python benchmarks/gate_power.py --target   # the adaptive loop's targets

`--target` prints, for `repeats = auto` at a 3% per-run spread, window 5 and max_repeats
5, how often unchanged code, a drop of the threshold and one of twice the threshold get
each verdict and how many candidate runs each verdict cost. Targets: unchanged code
passes >= 80% and fails <= 1%; a drop of twice the threshold fails >= 90%.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from collections.abc import Callable

from pepr_gate.decide import noise as noise_mod
from pepr_gate.decide import paired, rule, sequential

THRESHOLD = 0.05
MAX_REPEATS = 5
SPREADS = (0.03, 0.05, 0.10, 0.20)
WINDOWS = (1, 5, 20)
REPEATS = ("1", "3", "auto")
P0 = 0.6
PRIOR = "estimated"  # the shared-runner case: estimated energy
Draw = Callable[[float], float]


def _ends(verdict: str, repeats_needed: int | None) -> bool:
    """The loop's stopping rule (`decide.sequential.decided`): pass, fail, or an
    inconclusive that no repeat up to the maximum settles; warn looks again."""
    return verdict in ("pass", "fail") or (verdict == "inconclusive" and repeats_needed is None)


def _history_runs(draw: Draw, window: int, repeats: str, true: float,
                  drift: float) -> tuple[str, int]:
    """(verdict, candidate runs it cost)."""
    base = [draw(P0) for _ in range(window)]
    level = P0 * (1 - true) * (1 - drift)
    if repeats != "auto":
        head = [draw(level) for _ in range(int(repeats))]
        judged = sequential.decided_yet(base, head, threshold=THRESHOLD, prior_key=PRIOR)[0]
        return judged.verdict, len(head)
    head = []
    for _ in range(MAX_REPEATS):
        head.append(draw(level))
        judged, _, _ = sequential.decided_yet(base, head, threshold=THRESHOLD,
                                              max_looks=MAX_REPEATS, prior_key=PRIOR)
        if _ends(judged.verdict, judged.repeats_needed):
            break
    return judged.verdict, len(head)


def _history(draw: Draw, window: int, repeats: str, true: float, drift: float) -> str:
    return _history_runs(draw, window, repeats, true, drift)[0]


def _pair(draw: Draw, i: int, true: float, drift: float) -> tuple[float, float]:
    """Pair i of an ABBA sequence: runs 2i and 2i+1, base first in even pairs."""
    def load(t: int) -> float:
        return 1 - drift * t / (2 * MAX_REPEATS)

    if i % 2 == 0:  # A then B
        base = draw(P0 * load(2 * i))
        return base, draw(P0 * (1 - true) * load(2 * i + 1))
    head = draw(P0 * (1 - true) * load(2 * i))  # B then A
    return draw(P0 * load(2 * i + 1)), head


def _paired(draw: Draw, window: int, repeats: str, true: float, drift: float) -> str:
    history = [draw(P0) for _ in range(window)]
    pairs = MAX_REPEATS if repeats == "auto" else int(repeats)
    looks = MAX_REPEATS if repeats == "auto" else 1
    base: list[float] = []
    head: list[float] = []
    for i in range(pairs):
        b, h = _pair(draw, i, true, drift)
        base.append(b)
        head.append(h)
        if repeats != "auto" and i + 1 < pairs:
            continue
        d = paired.decide_paired(base, head, THRESHOLD, history=history, prior_key=PRIOR,
                                 max_looks=looks)
        if _ends(d.verdict, d.judgement.repeats_needed):
            break
    return d.verdict


def cell(rng: random.Random, mode: str, spread: float, window: int, repeats: str,
         drift: float, trials: int) -> tuple[float, float, float]:
    """(false alarms, 2x drop caught as fail or inconclusive, 2x drop failed)."""
    def draw(level: float) -> float:
        return level * math.exp(rng.gauss(0, spread))

    run = _history if mode == "history" else _paired
    alarms = caught = failed = 0
    for _ in range(trials):
        alarms += run(draw, window, repeats, 0.0, drift) == "fail"
        verdict = run(draw, window, repeats, 2 * THRESHOLD, drift)
        caught += verdict in ("fail", "inconclusive")
        failed += verdict == "fail"
    return alarms / trials, caught / trials, failed / trials


TARGET = {"spread": 0.03, "window": 5}  # the adaptive loop's targets (issue 19, item 4)
VERDICTS = ("pass", "warn", "fail", "inconclusive")


def target(rng: random.Random, trials: int) -> list[str]:
    """`repeats = auto` at a 3% per-run spread, window 5, max_repeats 5: how often each
    verdict comes and how many candidate runs it cost, for unchanged code, a drop of the
    threshold and a drop of twice the threshold; returns the targets missed."""
    spread, window = TARGET["spread"], TARGET["window"]

    def draw(level: float) -> float:
        return level * math.exp(rng.gauss(0, spread))

    print(f"repeats auto, max_repeats {MAX_REPEATS}, spread {spread:.0%}, window {window}, "
          f"threshold {THRESHOLD:.0%}, {trials} trials per scenario\n")
    print("| true change | " + " | ".join(VERDICTS) + " | runs per verdict (mean) |")
    print("| --- | " + " | ".join("---:" for _ in VERDICTS) + " | --- |")
    rates: dict[float, dict[str, float]] = {}
    for true in (0.0, THRESHOLD, 2 * THRESHOLD):
        count = dict.fromkeys(VERDICTS, 0)
        runs = dict.fromkeys(VERDICTS, 0)
        for _ in range(trials):
            verdict, n = _history_runs(draw, window, "auto", true, 0.0)
            count[verdict] += 1
            runs[verdict] += n
        rates[true] = {v: count[v] / trials for v in VERDICTS}
        cost = ", ".join(f"{v} {runs[v] / count[v]:.2f}" for v in VERDICTS if count[v])
        overall = sum(runs.values()) / trials
        print(f"| PePR -{true:.0%} | " + " | ".join(f"{rates[true][v]:.1%}" for v in VERDICTS)
              + f" | {cost}; all {overall:.2f} |")
    missed = []
    if _off(rates[0.0]["pass"], 0.80, trials, above=False):
        missed.append(f"unchanged code passed {rates[0.0]['pass']:.1%} < 80%")
    if _off(rates[0.0]["fail"], 0.01, trials, above=True):
        missed.append(f"unchanged code failed {rates[0.0]['fail']:.1%} > 1%")
    if _off(rates[2 * THRESHOLD]["fail"], 0.90, trials, above=False):
        missed.append(f"2x drop failed {rates[2 * THRESHOLD]['fail']:.1%} < 90%")
    return missed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--trials", type=int, default=4000)
    ap.add_argument("--drift", type=float, default=0.03)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--target", action="store_true",
                    help="only the adaptive loop's target cell (3%% spread, window 5)")
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    t0 = time.perf_counter()
    if args.target:
        missed = target(rng, args.trials)
        print(f"\n{len(missed)} target(s) missed ({time.perf_counter() - t0:.0f} s)"
              + "".join(f"\n  {m}" for m in missed))
        return 0 if not missed else 1
    print(f"threshold {THRESHOLD:.0%}; alpha {rule.ALPHA:.0%} (auto: spent over {MAX_REPEATS} "
          f"looks, pass level {sequential.ADAPTIVE_BETA:.0%}); "
          f"prior for {PRIOR} energy {noise_mod.PRIORS[PRIOR]:.0%}; drift {args.drift:.0%}; "
          f"{args.trials} trials per cell and scenario\n")
    print("| mode | drift | spread | window | repeats | false alarms | 2x drop caught "
          "| 2x drop failed |")
    print("| --- | --- | ---: | ---: | --- | ---: | ---: | ---: |")
    missed: list[str] = []
    for mode in ("history", "paired"):
        for drift in (0.0, args.drift):
            for spread in SPREADS:
                for window in WINDOWS:
                    for repeats in REPEATS:
                        fa, caught, failed = cell(rng, mode, spread, window, repeats, drift,
                                                  args.trials)
                        flags = _targets(fa, caught, failed, spread, window, repeats,
                                         args.trials)
                        label = f"{mode} drift={drift:.0%} {spread:.0%} w{window} r{repeats}"
                        missed += [f"{label}: {f}" for f in flags]
                        mark = " **!**" if flags else ""
                        print(f"| {mode} | {drift:.0%} | {spread:.0%} | {window} | {repeats} "
                              f"| {fa:.1%} | {caught:.1%} | {failed:.1%}{mark} |")
    print(f"\n{len(missed)} target(s) missed ({time.perf_counter() - t0:.0f} s):")
    for line in missed:
        print(f"  {line}")
    return 0 if not missed else 1


def _off(rate: float, target: float, trials: int, above: bool) -> bool:
    """Whether `rate` misses `target` by more than two simulation standard errors."""
    se = math.sqrt(target * (1 - target) / trials)
    return rate > target + 2 * se if above else rate < target - 2 * se


def _targets(fa: float, caught: float, failed: float, spread: float, window: int,
             repeats: str, trials: int) -> list[str]:
    out = []
    if _off(fa, 0.01, trials, above=True):
        out.append(f"false alarms {fa:.1%} > 1%")
    if _off(caught, 0.95, trials, above=False):
        out.append(f"2x drop caught {caught:.1%} < 95%")
    if (spread == 0.03 and window == 5 and repeats == "3"
            and _off(failed, 0.90, trials, above=False)):
        out.append(f"2x drop failed {failed:.1%} < 90%")
    return out


if __name__ == "__main__":
    sys.exit(main())
