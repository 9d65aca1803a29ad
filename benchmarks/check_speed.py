"""How fast `pepr-gate check` answers against a SQLite store holding 100,000 runs.

Fills a store (bulk insert through the store's `append_many`), then times the check of
the latest run of a feature branch against `main`: in-process `run_check`, and the CLI as a
subprocess (interpreter start included). Target: <= 0.5 s.

    .venv/bin/python benchmarks/check_speed.py [--runs 100000] [--db PATH]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from pepr_gate.config import Config
from pepr_gate.records import (
    GitInfo,
    GpuInfo,
    Hardware,
    Performance,
    Resources,
    RunRecord,
)
from pepr_gate.services.check import run_check
from pepr_gate.store import open_store

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
BRANCHES = ["main"] * 10 + [f"feature/{i}" for i in range(40)]
FINGERPRINTS = ["hw-a100", "hw-h100", "hw-laptop"]


def make_runs(start: int, n: int, rng: random.Random) -> list[RunRecord]:
    template = RunRecord(
        id="t", created_at=T0, status="ok", stages=[],
        performance=Performance(name="accuracy", value=0.9),
        resources=Resources(energy_kwh=0.01, energy_method="measured", duration_s=60.0),
        hardware=Hardware(cpu_model="bench", cpu_count=16, ram_bytes=2**36, platform="linux",
                          gpus=[GpuInfo(index=0, name="NVIDIA A100")], fingerprint="hw-a100"),
        git=GitInfo(branch="main"), config_hash="cfg-bench",
    )
    out = []
    for i in range(start, start + n):
        branch = rng.choice(BRANCHES)
        out.append(template.model_copy(update={
            "id": f"run-{i:06d}",
            "created_at": T0 + timedelta(minutes=i),
            "status": "ok" if rng.random() > 0.05 else "failed",
            "performance": Performance(name="accuracy", value=0.9 * (1 + rng.gauss(0, 0.02))),
            "resources": Resources(energy_kwh=0.01 * (1 + rng.gauss(0, 0.03)),
                                   energy_method="measured", duration_s=60.0),
            "hardware": template.hardware.model_copy(
                update={"fingerprint": rng.choice(FINGERPRINTS)}),
            "git": GitInfo(branch=branch, sha=f"{i:040x}"),
        }))
    return out


def fill(db: Path, n: int) -> None:
    rng = random.Random(7)
    t = time.perf_counter()
    with open_store(f"sqlite:///{db}") as store:
        batch = 10_000
        for start in range(0, n, batch):
            runs = make_runs(start, min(batch, n - start), rng)
            store.append_many(runs)  # type: ignore[attr-defined]
    print(f"filled {db} with {n} runs in {time.perf_counter() - t:.1f} s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=100_000)
    ap.add_argument("--db", type=Path, default=None)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    db = args.db or Path(tempfile.mkdtemp(prefix="pepr-bench-")) / "history.db"
    if not db.exists():
        fill(db, args.runs)
    url = f"sqlite:///{db}"
    head = "feature/3"
    inproc = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        result = run_check(Config(), candidate_latest=True, head_branch=head, store_url=url)
        inproc.append(time.perf_counter() - t)
    env = {**os.environ, "GITHUB_HEAD_REF": head, "GITHUB_BASE_REF": "main"}
    cli = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "pepr_gate", "check", "--store", url],
                              env=env, capture_output=True, text=True, check=False)
        cli.append(time.perf_counter() - t)
        if proc.returncode not in (0, 1):
            print(proc.stderr, file=sys.stderr)
            return 2
    used = len(result.baseline.run_ids) if result.baseline else 0
    print(f"verdict {result.verdict}; baseline {used} runs, "
          f"noise history {len(result.noise_run_ids)} runs")
    print("| what | median | max |")
    print("| --- | ---: | ---: |")
    print(f"| run_check in-process | {statistics.median(inproc):.3f} s | {max(inproc):.3f} s |")
    print(f"| `pepr-gate check` subprocess | {statistics.median(cli):.3f} s | {max(cli):.3f} s |")
    ok = statistics.median(cli) <= 0.5
    print(f"target <= 0.5 s for the CLI: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
