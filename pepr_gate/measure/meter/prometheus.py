"""Energy of a multi-node job from the cluster's Prometheus (DCGM exporter, node_exporter).

Before the job: one query checks the server, the selector and which nodes have series,
and estimates the scrape interval (a rejected query stops the run before it starts;
anything else is a warning). After the job: wait, bounded and printed, until every series
has a scrape later than the job's end; read every raw sample from a little before the
start to that scrape; take each series' counter increase over exactly the window
(`counters.py`); sum over series, one component per GPU (and CPU package) and node.

A listed node without series, a series not covering both ends of the window or a scrape
gap over two intervals makes the run low-confidence (named); an unreachable server or no
series makes the energy unavailable, never 0. NVML on this node is a cross-check only.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from itertools import pairwise

from pepr_gate import units
from pepr_gate.config import PrometheusConfig
from pepr_gate.errors import ConfigError
from pepr_gate.measure.meter.base import Source, SourceResult, Window
from pepr_gate.measure.meter.counters import CounterWindow, Increase
from pepr_gate.measure.meter.promql import Labels, PromClient, PromFailure, node_of, selector
from pepr_gate.measure.meter.promresult import cross_check, not_energy, series_notes, unavailable
from pepr_gate.measure.meter.promseries import (
    UNIT_PER_KWH,
    Device,
    Metric,
    Raw,
    Readings,
    Series,
    device_key,
    drop_inner_zones,
    keep_changes,
    label_int,
    merge,
    metric_specs,
    refresh_period,
)
from pepr_gate.records import Component, GpuInfo
from pepr_gate.redact import redact_url

FALLBACK_INTERVAL_S = 15.0  # Prometheus's default scrape interval, when none was seen
PROBE_RANGE_S = 150.0


def _stderr(line: str) -> None:
    print(f"pepr-gate: {line}", file=sys.stderr, flush=True)


class PrometheusSource(Source):
    name = "prometheus"

    def __init__(self, cfg: PrometheusConfig, nodes: list[str], *, nvml: Source | None = None,
                 say: Callable[[str], None] = _stderr) -> None:
        self.cfg, self.nodes, self.nvml, self.say = cfg, nodes, nvml, say
        self.client = PromClient(cfg.url, cfg.timeout_s)
        self.shown_url = redact_url(cfg.url)  # the only form a message or record may carry
        self.metrics = [Metric(m, selector(m.name, m.node_label, nodes, cfg.match))
                        for m in metric_specs(cfg)]
        self.interval_s = nvml.interval_s if nvml is not None else None
        self.scrape_interval_s: float | None = None
        self.refresh_s: float | None = None  # a counter refreshing slower than the scrape
        self._offset = time.time() - time.monotonic()
        self._preflight()

    def _preflight(self) -> None:
        """Check the server and the selector before the job; only a rejected query stops it."""
        try:
            seen = {m.kind: list(self.client.samples(m.sel, time.time() - PROBE_RANGE_S,
                                                     time.time(), 1.0)) for m in self.metrics}
        except PromFailure as f:
            if f.rejected:
                raise ConfigError(f.reason, hint=f.hint) from None
            self.say(f"warning: {f.reason}; the job runs, but its energy will be unavailable "
                     f"unless the server answers when it ends (hint: {f.hint})")
            return
        spacings = sorted(b[0] - a[0] for _, vals in seen["gpu"] for a, b in pairwise(vals))
        if spacings:
            self.scrape_interval_s = spacings[len(spacings) // 2]
        periods = [p for _, vals in seen["gpu"]
                   if (p := refresh_period([t for t, _ in vals], [v for _, v in vals]))]
        self.refresh_s = max(periods) if periods else None
        for m in self.metrics:
            have = {node_of(dict(lab).get(m.spec.node_label, ""), self.nodes)
                    for lab, _ in seen[m.kind]}
            missing = [n for n in self.nodes if n not in have]
            if missing:
                self.say(f"warning: Prometheus has no {m.name} series for node(s) "
                         f"{', '.join(missing)} yet; run `pepr-gate probe --prometheus`")

    def start(self, t: float) -> None:
        self._offset = time.time() - time.monotonic()
        if self.nvml is not None:
            self.nvml.start(t)

    def sample(self, t: float, pids: frozenset[int]) -> None:
        if self.nvml is not None:
            self.nvml.sample(t, pids)

    def stop(self, t: float) -> None:
        if self.nvml is not None:
            self.nvml.stop(t)

    def result(self, window: Window) -> SourceResult:
        start, end = window.start + self._offset, window.end + self._offset
        try:
            readings = self._read(start, end)
        except PromFailure as f:
            res = unavailable(f.reason, f.hint)
        else:
            res = self._components(readings, start, end)
        finally:
            self.client.close()
        if self.nvml is not None:
            cross_check(res, self.nvml.result(window))
        return res

    def _wait(self, start: float, end: float) -> tuple[float, float]:
        """Wait until every series has a scrape after `end`; (seconds waited, bound).

        A run shorter than two scrape intervals has no whole interval inside it to tell
        its power at the end, so it waits for a second scrape: the interval after the run
        then tells the power outside it (counters.py).
        """
        scrape = self.scrape_interval_s or FALLBACK_INTERVAL_S
        interval = max(scrape, self.refresh_s or 0.0)
        scrapes = 2 if end - start < 2 * interval else 1
        # a slow refresh: the first new value after the end comes up to a refresh period
        # later and is seen at the next scrape after that
        late = interval + scrape if self.refresh_s else 0.0
        target = end + (scrapes - 1) * interval + late
        bound = (scrapes + 1) * interval + late + 5.0
        t0 = time.time()

        def done() -> bool:
            latest = [v for m in self.metrics for v in self.client.latest(m.sel).values()]
            return bool(latest) and min(latest) > target

        if done():
            return 0.0, bound
        self.say(f"waiting up to {bound:.0f} s for Prometheus to scrape the nodes "
                 f"{'twice ' if scrapes == 2 else ''}after the job ended ("
                 + (f"the counter refreshes every {self.refresh_s:.3g} s" if self.refresh_s
                    else f"scrape interval {interval:g} s") + ")")
        while time.time() - t0 < bound:
            time.sleep(min(0.25, interval / 4))
            if done():
                break
        waited = time.time() - t0
        self.say(f"waited {waited:.1f} s for Prometheus's scrape after the job")
        return waited, bound

    def _read(self, start: float, end: float) -> Readings:
        waited, bound = self._wait(start, end)
        out = Readings(waited_s=waited, wait_bound_s=bound)
        interval = self.scrape_interval_s or FALLBACK_INTERVAL_S
        lo, hi = start - max(10.0, 3 * interval), time.time()
        for m in self.metrics:
            raws: dict[Labels, Raw] = {}
            for labels, values in self.client.samples(m.sel, lo, hi, interval):
                raws.setdefault(labels, Raw(labels)).extend(values)
            devices = self._devices(m, list(raws.values()))
            if m.kind == "cpu":
                out.notes.extend(drop_inner_zones(devices))
            out.series.extend(Series(m, d) for d in devices)
        if not any(s.metric.kind == "gpu" for s in out.series):
            raise PromFailure(
                f"Prometheus at {self.shown_url} has no {self.cfg.gpu_energy} series for "
                f"{', '.join(self.nodes)} ({self.metrics[0].spec.node_label} label"
                f"{', match ' + self.cfg.match if self.cfg.match else ''}) during the run",
                "run `pepr-gate probe --prometheus` to see which series exist; check nodes, "
                "node_label and match in [meter.prometheus]")
        return out

    def _devices(self, m: Metric, raws: list[Raw]) -> list[Device]:
        """One device per node and GPU (or CPU zone): its series merged, cleaned."""
        groups: dict[tuple[str, str], list[Raw]] = {}
        for raw in raws:
            lab = dict(raw.labels)
            node = node_of(lab.get(m.spec.node_label, ""), self.nodes)
            groups.setdefault((node, device_key(m.kind, lab)), []).append(raw)
        devices = [merge(node, key, parts) for (node, key), parts in groups.items()
                   if any(p.t for p in parts)]
        for d in devices:
            d.refresh_s = refresh_period(d.t, d.v)
            if d.refresh_s:
                keep_changes(d)
        return devices

    def _components(self, readings: Readings, start: float, end: float) -> SourceResult:
        res = SourceResult(notes=list(readings.notes))
        for s in readings.series:
            res.notes.extend(f"{s.title}: {n}" for n in series_notes(s.dev))
            res.components.append(self._component(s, res, start, end))
            if s.metric.kind == "gpu":
                res.gpus.append(GpuInfo(name=s.label("modelName") or "GPU", uuid=s.label("UUID")
                                        or None, index=label_int(s.label("gpu"))))
                res.driver_version = res.driver_version or s.label("DCGM_FI_DRIVER_VERSION") or None
        self._missing_nodes(readings, res)
        per_node: dict[str, float] = {}
        for c in res.components:
            if c.energy_kwh is not None:
                node = str(c.extra["node"])
                per_node[node] = per_node.get(node, 0.0) + c.energy_kwh
        res.notes.append(f"energy from Prometheus {self.shown_url}: " + " + ".join(
                         f"{m.name} ({m.spec.unit})" for m in self.metrics)
                         + f" on {', '.join(sorted(per_node)) or 'no node'} "
                         f"({len(readings.series)} series; "
                         + ", ".join(f"{n} {units.energy(e)}" for n, e in sorted(per_node.items()))
                         + f"); waited {readings.waited_s:.1f} s (bound "
                         f"{readings.wait_bound_s:.0f} s) for the scrape after the job")
        return res

    def _missing_nodes(self, readings: Readings, res: SourceResult) -> None:
        for m in self.metrics:
            have = {s.node for s in readings.series if s.metric is m}
            for node in (n for n in self.nodes if n not in have):
                res.low_confidence = True
                why = f"node {node}: no {m.name} series in Prometheus during the run"
                res.notes.append(f"{why}; its {m.kind.upper()}s are not in the total")
                res.components.append(Component(
                    kind="gpu" if m.kind == "gpu" else "cpu", name=f"{node} ({m.kind})",
                    method="unavailable", detail="prometheus", reason=why, coverage=0.0,
                    scope="whole-device" if m.kind == "gpu" else "whole-socket",
                    hint="check that the node runs the exporter and that its series carry "
                         f"{m.spec.node_label}=\"{node}\" (`pepr-gate probe --prometheus`)",
                    extra={"node": node, "metric": m.name}))

    def _component(self, s: Series, res: SourceResult, start: float, end: float) -> Component:
        acc = CounterWindow(start, end)
        for t, v in zip(s.dev.t, s.dev.v, strict=True):
            acc.add(t, v)
        inc = acc.result()
        notes = self._window_notes(s, inc, res, start)
        if s.dev.invalid or s.dev.refresh_s:
            res.low_confidence = True
        kind = "gpu" if s.metric.kind == "gpu" else "cpu"
        scope = "whole-device" if kind == "gpu" else "whole-socket"
        extra = {"node": s.node, "device": s.device, "metric": s.metric.name,
                 "unit": s.metric.spec.unit, "server": self.shown_url, "samples": inc.samples,
                 "scrape_interval_s": inc.interval_s, "resets": inc.resets,
                 "gaps_s": [round(g.length_s, 3) for g in inc.gaps], "series": s.dev.series,
                 "refresh_s": s.dev.refresh_s, "invalid_samples": s.dev.invalid,
                 "uuid": s.label("UUID") or None}
        problem = not_energy(inc, s.metric.kind)
        if problem:
            res.low_confidence = True
            res.notes.append(f"{s.title}: {problem}; not counted")
            return Component(kind=kind, name=s.title, method="unavailable", detail="prometheus",
                             reason=problem, coverage=0.0, scope=scope, notes=notes, extra=extra,
                             hint="check the exporter on that node: `pepr-gate probe "
                                  "--prometheus` shows each series' last scrape")
        window = acc.end - acc.start
        covered = window - inc.head_missing_s - inc.tail_missing_s
        return Component(
            kind=kind, name=s.title, method="measured", detail="prometheus", notes=notes,
            energy_kwh=inc.increase / UNIT_PER_KWH[s.metric.spec.unit], scope=scope,
            coverage=round(max(0.0, covered) / window, 4) if window > 0 else None, extra=extra)

    @staticmethod
    def _window_notes(s: Series, inc: Increase, res: SourceResult, start: float) -> list[str]:
        notes: list[str] = []
        if inc.resets:
            notes.append(f"counter reset {inc.resets} time(s) (exporter or driver restart); "
                         "counted from each restart")
        for gap in inc.gaps:
            res.low_confidence = True
            notes.append(f"no scrape for {gap.length_s:.1f} s from +{gap.start - start:.1f} s "
                         f"(scrape interval {inc.interval_s:g} s); a reset inside it would go "
                         "unseen")
        for edge, missing in (("start", inc.head_missing_s), ("end", inc.tail_missing_s)):
            if missing > 0:
                res.low_confidence = True
                notes.append(f"no sample at or {'before' if edge == 'start' else 'after'} the "
                             f"run's {edge}: {missing:.1f} s of the run are not counted")
        res.notes.extend(f"{s.title}: {n}" for n in notes if n.startswith(("no scrape",
                                                                             "no sample")))
        return notes
