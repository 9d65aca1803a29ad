"""The prometheus meter against what real fleets serve: a real Prometheus scraping scripted
exporters (tests/prometheus_fleet.py) every 0.5 s, one node per case: split series across pod
label changes, a counter refreshed slower than the scrape, presets and units (Kepler's joules
and zones, Scaphandre's microjoules, node_exporter's `instance` label), and counters that are
negative, NaN, flat or falling. Each `pepr-gate run` meters a short sleep; the energy is
compared with the exporter's known power x the run's duration."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

try:
    from tests.prometheus_fleet import CPU_W, DCGM, GPU_W, REFRESH_S, SCENARIOS, Fleet
    from tests.prometheus_server import PrometheusServer, prometheus_binary
except ImportError:
    from prometheus_fleet import (  # type: ignore[no-redef]
        CPU_W,
        DCGM,
        GPU_W,
        REFRESH_S,
        SCENARIOS,
        Fleet,
    )
    from prometheus_server import PrometheusServer, prometheus_binary  # type: ignore[no-redef]

SCRAPE_S = 0.5


@pytest.fixture(scope="module")
def prom() -> Iterator[PrometheusServer]:
    if not prometheus_binary():
        if os.environ.get("CI") or os.environ.get("PEPR_REQUIRE_PROMETHEUS") == "1":
            pytest.fail("prometheus is not installed but CI requires the Prometheus tests")
        pytest.skip("prometheus is not installed (apt-get install prometheus)")
    fleet = Fleet().start()
    server = PrometheusServer(fleet, interval_s=SCRAPE_S, targets=fleet.targets())
    try:
        server.wait_for_series(len(SCENARIOS) - 1, DCGM)  # kepler-n1 has no DCGM series
        server.wait_for_series(1, "kepler_node_gpu_joules_total")
        server.wait_for_series(1, "scaph_host_energy_microjoules")
        yield server
    finally:
        server.close()
        fleet.stop()


def run(folder: Path, url: str, node: str, seconds: float = 5.0,
        extra: str = "") -> tuple[subprocess.CompletedProcess[str], Any]:
    (folder / "pepr.toml").write_text(textwrap.dedent(f"""\
        [meter]
        kind = "prometheus"
        gpu = false

        [meter.prometheus]
        url = "{url}"
        nodes = ["{node}"]
        timeout_s = 5
        """) + textwrap.dedent(extra), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "pepr_gate", "run", "--no-store", "--out", "run.json", "--",
         sys.executable, "-c", f"import time; time.sleep({seconds})"],
        cwd=folder, capture_output=True, text=True, timeout=120, check=False)
    rec = json.loads((folder / "run.json").read_text()) if (folder / "run.json").exists() else None
    return proc, rec


def joules(rec: Any, kind: str) -> float:
    return sum(c["energy_kwh"] * 3.6e6 for c in rec["components"]
               if c["kind"] == kind and c["counts_toward_total"] and c["energy_kwh"])


def notes(rec: Any) -> str:
    return "\n".join(rec["notes"])


def test_a_gpu_split_across_pod_labels_is_one_counter(prom: PrometheusServer,
                                                      tmp_path: Path) -> None:
    proc, rec = run(tmp_path, prom.url, "split-n1", seconds=7)
    assert proc.returncode == 0, proc.stderr
    duration = rec["resources"]["duration_s"]
    gpus = [c for c in rec["components"] if c["kind"] == "gpu"]
    assert len(gpus) == 1 and gpus[0]["extra"]["series"] >= 2
    assert joules(rec, "gpu") == pytest.approx(GPU_W * duration, rel=0.03)
    assert rec["resources"]["energy_method"] == "measured" and not rec["low_confidence"]
    assert "merged into one counter" in notes(rec)


def test_a_counter_refreshed_slower_than_the_scrape_is_flagged_and_not_smeared(
    prom: PrometheusServer, tmp_path: Path
) -> None:
    proc, rec = run(tmp_path, prom.url, "slow-n1", seconds=6)
    assert proc.returncode == 0, proc.stderr
    duration = rec["resources"]["duration_s"]
    # each value placed at the first scrape that shows it: off by at most one scrape per
    # edge at 300 W, where the flat steps alone would be off by up to a refresh period
    assert joules(rec, "gpu") == pytest.approx(GPU_W * duration, abs=2 * GPU_W * SCRAPE_S)
    assert joules(rec, "gpu") == pytest.approx(GPU_W * duration, rel=0.05)
    assert rec["low_confidence"]
    gpu = next(c for c in rec["components"] if c["kind"] == "gpu")
    assert gpu["coverage"] == 1.0, gpu["notes"]  # it waited for a new value after the end
    assert gpu["extra"]["refresh_s"] == pytest.approx(REFRESH_S, rel=0.2)
    assert "changes only every 2 s" in notes(rec)
    assert "the counter refreshes every 2 s" in proc.stderr


def test_kepler_preset_reads_joules_and_counts_the_package_zone_only(
    prom: PrometheusServer, tmp_path: Path
) -> None:
    proc, rec = run(tmp_path, prom.url, "kepler-n1", extra='exporter = "kepler"\n')
    assert proc.returncode == 0, proc.stderr
    duration = rec["resources"]["duration_s"]
    assert joules(rec, "gpu") == pytest.approx(GPU_W * duration, rel=0.03)
    assert joules(rec, "cpu") == pytest.approx(CPU_W["package"] * duration, rel=0.03)
    cpus = [c for c in rec["components"] if c["kind"] == "cpu" and c["method"] == "measured"]
    assert len(cpus) == 1 and cpus[0]["extra"]["unit"] == "J"
    assert "CPU zone 'core' not added (inside the 'package' zone)" in notes(rec)
    assert "CPU zone 'dram' not added" in notes(rec)
    assert not rec["low_confidence"]


def test_scaphandre_preset_reads_microjoules_by_the_instance_label(
    prom: PrometheusServer, tmp_path: Path
) -> None:
    proc, rec = run(tmp_path, prom.url, "scaph-n1", extra='exporter = "scaphandre"\n')
    assert proc.returncode == 0, proc.stderr
    duration = rec["resources"]["duration_s"]
    assert joules(rec, "gpu") == pytest.approx(GPU_W * duration, rel=0.03)
    assert joules(rec, "cpu") == pytest.approx(CPU_W["package"] * duration, rel=0.03)
    assert "scaph_host_energy_microjoules (uJ)" in notes(rec)


def test_node_preset_matches_an_fqdn_instance_with_a_port(
    prom: PrometheusServer, tmp_path: Path
) -> None:
    proc, rec = run(tmp_path, prom.url, "node-n1", extra='exporter = "node"\n')
    assert proc.returncode == 0, proc.stderr
    duration = rec["resources"]["duration_s"]
    assert joules(rec, "cpu") == pytest.approx(CPU_W["package"] * duration, rel=0.03)
    assert not rec["low_confidence"]


def test_a_unit_given_in_the_config_wins(prom: PrometheusServer, tmp_path: Path) -> None:
    # DCGM's mJ read as J: 1000x, and the record says which unit it used
    proc, rec = run(tmp_path, prom.url, "node-n1", extra='gpu_energy_unit = "J"\n')
    assert proc.returncode == 0, proc.stderr
    duration = rec["resources"]["duration_s"]
    assert joules(rec, "gpu") == pytest.approx(1000 * GPU_W * duration, rel=0.03)
    assert next(c for c in rec["components"] if c["kind"] == "gpu")["extra"]["unit"] == "J"


@pytest.mark.parametrize(("node", "why"), [
    ("neg-n1", "fewer than two valid samples"),
    ("nan-n1", "fewer than two valid samples"),
    ("flat-n1", "did not move during the run"),
    ("fall-n1", "not an energy counter"),
])
def test_a_counter_that_is_not_energy_is_never_measured(
    prom: PrometheusServer, tmp_path: Path, node: str, why: str
) -> None:
    proc, rec = run(tmp_path, prom.url, node, seconds=3)
    assert proc.returncode == 0, proc.stderr
    assert rec["resources"]["energy_method"] == "unavailable"
    assert rec["resources"]["energy_kwh"] is None
    gpu = next(c for c in rec["components"] if c["kind"] == "gpu")
    assert gpu["method"] == "unavailable" and why in gpu["reason"]
    assert rec["score"] is None or rec["score"]["pepr"] is None  # never the best score
