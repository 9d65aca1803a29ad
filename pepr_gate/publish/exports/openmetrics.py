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
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pepr_gate.records import RunRecord

CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"


@dataclass(frozen=True)
class Family:
    name: str
    unit: str | None
    help: str
    value: Callable[[RunRecord], float | int | None]


FAMILIES = (
    Family("pepr_gate_pepr", None, "PePR = P / (1 + R) of the branch's newest ok run",
           lambda r: r.score.pepr if r.score else None),
    Family("pepr_gate_performance", None, "P, the model's performance in [0, 1]",
           lambda r: r.performance.value),
    Family("pepr_gate_normalised_resource", None, "R, the scored resource normalised to [0, 1]",
           lambda r: r.score.R if r.score else None),
    Family("pepr_gate_energy_joules", "joules", "energy of the run (GPU, CPU and RAM as metered)",
           lambda r: None if r.resources.energy_kwh is None else r.resources.energy_kwh * 3.6e6),
    Family("pepr_gate_carbon_grams", "grams", "carbon emitted, in grams of CO2eq",
           lambda r: None if r.resources.carbon_kg is None else r.resources.carbon_kg * 1000),
    Family("pepr_gate_duration_seconds", "seconds", "wall time of the run's stages",
           lambda r: r.resources.duration_s),
    Family("pepr_gate_gpu_peak_memory_bytes", "bytes", "peak GPU memory of the job",
           lambda r: r.resources.gpu_peak_memory_bytes),
    Family("pepr_gate_last_run_timestamp_seconds", "seconds", "when the run was made (Unix time)",
           lambda r: r.created_at.timestamp()),
)


def latest_per_branch(records: Iterable[RunRecord]) -> list[RunRecord]:
    """The newest ok run of each (branch, variant), ordered by branch then variant."""
    newest: dict[tuple[str, str], RunRecord] = {}
    for record in records:
        if record.status != "ok" or record.branch is None:
            continue
        key = (record.branch, record.score.variant if record.score else "none")
        if key not in newest or record.created_at > newest[key].created_at:
            newest[key] = record
    return [newest[k] for k in sorted(newest)]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")


def _labels(pairs: dict[str, str]) -> str:
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in pairs.items()) + "}"


def _number(value: float | int) -> str:
    return str(value) if isinstance(value, int) else f"{float(value):.15g}"


def render(records: Iterable[RunRecord]) -> str:
    """OpenMetrics text for the newest ok run per branch (an empty exposition if none)."""
    latest = latest_per_branch(records)
    out: list[str] = []
    for family in FAMILIES:
        rows = []
        for record in latest:
            value = family.value(record)
            if value is None or (isinstance(value, float) and not math.isfinite(value)):
                continue
            rows.append(f"{family.name}{_labels(_base(record))} {_number(value)}")
        _family(out, family.name, "gauge", family.help, family.unit, rows)
    info = [f"pepr_gate_run_info{_labels(_info(record))} 1" for record in latest]
    _family(out, "pepr_gate_run_info", "gauge",
            "the branch's newest ok run: commit, run id, how energy was obtained", None, info)
    out.append("# EOF")
    return "\n".join(out) + "\n"


def _family(out: list[str], name: str, kind: str, text: str, unit: str | None,
            rows: list[str]) -> None:
    if not rows:
        return
    out.append(f"# TYPE {name} {kind}")
    if unit:
        out.append(f"# UNIT {name} {unit}")
    out.append(f"# HELP {name} {_escape(text)}")
    out.extend(rows)


def _base(record: RunRecord) -> dict[str, str]:
    return {"branch": record.branch or "",
            "variant": record.score.variant if record.score else "none"}


def _info(record: RunRecord) -> dict[str, str]:
    sha = record.git.sha if record.git and record.git.sha else ""
    return {**_base(record), "sha": sha, "run_id": record.id,
            "energy_method": record.resources.energy_method,
            "fingerprint": record.hardware.fingerprint}
