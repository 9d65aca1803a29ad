"""The `prometheus` meter against a real Prometheus scraping a DCGM-format test exporter.

Two nodes with two GPUs each (known, constant watts) and one CPU package each, scraped
every second. `pepr-gate run` meters a short job and its energy is compared with watts x
the run's duration. Without `prometheus` installed these tests skip, except in CI (`CI`
or PEPR_REQUIRE_PROMETHEUS=1), where that is a failure: .ci/run installs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from pepr_gate.config import PrometheusConfig
from pepr_gate.errors import ConfigError
from pepr_gate.measure.meter.base import MeterSession, Source, SourceResult, Window
from pepr_gate.measure.meter.prometheus import PrometheusSource
from pepr_gate.measure.meter.promql import node_of, resolve_nodes, selector
from pepr_gate.records import Component

try:
    from tests.prometheus_server import (
        CPU_METRIC,
        Exporter,
        PrometheusServer,
        free_port,
        prometheus_binary,
    )
except ImportError:
    from prometheus_server import (  # type: ignore[no-redef]
        CPU_METRIC,
        Exporter,
        PrometheusServer,
        free_port,
        prometheus_binary,
    )

GPU_WATTS = [[200.0, 300.0], [250.0, 350.0]]  # gpu-a1, gpu-a2
CPU_WATTS = 100.0
NODES = ["gpu-a1", "gpu-a2"]


def _require_prometheus() -> None:
    if prometheus_binary():
        return
    if os.environ.get("CI") or os.environ.get("PEPR_REQUIRE_PROMETHEUS") == "1":
        pytest.fail("prometheus is not installed but CI requires the Prometheus meter tests; "
                    "run them through .ci/run (it installs the Debian package)")
    pytest.skip("prometheus is not installed (apt-get install prometheus)")


@pytest.fixture(scope="module")
def exporter() -> Iterator[Exporter]:
    ex = Exporter.with_nodes(NODES, gpus=2, watts=0.0, cpu_watts=CPU_WATTS)
    for node, watts in zip(NODES, GPU_WATTS, strict=True):
        for gpu, w in zip(ex.nodes[node], watts, strict=True):
            gpu.watts = w
    ex.start()
    yield ex
    ex.stop()


@pytest.fixture(scope="module")
def prom(exporter: Exporter) -> Iterator[PrometheusServer]:
    _require_prometheus()
    server = PrometheusServer(exporter, interval_s=1.0)
    try:
        server.wait_for_series(4)
        server.wait_for_series(2, CPU_METRIC)
        yield server
    finally:
        server.close()


def config(folder: Path, url: str, nodes: str = '"env:SLURM_JOB_NODELIST"',
           extra: str = "") -> None:
    (folder / "pepr.toml").write_text(textwrap.dedent(f"""\
        [meter]
        kind = "prometheus"

        [meter.prometheus]
        url = "{url}"
        nodes = {nodes}
        node_label = "Hostname"
        cpu_energy = "{CPU_METRIC}"
        timeout_s = 5
        {extra}
        """), encoding="utf-8")


def run(folder: Path, seconds: float, *args: str,
        env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess[str], Any]:
    job = [sys.executable, "-c", f"import time; time.sleep({seconds})"]
    proc = subprocess.run(
        [sys.executable, "-m", "pepr_gate", "run", "--out", str(folder / "run.json"), *args,
         "--", *job],
        cwd=folder, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "SLURM_JOB_NODELIST": "gpu-a[1-2]", **(env or {})})
    record_file = folder / "run.json"
    record = json.loads(record_file.read_text()) if record_file.exists() else None
    return proc, record


def energy_j(record: Any, kind: str) -> float:
    return sum(c["energy_kwh"] * 3.6e6 for c in record["components"]
               if c["kind"] == kind and c["counts_toward_total"] and c["energy_kwh"])


def test_constant_power_is_metered_within_two_percent(
    prom: PrometheusServer, tmp_path: Path
) -> None:
    config(tmp_path, prom.url)
    proc, rec = run(tmp_path, 10, "--no-store")
    assert proc.returncode == 0, proc.stderr
    duration = rec["resources"]["duration_s"]
    gpu_known = sum(map(sum, GPU_WATTS)) * duration
    assert energy_j(rec, "gpu") == pytest.approx(gpu_known, rel=0.02)
    assert energy_j(rec, "cpu") == pytest.approx(2 * CPU_WATTS * duration, rel=0.02)
    total_known = gpu_known + 2 * CPU_WATTS * duration
    assert rec["resources"]["energy_kwh"] * 3.6e6 == pytest.approx(total_known, rel=0.02)
    assert rec["resources"]["energy_method"] == "measured"
    assert rec["meter"] == "prometheus" and not rec["low_confidence"]
    gpus = {c["name"]: c for c in rec["components"] if c["kind"] == "gpu"}
    assert len(gpus) == 4
    one = gpus["gpu-a2 GPU 1 NVIDIA H100 80GB HBM3"]
    assert one["energy_kwh"] * 3.6e6 == pytest.approx(350 * duration, rel=0.02)
    assert one["extra"]["node"] == "gpu-a2" and one["detail"] == "prometheus"
    note = next(n for n in rec["notes"] if n.startswith("energy from Prometheus"))
    assert prom.url in note and "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION" in note
    assert "on gpu-a1, gpu-a2 (6 series; gpu-a1 " in note
    assert "waited" in proc.stderr  # the wait for the scrape after the job is printed
    assert {g["uuid"] for g in rec["hardware"]["gpus"]} == {c["extra"]["uuid"]
                                                           for c in gpus.values()}


def test_a_counter_reset_during_the_run_is_counted_from_the_restart(
    prom: PrometheusServer, exporter: Exporter, tmp_path: Path
) -> None:
    config(tmp_path, prom.url)
    gpu = exporter.nodes["gpu-a2"][1]
    gpu.reset_at = time.time() + 3.0
    proc, rec = run(tmp_path, 6, "--no-store")
    assert proc.returncode == 0, proc.stderr
    duration = rec["resources"]["duration_s"]
    comp = next(c for c in rec["components"] if c["extra"].get("uuid") == gpu.uuid)
    assert comp["extra"]["resets"] == 1
    assert any("reset 1 time" in n for n in comp["notes"])
    # at most one scrape interval (1 s) of this GPU's energy is lost at the restart
    got = energy_j(rec, "gpu")
    known = sum(map(sum, GPU_WATTS)) * duration
    assert known - 1.5 * gpu.watts <= got <= known * 1.02
    assert rec["resources"]["energy_method"] == "measured"


def test_a_listed_node_without_series_makes_the_run_low_confidence(
    prom: PrometheusServer, tmp_path: Path
) -> None:
    config(tmp_path, prom.url, nodes='["gpu-a1", "gpu-a2", "gpu-b7"]')
    proc, rec = run(tmp_path, 3, "--no-store")
    assert proc.returncode == 0, proc.stderr
    assert "gpu-b7" in proc.stderr  # warned before the job started
    assert rec["low_confidence"] is True
    assert any("node gpu-b7: no DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION series" in n
               for n in rec["notes"])
    missing = [c for c in rec["components"] if c["extra"].get("node") == "gpu-b7"]
    assert {c["method"] for c in missing} == {"unavailable"}
    duration = rec["resources"]["duration_s"]
    assert energy_j(rec, "gpu") == pytest.approx(sum(map(sum, GPU_WATTS)) * duration, rel=0.02)


def test_a_scrape_gap_inside_the_run_is_named(
    prom: PrometheusServer, exporter: Exporter, tmp_path: Path
) -> None:
    config(tmp_path, prom.url)
    now = time.time()
    exporter.down["gpu-a2"] = (now + 2.5, now + 6.5)
    proc, rec = run(tmp_path, 8, "--no-store")
    assert proc.returncode == 0, proc.stderr
    assert rec["low_confidence"] is True
    gap_notes = [n for n in rec["notes"] if "no scrape for" in n]
    assert gap_notes and all(n.startswith("gpu-a2") for n in gap_notes)
    duration = rec["resources"]["duration_s"]  # the counters still give the energy
    assert energy_j(rec, "gpu") == pytest.approx(sum(map(sum, GPU_WATTS)) * duration, rel=0.02)


def test_a_rejected_query_stops_before_the_job(prom: PrometheusServer, tmp_path: Path) -> None:
    config(tmp_path, prom.url, extra="match = '{namespace=~\"ml}'")
    proc = subprocess.run(
        [sys.executable, "-m", "pepr_gate", "run", "--no-store", "--",
         sys.executable, "-c", "open('ran', 'w')"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "SLURM_JOB_NODELIST": "gpu-a[1-2]"})
    assert proc.returncode == 2, proc.stderr
    assert "rejected the query" in proc.stderr and "match" in proc.stderr
    assert not (tmp_path / "ran").exists()


def test_probe_lists_each_nodes_series_and_last_scrape(
    prom: PrometheusServer, tmp_path: Path
) -> None:
    config(tmp_path, prom.url, nodes='"env:NODES"')
    proc = subprocess.run(
        [sys.executable, "-m", "pepr_gate", "probe", "--prometheus", "--json"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "NODES": "gpu-a[1-2],gpu-b7"})
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)["prometheus"]
    assert found["reachable"] is True
    by_node = {n["node"]: n for n in found["nodes"]}
    assert list(by_node) == ["gpu-a1", "gpu-a2", "gpu-b7"]
    assert by_node["gpu-b7"]["ok"] is False and "gpu-b7" in found["hint"]
    series = by_node["gpu-a1"]["series"]
    assert len(series) == 3  # two GPUs and one CPU package
    assert all(0 <= s["age_s"] < 5 for s in series)
    table = subprocess.run(
        [sys.executable, "-m", "pepr_gate", "probe", "--prometheus"], cwd=tmp_path,
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "NODES": "gpu-a[1-2],gpu-b7", "COLUMNS": "200"})
    assert "GPU-0000aaaa" in table.stdout and "s ago" in table.stdout
    assert "no series for gpu-b7" in table.stdout
    # outside the allocation the variable is unset: every node with the metric is shown
    env = {k: v for k, v in os.environ.items() if k != "NODES"}
    outside = subprocess.run(
        [sys.executable, "-m", "pepr_gate", "probe", "--prometheus", "--json"], cwd=tmp_path,
        capture_output=True, text=True, timeout=60, check=False, env=env)
    found = json.loads(outside.stdout)["prometheus"]
    assert [n["node"] for n in found["nodes"]] == ["gpu-a1", "gpu-a2"]
    assert "NODES is not set" in found["nodes_note"]


def test_prometheus_stopped_mid_run_gives_unavailable_and_keeps_the_record(
    exporter: Exporter, tmp_path: Path
) -> None:
    _require_prometheus()
    server = PrometheusServer(exporter, interval_s=1.0)
    try:
        server.wait_for_series(4)
        config(tmp_path, server.url)
        threading.Timer(2.0, server.stop).start()
        proc, rec = run(tmp_path, 4)
    finally:
        server.close()
    assert proc.returncode == 0, proc.stderr
    assert rec["status"] == "ok"
    assert rec["resources"]["energy_kwh"] is None
    assert rec["resources"]["energy_method"] == "unavailable"
    assert rec["telemetry_ok"] is False
    comp = next(c for c in rec["components"] if c["kind"] == "gpu")
    assert comp["method"] == "unavailable" and "cannot reach Prometheus" in comp["reason"]
    assert (tmp_path / ".pepr" / "history.db").exists()  # stored too


def test_an_unreachable_server_warns_first_and_gives_unavailable(tmp_path: Path) -> None:
    config(tmp_path, f"http://127.0.0.1:{free_port()}")
    proc, rec = run(tmp_path, 0.2, "--no-store")
    assert proc.returncode == 0, proc.stderr
    assert "warning: cannot reach Prometheus" in proc.stderr
    assert rec["resources"]["energy_kwh"] is None
    assert rec["resources"]["energy_method"] == "unavailable"


def test_an_unset_nodelist_variable_is_bad_input(tmp_path: Path) -> None:
    config(tmp_path, "http://127.0.0.1:9")
    env = {k: v for k, v in os.environ.items() if k != "SLURM_JOB_NODELIST"}
    proc = subprocess.run([sys.executable, "-m", "pepr_gate", "run", "--no-store", "--", "true"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          check=False, env=env)
    assert proc.returncode == 2
    assert "SLURM_JOB_NODELIST is not set" in proc.stderr and "Traceback" not in proc.stderr


def test_the_meter_needs_its_table(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pepr_gate", "run", "--no-store", "--meter", "prometheus", "--",
         "true"], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert "[meter.prometheus]" in proc.stderr and "Traceback" not in proc.stderr


class LocalGpus(Source):
    """The launching node's NVML readings as NvmlSource would return them."""

    interval_s = 1.0

    def __init__(self, readings: dict[str, float]) -> None:
        self.readings = readings  # uuid -> joules
        self.calls: list[str] = []

    def start(self, t: float) -> None:
        self.calls.append("start")

    def sample(self, t: float, pids: frozenset[int]) -> None:
        self.calls.append("sample")

    def stop(self, t: float) -> None:
        self.calls.append("stop")

    def result(self, window: Window) -> SourceResult:
        return SourceResult(components=[
            Component(kind="gpu", name=f"GPU {i}", method="measured", detail="counter",
                      energy_kwh=j / 3.6e6, extra={"uuid": uuid})
            for i, (uuid, j) in enumerate(self.readings.items())])


def test_nvml_on_the_launching_node_is_a_cross_check_never_added(
    prom: PrometheusServer, exporter: Exporter
) -> None:
    cfg = PrometheusConfig(url=prom.url, nodes=["gpu-a1"], timeout_s=5)
    a1 = exporter.nodes["gpu-a1"]
    local = LocalGpus({a1[0].uuid: 0.0, "GPU-not-in-prometheus": 1.0})
    said: list[str] = []
    src = PrometheusSource(cfg, ["gpu-a1"], nvml=local, say=said.append)
    session = MeterSession([src])
    session.open()
    time.sleep(2.5)
    # NVML read 10 % more than the counters rose: the cross-check says so
    duration = time.monotonic() - session.t_start
    local.readings[a1[0].uuid] = a1[0].watts * duration * 1.1
    result = session.close(Window(session.t_start, session.t_start + duration))
    assert local.calls[0] == "start" and "sample" in local.calls and local.calls[-1] == "stop"
    known = sum(g.watts for g in a1) * duration
    assert result.energy_kwh is not None
    assert result.energy_kwh * 3.6e6 == pytest.approx(known, rel=0.02)  # NVML not added
    checks = [c for c in result.components if c.name.endswith("(NVML cross-check)")]
    assert len(checks) == 2 and not any(c.counts_toward_total for c in checks)
    assert any("+10" in n or "+9" in n or "+11" in n for n in checks[0].notes)
    assert any("no series for it" in n for n in checks[1].notes)


def test_slurm_hostlists_and_fqdn_labels() -> None:
    assert resolve_nodes("env:NL", {"NL": "gpu-a[1-2,7],cpu01"}) == [
        "gpu-a1", "gpu-a2", "gpu-a7", "cpu01"]
    assert resolve_nodes(["gpu-b[01-02]", "gpu-b01"], {}) == ["gpu-b01", "gpu-b02"]
    with pytest.raises(ConfigError, match="not a Slurm hostlist"):
        resolve_nodes("env:NL", {"NL": "gpu-a[1-"})
    assert node_of("gpu-a1.cluster.local", ["gpu-a1"]) == "gpu-a1"
    assert node_of("gpu-a10", ["gpu-a1"]) == "gpu-a10"
    sel = selector("M", "Hostname", ["gpu-a1", "n.2"], '{ namespace="ml", }')
    assert sel == 'M{Hostname=~`(gpu\\-a1|n\\.2)([.:].+)?`, namespace="ml"}'


@pytest.mark.parametrize("body", [b"<html>not prometheus</html>",
                                  b'{"status": "success", "data": {"result": [{"value": 1}]}}'])
def test_a_server_that_is_not_prometheus_gives_unavailable(tmp_path: Path, body: bytes) -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        config(tmp_path, f"http://127.0.0.1:{server.server_address[1]}")
        proc, rec = run(tmp_path, 0.2, "--no-store")
    finally:
        server.shutdown()
        server.server_close()
    assert proc.returncode == 0, proc.stderr
    assert rec["resources"]["energy_method"] == "unavailable"
    comp = next(c for c in rec["components"] if c["kind"] == "gpu")
    assert "Prometheus" in comp["reason"] and "base URL" in comp["hint"]


def _no_password_anywhere(folder: Path, *procs: subprocess.CompletedProcess[str]) -> None:
    for proc in procs:
        assert "hunter2" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    for path in folder.rglob("*"):
        if path.is_file():
            assert b"hunter2" not in path.read_bytes(), path  # the record, the SQLite store


def test_a_password_in_an_unreachable_url_is_never_shown_or_stored(tmp_path: Path) -> None:
    work = tmp_path
    config(work, f"http://user:hunter2@127.0.0.1:{free_port()}/")
    proc, rec = run(work, 0.2)
    assert proc.returncode == 0, proc.stderr
    assert "warning: cannot reach Prometheus at http://***@127.0.0.1" in proc.stderr
    assert rec["resources"]["energy_method"] == "unavailable"
    assert (work / ".pepr" / "history.db").exists()
    probes = [subprocess.run(
        [sys.executable, "-m", "pepr_gate", "probe", "--prometheus", *flag], cwd=work,
        capture_output=True, text=True, timeout=60, check=False, env={**os.environ,
                                                                      "COLUMNS": "300"})
        for flag in ([], ["--json"])]
    assert all(p.returncode == 0 for p in probes), [p.stderr for p in probes]
    assert json.loads(probes[1].stdout)["prometheus"]["url"].startswith("http://***@127.0.0.1")
    (work / "pepr.toml").unlink()  # the only file allowed to hold the password
    _no_password_anywhere(work, proc, *probes)


def test_a_password_in_a_reachable_url_stays_out_of_the_record(
    prom: PrometheusServer, tmp_path: Path
) -> None:
    config(tmp_path, prom.url.replace("http://", "http://user:hunter2@"))
    proc, rec = run(tmp_path, 2)
    assert proc.returncode == 0, proc.stderr
    assert rec["resources"]["energy_method"] == "measured"
    gpu = next(c for c in rec["components"] if c["kind"] == "gpu")
    assert gpu["extra"]["server"].startswith("http://***@127.0.0.1")
    assert any(n.startswith("energy from Prometheus http://***@") for n in rec["notes"])
    (tmp_path / "pepr.toml").unlink()
    _no_password_anywhere(tmp_path, proc)
