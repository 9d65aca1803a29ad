"""Labelled estimates from codecarbon's offline data: CPU TDP, RAM power, grid intensity.

Only codecarbon's data files are read (found with `importlib.util.find_spec`, so its
package is never imported): no tracker, no network, no files written, and no
`.codecarbon.config` or `CODECARBON_*` variable can change these numbers.

CPU: codecarbon's TDP is per CPU package (socket). Each logical CPU gets its socket's
share, TDP x sockets / logical CPUs, and the job pays for the CPU time it used:
E = TDP x sockets x cpu_time / logical CPUs (one socket: TDP x utilisation x duration).
On a virtual machine the vCPUs are a slice of a host part whose thread count is unknown
(codecarbon's table has the TDP only), so a vCPU is costed at most the per-thread
fallback (4 W) and the reading is flagged.
RAM: pepr-gate's own model, not codecarbon's: codecarbon's 5 W per x86 memory module,
modules assumed 16 GB each (at least 2), times the job's share of RAM (peak RSS / total
RAM), times the duration.
"""

from __future__ import annotations

import csv
import functools
import importlib.util
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from pepr_gate.errors import ConfigError
from pepr_gate.measure.meter.base import LiveReading, Source, SourceResult, Window
from pepr_gate.measure.meter.process import ProcessSource
from pepr_gate.records import Component

WATTS_PER_THREAD_DEFAULT = 4.0  # codecarbon's fallback for CPUs missing from its table
WATTS_PER_RAM_MODULE = 5.0
RAM_MODULE_BYTES = 16 * 1024**3
J_PER_KWH = 3.6e6


def codecarbon_data_dir() -> Path | None:
    spec = importlib.util.find_spec("codecarbon")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _normalise(name: str) -> list[str]:
    name = re.sub(r"\((R|TM|r|tm)\)|®|™", " ", name)
    name = re.sub(r"@.*$", " ", name)
    name = re.sub(r"\b(CPU|Processor|\d+-Core|with Radeon.*)\b", " ", name, flags=re.I)
    return name.lower().split()


@functools.lru_cache(maxsize=8)
def _tdp_table(
    path: str, needles: tuple[str, ...]
) -> tuple[tuple[tuple[str, ...], str, float], ...]:
    # Normalising all ~5,000 names costs ~80 ms per run; a row can only match if its name
    # contains one of the model-number tokens (`needles`), so the rest are skipped unread.
    rows = []
    with open(path, encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if not any(n in (row.get("Name") or "").lower() for n in needles):
                continue
            try:
                rows.append((tuple(_normalise(row["Name"])), row["Name"], float(row["TDP"])))
            except (KeyError, ValueError):
                continue
    return tuple(rows)


@dataclass(frozen=True)
class Tdp:
    watts: float
    source: str


@functools.lru_cache(maxsize=8)  # once per process, not once per repeat
def lookup_tdp(cpu_model: str, threads: int) -> Tdp:
    """TDP of a CPU model from codecarbon's table; the longest full-token match wins."""
    data = codecarbon_data_dir()
    table_path = data / "hardware" / "cpu_power.csv" if data else None
    if table_path and table_path.is_file():
        tokens = _normalise(cpu_model)
        token_set = set(tokens)
        needles = tuple(sorted(t for t in token_set if any(ch.isdigit() for ch in t)))
        best: tuple[int, str, float] | None = None
        table = _tdp_table(str(table_path), needles) if needles else ()
        for name_tokens, name, tdp in table:
            has_model_number = any(any(ch.isdigit() for ch in t) for t in name_tokens)
            if name_tokens and has_model_number and set(name_tokens) <= token_set and (
                best is None or len(name_tokens) > best[0]
            ):
                best = (len(name_tokens), name, tdp)
        if best is not None:
            return Tdp(best[2], f"codecarbon cpu_power.csv: {best[1]} ({best[2]:g} W TDP)")
    watts = WATTS_PER_THREAD_DEFAULT * threads
    why = "not in codecarbon's CPU table" if table_path else "codecarbon's data not installed"
    return Tdp(watts, f"{cpu_model!r} {why}: {WATTS_PER_THREAD_DEFAULT:g} W x {threads} threads")


@dataclass(frozen=True)
class Intensity:
    g_per_kwh: float
    source: str


def carbon_intensity(country: str | None, explicit: float | None) -> Intensity:
    if explicit is not None:
        return Intensity(explicit, "config: carbon.intensity_g_per_kwh")
    data = codecarbon_data_dir()
    if data is None:
        if country:
            raise ConfigError(
                f"carbon.country = {country!r} needs codecarbon's offline data, "
                "which is not installed",
                hint="pip install codecarbon, or set carbon.intensity_g_per_kwh",
            )
        return Intensity(475.0, "world average 475 g/kWh (IEA 2019; codecarbon not installed)")
    if country:
        mix = json.loads((data / "private_infra" / "global_energy_mix.json").read_text("utf-8"))
        entry = mix.get(country)
        if entry is None or entry.get("carbon_intensity") is None:
            raise ConfigError(
                f"carbon.country = {country!r}: no carbon intensity for this ISO 3166 alpha-3 code "
                "in codecarbon's offline table",
                hint="check the code (e.g. DNK, USA, IND, KEN) or set carbon.intensity_g_per_kwh",
            )
        return Intensity(
            float(entry["carbon_intensity"]),
            f"codecarbon global_energy_mix: {entry.get('country_name', country)}, "
            f"{entry.get('year', 'year unknown')}",
        )
    per_source = data / "private_infra" / "carbon_intensity_per_source.json"
    avg = json.loads(per_source.read_text("utf-8"))
    value = float(avg["world_average"])
    return Intensity(value, f"world average {value:g} g/kWh (codecarbon; no carbon.country set)")


class EstimateSource(Source):
    """CPU and RAM energy estimates; counted only where nothing was measured."""

    name = "estimate"

    def __init__(
        self, cpu_model: str, threads: int, ram_bytes: int, process: ProcessSource | None = None,
        *, sockets: int = 1, vm: bool = False,
    ) -> None:
        self.cpu_model = cpu_model
        self.threads = max(1, threads)
        self.sockets = max(1, sockets)
        self.vm = vm
        self.ram_bytes = ram_bytes
        self.process = process  # its sampled tree peak gives the job's share of RAM

    def live(self, t: float) -> LiveReading | None:
        """The same model as the record, over the CPU seconds sampled so far."""
        points = self.process.cpu_points if self.process else []
        if not points:
            return None
        per_thread = self._per_thread()[0]
        watts = None
        if len(points) == 2 and points[1][0] > points[0][0]:
            (t0, c0), (t1, c1) = points
            watts = per_thread * max(0.0, c1 - c0) / (t1 - t0)
        return LiveReading("cpu", "estimated", watts, per_thread * points[-1][1])

    def _per_thread(self) -> tuple[float, str]:
        """Watts per busy logical CPU, and the model in words."""
        tdp = lookup_tdp(self.cpu_model, self.threads)
        per_thread = tdp.watts * self.sockets / self.threads
        model = (f"TDP x sockets / logical CPUs = {tdp.watts:g} W x {self.sockets} / "
                 f"{self.threads} = {per_thread:.2f} W per busy CPU; TDP from {tdp.source}")
        if self.vm:
            if per_thread > WATTS_PER_THREAD_DEFAULT:
                per_thread = WATTS_PER_THREAD_DEFAULT
                model += (f"; a virtual machine: its {self.threads} vCPUs are a slice of the "
                          f"host's part, so each is capped at {WATTS_PER_THREAD_DEFAULT:g} W")
            else:
                model += "; a virtual machine: the host's part is unknown"
        return per_thread, model

    def result(self, window: Window) -> SourceResult:
        tdp = lookup_tdp(self.cpu_model, self.threads)
        per_thread, model = self._per_thread()
        cpu_j = per_thread * window.cpu_time_s
        modules = max(2, math.ceil(self.ram_bytes / RAM_MODULE_BYTES))
        rss = max(window.max_rss_single_bytes, self.process.peak_sum if self.process else 0)
        share = min(1.0, rss / self.ram_bytes) if self.ram_bytes else 0.0
        ram_w = WATTS_PER_RAM_MODULE * modules * share
        ram_j = ram_w * window.duration_s
        util = window.cpu_time_s / (window.duration_s * self.threads) if window.duration_s else 0.0
        return SourceResult(
            components=[
                Component(
                    kind="cpu",
                    name=self.cpu_model,
                    method="estimated",
                    detail="tdp-estimate",
                    energy_kwh=cpu_j / J_PER_KWH,
                    scope="job-share",
                    notes=[f"the job's CPU time x {model}"],
                    extra={"tdp_w": tdp.watts, "utilization": util, "threads": self.threads,
                           "sockets": self.sockets, "vm": self.vm,
                           "watts_per_cpu": per_thread},
                ),
                Component(
                    kind="ram",
                    name="RAM",
                    method="estimated",
                    detail="ram-estimate",
                    energy_kwh=ram_j / J_PER_KWH,
                    scope="job-share",
                    notes=[
                        f"pepr-gate's model: {WATTS_PER_RAM_MODULE:g} W per module (codecarbon's "
                        f"x86 figure) x {modules} modules of 16 GB x the job's share of RAM "
                        f"({share:.2%})"
                    ],
                    extra={"power_w": ram_w},
                ),
            ]
        )
