"""How close the `prometheus` meter comes to the known energy, and what its wait costs.

A real Prometheus (the Debian package) scrapes a DCGM-format test exporter
(tests/prometheus_server.py: 2 nodes x 2 GPUs) at 1 s and at 15 s. The GPUs idle at
IDLE W until the job starts, draw BUSY W while it works and fall back to idle when it
ends (the job switches them through the exporter), so the run's window has a power step at
both edges: the hard case for interpolating a counter between scrapes. Each cell runs
`pepr-gate run --meter prometheus` around a job of the given length, REPEATS times at
random phases against the scrape clock, and compares the recorded energy with the
exporter's exact integral over the run's window.

    python benchmarks/prometheus_meter.py [--repeats 3] [--intervals 1,15] [--jobs 5,10,60]

Prints one row per cell: mean and largest |error| (%), mean wait for the scrape after
the job (s), and the wall time pepr-gate added around the job (s).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from prometheus_server import Exporter, PrometheusServer  # noqa: E402

IDLE, BUSY = 60.0, 300.0
NODES = ["gpu-a1", "gpu-a2"]


def one_run(prom: PrometheusServer, exporter: Exporter, job_s: float,
            folder: Path) -> tuple[float, float, float]:
    """(error in %, wait in s, wall time added in s) of one metered job."""
    (folder / "pepr.toml").write_text(
        f'[meter]\nkind = "prometheus"\n[meter.prometheus]\nurl = "{prom.url}"\n'
        f'nodes = "env:SLURM_JOB_NODELIST"\ntimeout_s = 10\n', encoding="utf-8")
    base = f"http://{exporter.address}"
    job = ("import time, urllib.request as u; "
           f"u.urlopen('{base}/busy').read(); time.sleep({job_s}); "
           f"u.urlopen('{base}/idle').read()")
    out = folder / "run.json"
    exporter.switches.clear()
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "pepr_gate", "run", "--no-store", "--out", str(out), "--",
         sys.executable, "-c", job], cwd=folder, capture_output=True, text=True, check=False,
        env={**os.environ, "SLURM_JOB_NODELIST": "gpu-a[1-2]",
             "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"})
    wall = time.monotonic() - t0
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    rec = json.loads(out.read_text())
    duration = rec["resources"]["duration_s"]
    (t_busy, _), (t_idle, _) = exporter.switches
    gpus = sum(len(g) for g in exporter.nodes.values())
    busy_s = t_idle - t_busy
    known_j = gpus * (BUSY * busy_s + IDLE * (duration - busy_s))
    got_j = rec["resources"]["energy_kwh"] * 3.6e6
    note = next(n for n in rec["notes"] if n.startswith("energy from Prometheus"))
    wait = float(note.split("waited ")[1].split(" s")[0])
    return 100 * (got_j - known_j) / known_j, wait, wall - duration


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--intervals", default="1,15", help="scrape intervals, s")
    ap.add_argument("--jobs", default="5,10,60", help="job lengths, s")
    args = ap.parse_args(argv)
    rng = random.Random(15)
    print("scrape s | job s | runs | mean |err| % | max |err| % | mean wait s | added s")
    for interval in (float(x) for x in args.intervals.split(",")):
        exporter = Exporter.with_nodes(NODES, gpus=2, watts=IDLE)
        exporter.busy_watts, exporter.idle_watts = BUSY, IDLE
        exporter.start()
        prom = PrometheusServer(exporter, interval_s=interval)
        try:
            prom.wait_for_series(4, timeout=4 * interval + 60)
            for job_s in (float(x) for x in args.jobs.split(",")):
                rows = []
                for _ in range(args.repeats):
                    # idle for two scrape intervals (the power before a run is read from the
                    # interval before it), then a random phase against the scrapes
                    time.sleep(2 * interval + rng.uniform(0, interval))
                    with tempfile.TemporaryDirectory() as tmp:
                        rows.append(one_run(prom, exporter, job_s, Path(tmp)))
                errs = [abs(r[0]) for r in rows]
                print(f"{interval:8g} | {job_s:5g} | {len(rows):4d} | "
                      f"{statistics.mean(errs):13.2f} | {max(errs):12.2f} | "
                      f"{statistics.mean(r[1] for r in rows):11.1f} | "
                      f"{statistics.mean(r[2] for r in rows):7.1f}", flush=True)
        finally:
            prom.close()
            exporter.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
