"""What pepr-gate costs a run: fixed overhead, slowdown of a CPU-bound job, CLI import time.

    .venv/bin/python benchmarks/overhead.py [--repeats 5] [--job-seconds 10] [--meter process]

Every figure is a median over `--repeats` rounds; within a round the variants run one
after another (interleaved), so a burst of load from other work on the machine hits
them alike. Each variant is a fresh subprocess, so interpreter start is included.

  fixed overhead   `pepr-gate run --no-store -- true` minus plain `true`
  ratio            the job's wall time under `pepr-gate run` (its metered window, as
                   recorded) over the same job run alone; also the whole pepr-gate
                   process over the job alone, fixed overhead included
  CLI import       `python -c "import pepr_gate.cli"` minus `python -c "pass"`
  codecarbon       the same job inside codecarbon's OfflineEmissionsTracker (DNK, no
                   file, log level error): extra wall time and extra peak RSS
  sampler CPU      CPU time of pepr-gate's sampling thread (MeterResult.sampler_cpu_s)
  live line        extra CPU of the live line around a sleeping job, as a share of one
                   core (benchmarks/live_cost.py; --live-seconds 0 skips it)
  import breakdown `python -X importtime -m pepr_gate run --no-store -- true`, parsed:
                   self time summed per package (pepr_gate per subpackage, the standard
                   library as one line), median over the rounds

The job is a Python busy loop with a fixed number of iterations (calibrated once to
about --job-seconds), never a fixed time, so a slowdown shows up as more wall time.
Targets (issues 2 and 13, a 2-core machine): fixed overhead <= 0.3 s, ratio <= 1.02,
import of the CLI <= 0.3 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path

PY = sys.executable
TARGET_OVERHEAD_S = 0.3
TARGET_RATIO = 1.02
TARGET_IMPORT_S = 0.3

BUSY = "x = 0\nfor i in range({n}):\n    x += i\n"

# `pepr-gate` itself, plus one line on stderr with the sampling thread's CPU time.
PEPR_GATE = textwrap.dedent("""\
    import sys
    from pepr_gate.measure.meter import base
    _close = base.MeterSession.close
    def close(self, window):
        result = _close(self, window)
        print(f"SAMPLER_CPU_S={result.sampler_cpu_s!r}", file=sys.stderr)
        return result
    base.MeterSession.close = close
    from pepr_gate.cli import main
    raise SystemExit(main(sys.argv[1:]))
""")

TRACKER = textwrap.dedent("""\
    import logging, sys
    from codecarbon import OfflineEmissionsTracker
    tracker = OfflineEmissionsTracker(country_iso_code="DNK", save_to_file=False,
                                      log_level="error")
    tracker.start()
    exec(sys.argv[1])
    tracker.stop()
""")


def timed(argv: Sequence[str], cwd: Path) -> tuple[float, int, str]:
    """Wall seconds, peak RSS of the process (bytes) and its stderr."""
    with tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read()
    if proc.returncode != 0:
        raise SystemExit(f"benchmark step failed ({proc.returncode}): {argv}\n{text}")
    CPU_S.append(usage.ru_utime + usage.ru_stime)
    return wall, usage.ru_maxrss * 1024, text


# The CPU time (user + system) of each process `timed` ran, in order: unlike wall time it
# hardly grows when other work loads the machine, so the fixed overhead is also given as
# CPU time.
CPU_S: list[float] = []


def import_times(stderr: str) -> dict[str, float]:
    """Self time (s) per package from `-X importtime` lines: `import time: SELF | CUM | NAME`."""
    groups: dict[str, float] = {}
    for line in stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        parts = line[len("import time:"):].split("|")
        if len(parts) != 3 or not parts[0].strip().isdigit():
            continue  # the header line
        name = parts[2].strip()
        root = name.split(".")[0]
        if root == "pepr_gate":
            group = ".".join(name.split(".")[:2])
        elif root in sys.stdlib_module_names or root.startswith("_"):
            group = "(standard library)"
        else:
            group = root
        groups[group] = groups.get(group, 0.0) + int(parts[0]) / 1e6
    return groups


def print_breakdown(rounds: list[dict[str, float]], total_s: float, top: int = 12) -> None:
    names = {n for r in rounds for n in r}
    med = {n: median([r.get(n, 0.0) for r in rounds]) for n in names}
    imports = sum(med.values())
    print(f"  imports: {imports:.3f} s of the {total_s:.3f} s that `pepr-gate run --no-store "
          f"-- true` takes (median self time per package, -X importtime):")
    ranked = sorted(med.items(), key=lambda kv: -kv[1])
    for name, secs in ranked[:top]:
        print(f"    {secs * 1000:6.1f} ms  {name}")
    rest = sum(secs for _, secs in ranked[top:])
    print(f"    {rest * 1000:6.1f} ms  {len(ranked) - top} other packages")


def calibrate(seconds: float, cwd: Path) -> int:
    n = 5_000_000
    wall, _, _ = timed([PY, "-c", BUSY.format(n=n)], cwd)
    base, _, _ = timed([PY, "-c", "pass"], cwd)
    per_iter = max(1e-9, (wall - base) / n)
    return max(1, int(seconds / per_iter))


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: other work on the machine inflates every wall
    time here, so each figure is printed with the load it was measured under."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5, help="rounds per figure (default 5)")
    ap.add_argument("--job-seconds", type=float, default=10.0,
                    help="length of the CPU-bound job (default 10)")
    ap.add_argument("--meter", action="append", metavar="KIND",
                    help="process | auto | replay:PATH; repeat to compare (default: process)")
    ap.add_argument("--no-codecarbon", action="store_true",
                    help="skip the codecarbon tracker comparison")
    ap.add_argument("--live-seconds", type=float, default=20.0,
                    help="sleeping job for the live line's cost (default 20; 0 skips)")
    args = ap.parse_args(argv)
    meters: list[str] = args.meter or ["process"]
    if any(m.startswith("replay:") for m in meters):
        meters = [f"replay:{Path(m[7:]).resolve()}" if m.startswith("replay:") else m
                  for m in meters]
    work = Path(tempfile.mkdtemp(prefix="pepr-overhead-"))
    n = calibrate(args.job_seconds, work)
    job = BUSY.format(n=n)
    print(f"python {sys.version.split()[0]} on {os.cpu_count()} CPUs; {load_average()}; "
          f"job: busy loop of {n:,} iterations; "
          f"{args.repeats} interleaved rounds; meters: {', '.join(meters)}", flush=True)

    def pepr_gate(meter: str, out: Path, *cmd: str) -> list[str]:
        return [PY, "-c", PEPR_GATE, "run", "--no-store", "--meter", meter,
                "--out", str(out), "--", *cmd]

    true_wall: list[float] = []
    py_bare: list[float] = []
    py_import: list[float] = []
    pg_true: dict[str, list[float]] = {m: [] for m in meters}
    pg_rss: dict[str, list[float]] = {m: [] for m in meters}
    pg_cpu: dict[str, list[float]] = {m: [] for m in meters}
    imports: dict[str, list[dict[str, float]]] = {m: [] for m in meters}
    for _ in range(args.repeats):
        true_wall.append(timed(["true"], work)[0])
        for m in meters:
            wall, rss, _ = timed(pepr_gate(m, work / "true.json", "true"), work)
            pg_cpu[m].append(CPU_S[-1])
            pg_true[m].append(wall)
            pg_rss[m].append(rss)
            _, _, err = timed([PY, "-X", "importtime", "-m", "pepr_gate", "run", "--no-store",
                               "--meter", m, "--out", str(work / "imp.json"), "--", "true"], work)
            imports[m].append(import_times(err))
        py_bare.append(timed([PY, "-c", "pass"], work)[0])
        py_import.append(timed([PY, "-c", "import pepr_gate.cli"], work)[0])

    alone: list[float] = []
    alone_rss: list[float] = []
    window: dict[str, list[float]] = {m: [] for m in meters}
    total: dict[str, list[float]] = {m: [] for m in meters}
    sampler: dict[str, list[float]] = {m: [] for m in meters}
    tracked: list[float] = []
    tracked_rss: list[float] = []
    for i in range(args.repeats):
        wall, rss, _ = timed([PY, "-c", job], work)
        alone.append(wall)
        alone_rss.append(rss)
        for m in meters:
            out = work / f"job-{i}.json"
            wall, _, err = timed(pepr_gate(m, out, PY, "-c", job), work)
            total[m].append(wall)
            window[m].append(json.loads(out.read_text())["resources"]["duration_s"])
            line = next(x for x in err.splitlines() if x.startswith("SAMPLER_CPU_S="))
            sampler[m].append(float(line.split("=", 1)[1]))
        if not args.no_codecarbon:
            wall, rss, _ = timed([PY, "-c", TRACKER, job], work)
            tracked.append(wall)
            tracked_rss.append(rss)
        print(f"  round {i + 1}/{args.repeats} done", file=sys.stderr, flush=True)

    mib = 2**20
    ok = True
    print()
    print(f"job alone: {median(alone):.3f} s, peak RSS {median(alone_rss) / mib:.1f} MiB")
    print(f"`true` alone: {median(true_wall) * 1000:.1f} ms")
    for m in meters:
        over = median(pg_true[m]) - median(true_wall)
        ratio = median(window[m]) / median(alone)
        whole = median(total[m]) / median(alone)
        cpu = median(sampler[m])
        over_ok = over <= TARGET_OVERHEAD_S
        ok &= over_ok and ratio <= TARGET_RATIO
        print(f"[meter {m}]")
        print(f"  fixed overhead (pepr-gate run --no-store -- true minus true): "
              f"{over:.3f} s   target <= {TARGET_OVERHEAD_S} s   {verdict(over_ok)}   "
              f"({load_average()} at the end; above the core count, wall times "
              "stretch with it)")
        print(f"  CPU time of pepr-gate run --no-store -- true (user + system): "
              f"{median(pg_cpu[m]):.3f} s (barely moved by load; for information)")
        print(f"  ratio, job under pepr-gate / alone (metered window): "
              f"{ratio:.4f}   target <= {TARGET_RATIO}   {verdict(ratio <= TARGET_RATIO)}")
        print(f"  ratio, whole pepr-gate process / job alone: {whole:.4f} "
              f"(= window + fixed overhead; for information)")
        print(f"  sampling thread CPU: {cpu * 1000:.1f} ms over a {median(window[m]):.1f} s job "
              f"({cpu / median(window[m]):.3%} of one core)")
        print(f"  pepr-gate process peak RSS: {median(pg_rss[m]) / mib:.1f} MiB")
        print_breakdown(imports[m], median(pg_true[m]))
    imp = median(py_import) - median(py_bare)
    ok &= imp <= TARGET_IMPORT_S
    print(f"CLI import (import pepr_gate.cli minus bare python): {imp:.3f} s   "
          f"target <= {TARGET_IMPORT_S} s   {verdict(imp <= TARGET_IMPORT_S)}")
    if tracked:
        extra = median(tracked) - median(alone)
        extra_rss = (median(tracked_rss) - median(alone_rss)) / mib
        print(f"codecarbon OfflineEmissionsTracker (for comparison): +{extra:.3f} s wall, "
              f"+{extra_rss:.1f} MiB peak RSS over the job alone")
    if args.live_seconds > 0:
        from live_cost import report  # beside this script

        ok &= report(args.live_seconds, min(args.repeats, 3))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
