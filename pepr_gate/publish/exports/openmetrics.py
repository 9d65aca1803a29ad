"""The newest run of each branch as OpenMetrics text, for a cluster's Prometheus and Grafana.

`pepr-gate history --format openmetrics` prints it and the dashboard writes it beside its
data (`data/openmetrics.txt`): serve that file, drop it into node_exporter's textfile
collector folder (rename it `pepr-gate.prom`), or `curl --data-binary @-` it to a
Pushgateway. Every family is a gauge labelled `branch` and `variant`; units follow
Prometheus's base units (joules, grams, seconds, bytes). No sample carries a timestamp
(the textfile collector refuses them): `pepr_gate_last_run_timestamp_seconds` says when
the run was made. Commit, run id and energy method ride on the `pepr_gate_run_info`
gauge (value 1), so the figures' series stay the same from one commit to the next.
The output is valid OpenMetrics 1.0 and, as `# UNIT`/`# EOF` are comments there, also
Prometheus's text format 0.0.4.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TextIO

from pepr_gate.records import RunRecord
from pepr_gate.store.summary import RunSummary, of_record

CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"


@dataclass(frozen=True)
class Family:
    name: str
    unit: str | None
    help: str
    value: Callable[[RunSummary], float | int | None]


def _times(value: float | int | None, factor: float) -> float | None:
    return None if value is None else value * factor


FAMILIES = (
    Family("pepr_gate_pepr", None, "PePR = P / (1 + R) of the branch's newest ok run",
           lambda r: r.pepr),
    Family("pepr_gate_performance", None, "P, the model's performance in [0, 1]",
           lambda r: r.performance),
    Family("pepr_gate_normalised_resource", None, "R, the scored resource normalised to [0, 1]",
           lambda r: r.R),
    Family("pepr_gate_energy_joules", "joules", "energy of the run (GPU, CPU and RAM as metered)",
           lambda r: _times(r.energy_kwh, 3.6e6)),
    Family("pepr_gate_carbon_grams", "grams", "carbon emitted, in grams of CO2eq",
           lambda r: _times(r.carbon_kg, 1000)),
    Family("pepr_gate_duration_seconds", "seconds", "wall time of the run's stages",
           lambda r: r.duration_s),
    Family("pepr_gate_gpu_peak_memory_bytes", "bytes", "peak GPU memory of the job",
           lambda r: r.gpu_peak_memory_bytes),
    Family("pepr_gate_last_run_timestamp_seconds", "seconds", "when the run was made (Unix time)",
           lambda r: r.created_us / 1e6),
)


def summaries(runs: Iterable[RunSummary | RunRecord]) -> list[RunSummary]:
    """The dashboard's summary rows as they are; a full record through `of_record`."""
    return [r if isinstance(r, RunSummary) else of_record(r) for r in runs]


def latest_per_branch(runs: Iterable[RunSummary | RunRecord]) -> list[RunSummary]:
    """The newest ok run of each (branch, variant), ordered by branch then variant."""
    newest: dict[tuple[str, str], RunSummary] = {}
    for run in summaries(runs):
        if not run.ok or run.branch is None:
            continue
        key = (run.branch, run.variant or "none")
        if key not in newest or run.created_us > newest[key].created_us:
            newest[key] = run
    return [newest[k] for k in sorted(newest)]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")


def _labels(pairs: dict[str, str]) -> str:
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in pairs.items()) + "}"


def _number(value: float | int) -> str:
    return str(value) if isinstance(value, int) else f"{float(value):.15g}"


def render(runs: Iterable[RunSummary | RunRecord], *, warn: TextIO | None = None) -> str:
    """OpenMetrics text for the newest ok run per branch (an empty exposition if none).
    A figure that is not a finite number (an energy of 1e307 kWh is infinite in joules)
    is left out of its family, with a warning line on `warn` (stderr unless given)."""
    latest = latest_per_branch(runs)
    out: list[str] = []
    for family in FAMILIES:
        rows = []
        for run in latest:
            value = _value(family, run, warn or sys.stderr)
            if value is not None:
                rows.append(f"{family.name}{_labels(_base(run))} {_number(value)}")
        _family(out, family.name, "gauge", family.help, family.unit, rows)
    info = [f"pepr_gate_run_info{_labels(_info(run))} 1" for run in latest]
    _family(out, "pepr_gate_run_info", "gauge",
            "the branch's newest ok run: commit, run id, how energy was obtained", None, info)
    out.append("# EOF")
    return "\n".join(out) + "\n"


def _value(family: Family, run: RunSummary, warn: TextIO) -> float | int | None:
    try:
        value = family.value(run)
    except OverflowError:
        value = math.inf
    if value is None or math.isfinite(value):
        return value
    print(f"pepr-gate: warning: {family.name} of run {run.id} (branch {run.branch}) is "
          f"{value}, not a finite number; left out of the exposition", file=warn)
    return None


def _family(out: list[str], name: str, kind: str, text: str, unit: str | None,
            rows: list[str]) -> None:
    if not rows:
        return
    out.append(f"# TYPE {name} {kind}")
    if unit:
        out.append(f"# UNIT {name} {unit}")
    out.append(f"# HELP {name} {_escape(text)}")
    out.extend(rows)


def _base(run: RunSummary) -> dict[str, str]:
    return {"branch": run.branch or "", "variant": run.variant or "none"}


def _info(run: RunSummary) -> dict[str, str]:
    return {**_base(run), "sha": run.sha or "", "run_id": run.id,
            "energy_method": run.energy_method, "fingerprint": run.fingerprint or ""}
