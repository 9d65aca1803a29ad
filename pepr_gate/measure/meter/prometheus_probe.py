"""`pepr-gate probe --prometheus`: per node, which energy series exist and their last scrape.

Reads `[meter.prometheus]` like the meter does. When the node list cannot be resolved
here (`env:SLURM_JOB_NODELIST` outside an allocation), it shows every node that has the
metric instead, so the probe also works from a login node.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from pepr_gate.config import PrometheusConfig
from pepr_gate.errors import ConfigError
from pepr_gate.measure.meter.promql import PromClient, PromFailure, node_of, resolve_nodes, selector
from pepr_gate.measure.meter.promseries import MetricSpec, metric_specs
from pepr_gate.redact import redact_url


def probe_prometheus(cfg: PrometheusConfig, env: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"url": redact_url(cfg.url), "node_label": cfg.node_label,
                           "match": cfg.match, "reachable": False, "nodes": [], "other_nodes": []}
    nodes: list[str] | None
    try:
        nodes = resolve_nodes(cfg.nodes, env)
    except ConfigError as exc:
        nodes = None
        out["nodes_note"] = f"{exc.message}; showing every node that has the metrics"
    client = PromClient(cfg.url, cfg.timeout_s)
    found: dict[str, list[dict[str, Any]]] = {}
    try:
        for spec in metric_specs(cfg):
            _series(client, cfg, nodes, spec, found)
            if nodes:
                out["other_nodes"] = sorted({*out["other_nodes"], *_others(
                    client, spec.node_label, nodes, spec.name)})
    except PromFailure as f:
        out.update(reason=f.reason, hint=f.hint)
        return out
    finally:
        client.close()
    out["reachable"] = True
    out["other_nodes"] = out["other_nodes"][:20]
    for node in nodes or sorted(found):
        series = sorted(found.get(node, []), key=lambda s: (s["metric"], s["device"]))
        out["nodes"].append({"node": node, "ok": bool(series), "series": series})
    missing = [n["node"] for n in out["nodes"] if not n["ok"]]
    if missing:
        out["hint"] = (f"no series for {', '.join(missing)}: check that the exporter runs there "
                       f"and that its series carry {cfg.node_label}=\"<node>\"")
    return out


def _series(client: PromClient, cfg: PrometheusConfig, nodes: list[str] | None,
            spec: MetricSpec, found: dict[str, list[dict[str, Any]]]) -> None:
    """Add each series of the metric with its last scrape to `found`, by node."""
    now = time.time()
    metric = spec.name
    sel = (selector(metric, spec.node_label, nodes, cfg.match) if nodes
           else f"{metric}{(cfg.match or '{}').strip()}")
    for labels, last in client.latest(sel, at=now).items():
        lab = dict(labels)
        node = lab.get(spec.node_label, "")
        found.setdefault(node_of(node, nodes) if nodes else node, []).append({
            "metric": metric, "unit": spec.unit,
            "device": lab.get("UUID") or lab.get("gpu") or lab.get("index") or "",
            "gpu": lab.get("gpu"), "model": lab.get("modelName"),
            # a scrape stamped a little after our clock's now is 0 s old, never "-0 s"
            "last_scrape": last, "age_s": max(0.0, round(now - last, 1))})


def _others(client: PromClient, label: str, nodes: list[str], metric: str) -> set[str]:
    """Nodes that have `metric` but are not in the list (a naming mismatch shows here)."""
    answer = client.query(f"count by ({label}) ({metric})")
    names = {s.get("metric", {}).get(label, "") for s in answer}
    return {n for n in names if n and node_of(n, nodes) not in nodes}
