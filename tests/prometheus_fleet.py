"""Scripted exporters for what real fleets serve, each at `/s/<node>`, scraped by a real Prometheus.

Every counter rises at a known constant power from a "boot" value, computed from the wall
clock at scrape time, so a test knows the true energy of any window. Scenarios, one node each:

- `split-n1`: dcgm-exporter on Kubernetes: the GPU's series carries the pod holding it, and
  the pod label changes every `SPLIT_S` seconds (a new series each time).
- `slow-n1`: DCGM's counter refreshed every `REFRESH_S` seconds, scraped faster (the stock
  30 s refresh behind a 15 s scrape, shortened).
- `kepler-n1`: Kepler: GPU and CPU zones in joules, `node_name` label, overlapping zones
  (`package`, `core`, `uncore`, `dram`).
- `scaph-n1`: Scaphandre's host counter in microjoules, no node label (the scrape target's
  `instance` names the node as `host:port`), with DCGM beside it.
- `node-n1`: node_exporter's RAPL package counter in joules (`instance` label), DCGM beside it.
- `neg-n1`, `nan-n1`, `flat-n1`, `fall-n1`: a DCGM counter that is negative, NaN, never
  moves, or falls at every scrape.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DCGM = "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"
GPU_W = 300.0
CPU_W = {"package": 80.0, "core": 50.0, "uncore": 10.0, "dram": 15.0}
SPLIT_S = 3.0
REFRESH_S = 2.0
BOOT = 1_000_000.0  # joules on every counter at t = 0 (the epoch), plus power x t
SCENARIOS = ["split-n1", "slow-n1", "kepler-n1", "scaph-n1", "node-n1", "neg-n1", "nan-n1",
             "flat-n1", "fall-n1"]
INSTANCE = {"scaph-n1": "scaph-n1:8080", "node-n1": "node-n1.cluster.local:9100"}
T0 = time.time()


def joules(watts: float, t: float) -> float:
    return BOOT + watts * (t - T0)


def dcgm_line(node: str, mj: str, extra: str = "") -> str:
    return (f'{DCGM}{{gpu="0",UUID="GPU-{node}",modelName="NVIDIA H100 80GB HBM3",'
            f'Hostname="{node}"{extra}}} {mj}')


def page(node: str, t: float) -> str:
    mj = f"{joules(GPU_W, t) * 1000:.0f}"
    if node == "split-n1":
        return dcgm_line(node, mj, f',namespace="ml",pod="train-{int(t // SPLIT_S)}"')
    if node == "slow-n1":
        return dcgm_line(node, f"{joules(GPU_W, t // REFRESH_S * REFRESH_S) * 1000:.0f}")
    if node == "kepler-n1":
        lines = [f'kepler_node_gpu_joules_total{{gpu="0",node_name="{node}"}} '
                 f"{joules(GPU_W, t):.3f}"]
        lines += [f'kepler_node_cpu_joules_total{{zone="{z}",path="/sys/rapl",'
                  f'node_name="{node}"}} {joules(w, t):.3f}' for z, w in CPU_W.items()]
        return "\n".join(lines)
    if node == "scaph-n1":
        return (dcgm_line(node, mj) + "\n"
                f"scaph_host_energy_microjoules {joules(CPU_W['package'], t) * 1e6:.0f}")
    if node == "node-n1":
        return (dcgm_line(node, mj) + "\n"
                f'node_rapl_package_joules_total{{index="0",path="/sys/rapl:0"}} '
                f"{joules(CPU_W['package'], t):.6f}")
    if node == "neg-n1":
        return dcgm_line(node, f"{-joules(GPU_W, t) * 1000:.0f}")
    if node == "nan-n1":
        return dcgm_line(node, "NaN")
    if node == "flat-n1":
        return dcgm_line(node, f"{BOOT * 1000:.0f}")
    if node == "fall-n1":
        return dcgm_line(node, f"{max(0.0, 1e12 - joules(GPU_W, t) * 1000):.0f}")
    raise KeyError(node)


@dataclass
class Fleet:
    server: ThreadingHTTPServer | None = None

    def start(self) -> Fleet:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                node = self.path.rsplit("/", 1)[-1]
                try:
                    code, body = 200, page(node, time.time()) + "\n"
                except KeyError:
                    code, body = 404, "no such node\n"
                data = body.encode()
                self.send_response(code)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    @property
    def address(self) -> str:
        assert self.server is not None
        return f"127.0.0.1:{self.server.server_address[1]}"

    def targets(self) -> list[tuple[str, str, dict[str, str]]]:
        return [(node, f"/s/{node}", {"instance": INSTANCE[node]} if node in INSTANCE else {})
                for node in SCENARIOS]

