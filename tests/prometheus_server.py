"""A real Prometheus scraping a test exporter that speaks the DCGM exporter's text format.

`Exporter` is a local HTTP server: `/dcgm/<node>` serves
`DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION` (mJ since "boot", an integer, as DCGM reports it)
for each GPU of a node, rising at a known power (`/busy` and `/idle` switch it);
`/node/<node>` serves node_exporter's `node_rapl_package_joules_total` (J), without a node
label, as node_exporter does (Prometheus adds `Hostname` from the scrape
config, the relabelling docs/prometheus.md shows). Switches: a counter reset at a given
time, a node answering 503 for a while.

`PrometheusServer` runs the Debian package's `/usr/bin/prometheus` on a free loopback
port with a temporary storage folder and the given scrape interval.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

GPU_METRIC = "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"
CPU_METRIC = "node_rapl_package_joules_total"
BOOT_MJ = 4_000_000_000  # what the counters held when the exporter started


def prometheus_binary() -> str | None:
    return shutil.which("prometheus") or (
        "/usr/bin/prometheus" if os.access("/usr/bin/prometheus", os.X_OK) else None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Gpu:
    index: int
    uuid: str
    watts: float
    origin: float  # the counter holds `base_mj` here and rises at `watts` from then on
    base_mj: float = BOOT_MJ
    reset_at: float | None = None  # from then on the counter restarts from 0

    def mj(self, t: float) -> int:
        if self.reset_at is not None and t >= self.reset_at:
            return int(self.watts * (t - self.reset_at) * 1000)
        return int(self.base_mj + self.watts * (t - self.origin) * 1000)

    def set_watts(self, watts: float, t: float) -> None:
        self.base_mj += self.watts * (t - self.origin) * 1000
        self.origin, self.watts = t, watts


@dataclass
class Exporter:
    nodes: dict[str, list[Gpu]] = field(default_factory=dict)
    cpu_watts: float = 0.0  # per node, one package; 0: no CPU series
    down: dict[str, tuple[float, float]] = field(default_factory=dict)  # node -> 503 window
    busy_watts: float = 0.0  # GET /busy sets every GPU to this, GET /idle back to idle_watts
    idle_watts: float = 0.0
    switches: list[tuple[float, str]] = field(default_factory=list)  # (time, "busy"/"idle")
    _server: ThreadingHTTPServer | None = None

    @classmethod
    def with_nodes(cls, names: list[str], gpus: int, watts: float,
                   cpu_watts: float = 0.0) -> Exporter:
        now = time.time()
        nodes = {n: [Gpu(i, f"GPU-{k:02d}{i:02d}aaaa-bbbb-cccc-dddd-eeeeeeeeeeee", watts, now)
                     for i in range(gpus)] for k, n in enumerate(names)}
        return cls(nodes=nodes, cpu_watts=cpu_watts)

    @property
    def gpu_watts(self) -> float:
        return sum(g.watts for gpus in self.nodes.values() for g in gpus)

    def start(self) -> Exporter:
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                code, body = exporter.page(self.path, time.time())
                data = body.encode()
                self.send_response(code)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def address(self) -> str:
        assert self._server is not None
        return f"127.0.0.1:{self._server.server_address[1]}"

    def page(self, path: str, t: float) -> tuple[int, str]:
        kind, _, node = path.strip("/").partition("/")
        if kind in ("busy", "idle"):  # the benchmark's job says when its work starts and ends
            for gpu in (g for gpus in self.nodes.values() for g in gpus):
                gpu.set_watts(self.busy_watts if kind == "busy" else self.idle_watts, t)
            self.switches.append((t, kind))
            return 200, f"{kind}\n"
        if node not in self.nodes:
            return 404, "no such node\n"
        lo, hi = self.down.get(node, (0.0, 0.0))
        if lo <= t < hi:
            return 503, "exporter down\n"
        if kind == "node":
            return 200, (f"# HELP {CPU_METRIC} Current RAPL package value in joules\n"
                         f"# TYPE {CPU_METRIC} counter\n"
                         f'{CPU_METRIC}{{index="0",path="/sys/class/powercap/intel-rapl:0"}} '
                         f"{1e6 + self.cpu_watts * t:.6f}\n")
        lines = [f"# HELP {GPU_METRIC} Total energy consumption since boot (in mJ).",
                 f"# TYPE {GPU_METRIC} counter"]
        for g in self.nodes[node]:
            lines.append(
                f'{GPU_METRIC}{{gpu="{g.index}",UUID="{g.uuid}",device="nvidia{g.index}",'
                f'modelName="NVIDIA H100 80GB HBM3",Hostname="{node}",'
                f'DCGM_FI_DRIVER_VERSION="550.54.15"}} {g.mj(t)}')
        return 200, "\n".join(lines) + "\n"


class PrometheusServer:
    """`prometheus` on a free loopback port, scraping every node's DCGM and node pages."""

    def __init__(self, exporter: Exporter | Any, interval_s: float = 1.0,
                 targets: list[tuple[str, str, dict[str, str]]] | None = None) -> None:
        """`targets`: (job name, metrics path, target labels) scraped at `exporter.address`
        instead of one DCGM (and node) job per node of `exporter.nodes`."""
        binary = prometheus_binary()
        if binary is None:
            raise RuntimeError("prometheus is not installed (apt-get install prometheus)")
        self.exporter = exporter
        self.interval_s = interval_s
        self.dir = Path(tempfile.mkdtemp(prefix="pepr-prom-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        jobs = []
        for name, path, labels in targets or []:
            extra = f"\n        labels: {json.dumps(labels)}" if labels else ""
            jobs.append(f"""  - job_name: {name}
    metrics_path: {path}
    static_configs:
      - targets: ["{exporter.address}"]{extra}""")
        for node in [] if targets else exporter.nodes:
            for kind in ("dcgm", "node") if exporter.cpu_watts else ("dcgm",):
                labels = f"\n        labels: {{Hostname: {node}}}" if kind == "node" else ""
                jobs.append(f"""  - job_name: {kind}-{node}
    metrics_path: /{kind}/{node}
    static_configs:
      - targets: ["{exporter.address}"]{labels}""")
        timeout = min(interval_s * 0.9, 10.0)
        (self.dir / "prometheus.yml").write_text(
            f"global:\n  scrape_interval: {round(interval_s * 1000)}ms\n"
            f"  scrape_timeout: {round(timeout * 1000)}ms\n"
            "scrape_configs:\n" + "\n".join(jobs) + "\n")
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = self.dir / "prometheus.log"
        self.start()

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [prometheus_binary() or "prometheus",
                 f"--config.file={self.dir / 'prometheus.yml'}",
                 f"--storage.tsdb.path={self.dir / 'data'}",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
                stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"prometheus exited: {self.log.read_text()[-2000:]}")
            time.sleep(0.1)
        raise RuntimeError(f"prometheus did not become ready: {self.log.read_text()[-2000:]}")

    def wait_for_series(self, count: int, metric: str = GPU_METRIC, timeout: float = 60) -> None:
        """Until `count` series of `metric` have at least two samples each."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            r = httpx.get(f"{self.url}/api/v1/query",
                          params={"query": f"count_over_time({metric}[1h]) >= 2"}, timeout=5)
            if len(r.json()["data"]["result"]) >= count:
                return
            time.sleep(0.2)
        raise RuntimeError(f"Prometheus has fewer than {count} {metric} series after {timeout} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
