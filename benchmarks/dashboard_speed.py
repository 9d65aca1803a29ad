"""How fast the dashboard is built and drawn, for 1,000 and 50,000 runs.

Prints, per size: the build time (run records -> every file of the site on disk), the
page size, and in headless Chromium the time to the first chart (from navigation start)
and to show the next page of 500 older runs.
Targets: build <= 2 s and first chart <= 1.5 s for 50,000 runs.

With --store it instead times the whole `pepr-gate dashboard` CLI over SQLite,
PostgreSQL and git stores of 1,000 / 20,000 / 100,000 runs (wall time, peak memory),
beside `pepr-gate check` on the same store (benchmarks/dashboard_stores.py).
Targets: 100,000 runs in <= 2 s and <= 250 MB on every store.

    .venv/bin/python benchmarks/dashboard_speed.py [--sizes 1000 50000]
    .venv/bin/python benchmarks/dashboard_speed.py --store [--sizes 1000 20000 100000]
        [--postgres-url URL (default: $PEPR_TEST_POSTGRES_URL)] [--repeat 3]
    .venv/bin/python benchmarks/dashboard_speed.py --screenshot docs/img/dashboard.png

--screenshot draws the docs' picture from a made-up 300-run history (three branches,
estimated runs, verdicts and an energy budget) instead of timing anything.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from pepr_gate.config import Config
from pepr_gate.publish.dashboard.data import Verdict
from pepr_gate.publish.dashboard.site import render_site, write_site
from pepr_gate.records import (
    GitInfo,
    GpuInfo,
    Hardware,
    Normalization,
    Performance,
    Resources,
    RunRecord,
    Score,
    Stage,
)
from pepr_gate.services.dashboard import make_site

T0 = datetime(2025, 1, 6, 9, 0, tzinfo=timezone.utc)
HARDWARE = Hardware(cpu_model="AMD EPYC 7763", cpu_count=64, ram_bytes=512 * 2**30,
                    platform="Linux-6.8", gpus=[GpuInfo(index=0, name="NVIDIA A100-SXM4-80GB")],
                    fingerprint="hw-a100")
SCALE = 0.05  # kWh


def make_runs(n: int, branches: list[str], rng: random.Random, *, start: int = 0,
              total: int | None = None) -> list[RunRecord]:
    """`n` runs, numbered from `start` of a history of `total` (default n) runs."""
    runs = []
    total = total or n
    for i in range(start, start + n):
        branch = branches[0] if rng.random() < 0.7 else rng.choice(branches)
        estimated = rng.random() < 0.15
        drift = 0.004 * math.sin(i / 40)
        energy = max(0.005, rng.gauss(0.024 + drift + (0.004 if branch != branches[0] else 0),
                                      0.004 if estimated else 0.0012))
        accuracy = min(0.99, rng.gauss(0.915 + i / total * 0.02, 0.004))
        r_value = min(energy / SCALE, 1.0)
        duration = energy / 0.3 * 3600 * rng.uniform(0.95, 1.05)
        runs.append(RunRecord(
            id=f"{T0 + timedelta(hours=i):%Y%m%dT%H%M%SZ}-{i:06x}",
            created_at=T0 + timedelta(hours=i), status="ok",
            stages=[Stage(name="train", argv=["python", "train.py"], exit_code=0,
                          duration_s=duration)],
            performance=Performance(name="accuracy", value=accuracy),
            resources=Resources(energy_kwh=energy,
                                energy_method="estimated" if estimated else "measured",
                                carbon_kg=energy * 0.38, duration_s=duration,
                                gpu_peak_memory_bytes=int(rng.gauss(31e9, 5e8))),
            hardware=HARDWARE, git=GitInfo(sha=f"{rng.getrandbits(160):040x}", branch=branch),
            config_hash="cfg-bench",
            score=Score(variant="PePR-E", resource="energy", resource_value=energy, R=r_value,
                        pepr=accuracy / (1 + r_value),
                        normalization=Normalization(mode="scale", scale=SCALE)),
        ))
    return runs


def build(runs: list[RunRecord], out: Path, config: Config,
          verdicts: dict[str, Verdict] | None = None, stamp: datetime | None = None) -> float:
    start = time.perf_counter()
    site = make_site(runs, config, store="git:pepr-data", title="ResNet-50 · PePR history",
                     repo="https://github.com/octo/resnet", verdicts=verdicts)
    if stamp is not None:  # a fixed "built" time keeps the docs' picture the same
        site.generated_at = stamp
    write_site(render_site(site), out)
    return time.perf_counter() - start


def chromium() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1000", "--hide-scrollbars"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def open_page(driver: Any, site: Path) -> float:
    driver.get((site / "index.html").as_uri())
    deadline = time.monotonic() + 60
    while not driver.execute_script("return !!(window.peprDashboard && peprDashboard.ready)"):
        if time.monotonic() > deadline:
            raise SystemExit("the page did not finish drawing within 60 s")
        time.sleep(0.02)
    return float(driver.execute_script("return window.peprDashboard.firstChartMs")) / 1000


def page_turn(driver: Any) -> float:
    return float(driver.execute_script(
        "var t = performance.now(); document.getElementById('older').click();"
        "return performance.now() - t;")) / 1000


def size_of(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def screenshot(path: Path) -> None:
    rng = random.Random(7)
    runs = make_runs(300, ["main", "feature/mixed-precision", "feature/<b>wider</b>"], rng)
    main_runs = [r for r in runs if r.branch == "main"]
    verdicts = {main_runs[-1].id: Verdict("pass", "PePR-E within 5% of the base", ""),
                main_runs[-40].id: Verdict("fail", "PePR-E dropped 7.9% (threshold 5%)", ""),
                main_runs[-25].id: Verdict("warn", "PePR-E dropped 3.1%", ""),
                main_runs[-60].id: Verdict("inconclusive", "too noisy to decide", ""),
                main_runs[-90].id: Verdict("accepted", "label pepr-gate: accept", "")}
    config = Config.model_validate({"gate": {"budgets": {"energy_kwh": 0.032}}})
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        build(runs, site, config, verdicts, stamp=runs[-1].created_at + timedelta(hours=1))
        driver = chromium()
        try:
            driver.set_window_size(1280, 1000)
            open_page(driver, site)
            driver.execute_script(
                "var b = document.querySelector('#branch-list label:nth-child(2) input');"
                "b.click();")
            height = driver.execute_script("return document.documentElement.scrollHeight")
            driver.set_window_size(1280, min(int(height), 1500))
            path.parent.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(path))
        finally:
            driver.quit()
    print(f"screenshot written to {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+")
    parser.add_argument("--store", action="store_true",
                        help="time `pepr-gate dashboard` over SQLite, PostgreSQL and git "
                        "stores instead, beside `pepr-gate check`")
    parser.add_argument("--postgres-url", default=os.environ.get("PEPR_TEST_POSTGRES_URL"),
                        help="a PostgreSQL server for --store (default: "
                        "$PEPR_TEST_POSTGRES_URL; without one PostgreSQL is left out)")
    parser.add_argument("--repeat", type=int, default=3, help="builds and loads per size")
    parser.add_argument("--screenshot", type=Path, metavar="PNG")
    args = parser.parse_args(argv)
    if args.screenshot:
        screenshot(args.screenshot)
        return 0
    if args.store:
        from dashboard_stores import run_stores

        with tempfile.TemporaryDirectory() as tmp:
            met = run_stores(args.sizes or [1000, 20_000, 100_000], args.repeat,
                             args.postgres_url, Path(tmp))
        return 0 if met else 1
    args.sizes = args.sizes or [1000, 50_000]
    rng = random.Random(1)
    branches = ["main"] + [f"feature/{i}" for i in range(19)]
    print(f"{'runs':>7} {'build s':>8} {'page MB':>8} {'runs.js MB':>10} "
          f"{'first chart s':>13} {'next page s':>11}")
    driver = chromium()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for n in args.sizes:
                runs = make_runs(n, branches, rng)
                site = Path(tmp) / f"site{n}"
                builds = [build(runs, site, Config()) for _ in range(args.repeat)]
                loads = [open_page(driver, site) for _ in range(args.repeat)]
                turn = page_turn(driver)
                line = (f"{n:>7} {statistics.median(builds):>8.3f} "
                        f"{size_of(site) / 1e6:>8.2f} "
                        f"{(site / 'data' / 'runs.js').stat().st_size / 1e6:>10.2f} "
                        f"{statistics.median(loads):>13.3f} {turn:>11.3f}")
                print(line, flush=True)
    finally:
        driver.quit()
    print("medians of", args.repeat, "builds/loads; targets for 50,000 runs: build <= 2 s, "
          "first chart <= 1.5 s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
