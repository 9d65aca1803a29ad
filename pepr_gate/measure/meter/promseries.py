"""Which Prometheus series count, in which unit, and what their samples are worth.

- Presets (`exporter = "dcgm" | "kepler" | "scaphandre" | "node"`) set each counter's metric,
  unit and node label; a key given in `[meter.prometheus]` wins over its preset.
- Units: `J`, `mJ`, `uJ`; unset, the unit is read from the metric's name (`..._joules_total`,
  `..._microjoules`) or, for DCGM's counter and unknown GPU names, mJ (J for CPU names).
- One device's counter may come as several series over a run: dcgm-exporter on Kubernetes
  labels it with the pod that holds the GPU, so the labels change when the job's pod starts.
  Series of one device (node and GPU UUID, or CPU zone and package) that follow each other
  in time are merged into one; two that overlap in time (one exporter scraped by two jobs)
  are one device read twice, counted once.
- Kepler's CPU zones overlap (`core` and `uncore` are inside `package`; `psys`/`platform`
  holds everything): only `package` counts where a node has it.
- A sample that is negative, NaN or infinite is no energy reading: dropped and named.
- A counter that refreshes slower than it is scraped (DCGM's 30 s default behind a 15 s
  scrape) shows flat steps; then one sample per value is kept, placed midway between the
  last scrape showing the old value and the first showing the new one (within half a
  scrape interval of when the exporter took it).
"""

from __future__ import annotations

import math
import statistics
from array import array
from dataclasses import dataclass, field
from itertools import pairwise

from pepr_gate.config import PrometheusConfig
from pepr_gate.measure.meter.promql import Labels

UNIT_PER_KWH = {"J": 3.6e6, "mJ": 3.6e9, "uJ": 3.6e12}
DCGM_GPU = ("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "mJ", "Hostname")
PRESETS: dict[str, dict[str, tuple[str, str, str]]] = {
    "dcgm": {"gpu": DCGM_GPU},
    "kepler": {"gpu": ("kepler_node_gpu_joules_total", "J", "node_name"),
               "cpu": ("kepler_node_cpu_joules_total", "J", "node_name")},
    "scaphandre": {"gpu": DCGM_GPU, "cpu": ("scaph_host_energy_microjoules", "uJ", "instance")},
    "node": {"gpu": DCGM_GPU, "cpu": ("node_rapl_package_joules_total", "J", "instance")},
}
SLOW_REFRESH = 1.5  # flat runs this many scrape intervals long (median): a slow refresh
INNER_ZONES = ("core", "uncore", "psys", "platform")  # counted inside "package" (Kepler)


@dataclass(frozen=True)
class MetricSpec:
    kind: str  # "gpu" or "cpu"
    name: str
    unit: str
    node_label: str
    unit_from: str  # "config", "preset" or "name": how the unit was chosen


def unit_from_name(name: str, kind: str) -> str:
    low = name.lower()
    if "microjoule" in low:
        return "uJ"
    if "millijoule" in low or name == DCGM_GPU[0]:
        return "mJ"
    if low.endswith(("_joules_total", "_joules")):
        return "J"
    return "mJ" if kind == "gpu" else "J"


def metric_specs(cfg: PrometheusConfig) -> list[MetricSpec]:
    """The GPU counter (always) and the CPU counter (when set or preset), resolved."""
    given = cfg.model_fields_set
    preset = PRESETS.get(cfg.exporter or "", {})
    out = []
    for kind in ("gpu", "cpu"):
        p = preset.get(kind)
        key = f"{kind}_energy"
        name = getattr(cfg, key) if key in given or p is None else p[0]
        if not name:
            continue
        unit, unit_from = getattr(cfg, f"{kind}_energy_unit"), "config"
        if unit is None and p is not None and name == p[0]:
            unit, unit_from = p[1], "preset"
        elif unit is None:
            unit, unit_from = unit_from_name(name, kind), "name"
        label = cfg.node_label if "node_label" in given or p is None else p[2]
        out.append(MetricSpec(kind, name, unit, label, unit_from))
    return out


def device_key(kind: str, lab: dict[str, str]) -> str:
    if kind == "gpu":
        return lab.get("UUID") or lab.get("uuid") or lab.get("gpu") or lab.get("device") or "?"
    part = lab.get("index") or lab.get("package") or lab.get("socket") or lab.get("path") or ""
    zone = lab.get("zone", "")
    return f"{zone}:{part}" if zone else (part or "?")


@dataclass
class Raw:
    """One series' samples, as read chunk by chunk."""

    labels: Labels
    t: array[float] = field(default_factory=lambda: array("d"))
    v: array[float] = field(default_factory=lambda: array("d"))

    def extend(self, values: list[tuple[float, float]]) -> None:
        for ts, val in values:
            if not self.t or ts > self.t[-1]:
                self.t.append(ts)
                self.v.append(val)


@dataclass
class Device:
    """One device's counter: its series merged in time order, cleaned."""

    node: str
    key: str
    labels: Labels  # the latest series' labels
    t: array[float]
    v: array[float]
    series: int = 1  # series merged into it
    duplicates: list[str] = field(default_factory=list)  # overlapping series not counted
    invalid: int = 0  # negative, NaN or infinite samples dropped
    refresh_s: float | None = None  # set when the counter refreshes slower than the scrape

    def label(self, key: str, default: str = "") -> str:
        return dict(self.labels).get(key, default)


def merge(node: str, key: str, parts: list[Raw]) -> Device:
    parts = sorted((p for p in parts if p.t), key=lambda p: p.t[0])
    first = parts[0]
    dev = Device(node, key, first.labels, array("d", first.t), array("d", first.v))
    for p in parts[1:]:
        if p.t[0] <= dev.t[-1]:  # overlaps what is merged: the same device read twice
            dev.duplicates.append(str(dict(p.labels)))
            continue
        dev.t.extend(p.t)
        dev.v.extend(p.v)
        dev.labels, dev.series = p.labels, dev.series + 1
    _drop_invalid(dev)
    return dev


def _drop_invalid(dev: Device) -> None:
    keep = [i for i, v in enumerate(dev.v) if math.isfinite(v) and v >= 0]
    dev.invalid = len(dev.v) - len(keep)
    if dev.invalid:
        dev.t = array("d", (dev.t[i] for i in keep))
        dev.v = array("d", (dev.v[i] for i in keep))


def refresh_period(t: array[float] | list[float], v: array[float] | list[float]) -> float | None:
    """The median time between value changes, when it is SLOW_REFRESH x the scrape or more."""
    if len(t) < 4:
        return None
    spacing = statistics.median(b - a for a, b in pairwise(t))
    changes = [t[i] for i in range(1, len(v)) if v[i] != v[i - 1]]
    if len(changes) < 2:
        return None
    period = statistics.median(b - a for a, b in pairwise(changes))
    return period if period >= SLOW_REFRESH * spacing else None


def keep_changes(dev: Device) -> None:
    """One sample per value (a slow refresh's flat steps removed), placed midway between
    the last scrape that still showed the old value and the first that shows the new one:
    the exporter took it somewhere in between, so the placement is off by at most half a
    scrape interval, either way."""
    idx = [i for i in range(1, len(dev.v)) if dev.v[i] != dev.v[i - 1]]
    t, v = dev.t, dev.v
    dev.t = array("d", [t[0], *((t[i - 1] + t[i]) / 2 for i in idx)])
    dev.v = array("d", [v[0], *(v[i] for i in idx)])


def drop_inner_zones(devices: list[Device]) -> list[str]:
    """Remove CPU zones counted inside a node's `package` zone; the notes say which."""
    with_package = {d.node for d in devices if d.label("zone") == "package"}
    notes, keep = [], []
    for d in devices:
        zone = d.label("zone")
        if zone == "dram":
            notes.append(f"{d.node}: CPU zone 'dram' not added (memory is not measured)")
        elif d.node in with_package and zone in INNER_ZONES:
            notes.append(f"{d.node}: CPU zone {zone!r} not added (inside the 'package' zone)")
        else:
            keep.append(d)
    devices[:] = keep
    return notes


@dataclass
class Metric:
    spec: MetricSpec
    sel: str

    @property
    def kind(self) -> str:
        return self.spec.kind

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass
class Series:
    metric: Metric
    dev: Device

    @property
    def node(self) -> str:
        return self.dev.node

    def label(self, key: str, default: str = "") -> str:
        return self.dev.label(key, default)

    @property
    def device(self) -> str:
        if self.metric.kind == "gpu":
            return self.dev.key
        return self.dev.key.rpartition(":")[2] or self.dev.key

    @property
    def title(self) -> str:
        if self.metric.kind == "gpu":
            return f"{self.node} GPU {self.label('gpu', '?')} {self.label('modelName')}".strip()
        zone = self.label("zone")
        return f"{self.node} cpu {zone or 'package'} {self.device}"


@dataclass
class Readings:
    series: list[Series] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    waited_s: float = 0.0
    wait_bound_s: float = 0.0


def label_int(text: str) -> int | None:
    return int(text) if text.isdigit() else None
