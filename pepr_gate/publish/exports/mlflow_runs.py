"""Log stored runs to an MLflow tracking server (`[export.mlflow]`, `pepr-gate run --mlflow`).

One pepr-gate run becomes one MLflow run in the configured experiment, or, when the
environment names an active run (`MLFLOW_RUN_ID`, which `mlflow run` and a wrapping
script set), its figures are logged into that run with the repeat as the metric's step.
Metrics carry the figures (`pepr_e`, `performance`, `energy_kwh`, ...), tags say how they
were obtained (methods, scopes, coverage, hardware fingerprint, branch, commit, verdict),
and the run record itself is attached as a JSON artifact.

The client is `mlflow`'s own (`pip install 'pepr-gate[mlflow]'`), imported only here. Its
HTTP retries are bounded by `timeout_s`, and the whole export by a wall-clock deadline
(`mlflow_quiet`): a tracker that is down must cost a warning within seconds, never the CI
job its default retry schedule would hold for minutes. A password in the tracking URI
never reaches a message.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pepr_gate import __version__
from pepr_gate.publish.exports.mlflow_quiet import bounded as _bounded
from pepr_gate.publish.exports.mlflow_quiet import deadline_s, within_deadline
from pepr_gate.records import RunRecord
from pepr_gate.redact import redact, redact_url

T = TypeVar("T")
TAG = "pepr_gate."  # prefix of every tag pepr-gate sets
ARTIFACT_DIR = "pepr-gate"


@dataclass(frozen=True)
class MlflowTarget:
    tracking_uri: str | None
    experiment: str
    run_name: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    timeout_s: float = 10.0
    active_run_id: str | None = None  # log into this run instead of creating one

    @property
    def where(self) -> str:
        into = (f"run {self.active_run_id}" if self.active_run_id
                else f"experiment {self.experiment!r}")
        shown = redact_url(self.tracking_uri) if self.tracking_uri else "(MLflow default)"
        return f"MLflow at {shown}, {into}"


class ExportFailed(Exception):
    """The tracker refused or could not be reached; the message says which and why."""


def metric_name(variant: str) -> str:
    """`PePR-E` -> `pepr_e`."""
    return variant.lower().replace("-", "_")


def metrics_of(record: RunRecord) -> dict[str, float]:
    """The run's figures that are real numbers (a missing one is left out, never 0)."""
    res, score = record.resources, record.score
    values: dict[str, float | int | None] = {
        "performance": record.performance.value,
        "energy_kwh": res.energy_kwh,
        "carbon_kg": res.carbon_kg,
        "duration_s": res.duration_s,
        "cpu_time_s": res.cpu_time_s,
        "gpu_peak_memory_bytes": res.gpu_peak_memory_bytes,
        "params": res.params,
    }
    if score is not None:
        values[metric_name(score.variant)] = score.pepr
        values["R"] = score.R
        values["resource_value"] = score.resource_value
    return {k: float(v) for k, v in values.items()
            if v is not None and math.isfinite(float(v))}


def methods_of(record: RunRecord) -> str:
    """`gpu:measured (counter), cpu:estimated (tdp-estimate)`: what the total is made of."""
    parts = []
    for c in record.components:
        if c.kind == "process" or not c.counts_toward_total or c.method == "unavailable":
            continue
        detail = f" ({c.detail})" if c.detail else ""
        parts.append(f"{c.kind}:{c.method}{detail}")
    return ", ".join(dict.fromkeys(parts)) or record.resources.energy_method


def tags_of(record: RunRecord, verdict: str | None = None) -> dict[str, str]:
    scopes = sorted({c.scope for c in record.components if c.scope})
    coverage = [c.coverage for c in record.components
                if c.coverage is not None and c.counts_toward_total]
    tags = {
        "run_id": record.id,
        "status": record.status,
        "energy_method": record.resources.energy_method,
        "methods": methods_of(record),
        "scopes": ", ".join(scopes) or "unknown",
        "coverage": f"{min(coverage):.3f}" if coverage else "unknown",
        "fingerprint": record.hardware.fingerprint,
        "config_hash": record.config_hash,
        "branch": record.branch or "",
        "sha": record.git.sha if record.git and record.git.sha else "",
        "meter": record.meter,
        "low_confidence": str(record.low_confidence).lower(),
        "repeat_group": record.repeat_group or "",
        "repeat_index": str(record.repeat_index),
        "version": record.pepr_gate_version or __version__,
    }
    if record.score is not None:
        tags["variant"] = record.score.variant
    if verdict is not None:
        tags["verdict"] = verdict
    out = {TAG + k: v for k, v in tags.items() if v != ""}
    sha = record.git.sha if record.git else None
    if sha:
        out["mlflow.source.git.commit"] = sha  # MLflow's own tag: the UI shows the commit
    return out


def _client(target: MlflowTarget) -> Any:
    try:
        from mlflow.tracking import MlflowClient
    except ImportError as exc:
        raise ExportFailed(f"the mlflow package is not installed ({exc})") from None
    return MlflowClient(tracking_uri=target.tracking_uri)


def _experiment_id(client: Any, name: str) -> str:
    found = client.get_experiment_by_name(name)
    if found is not None:
        if found.lifecycle_stage == "deleted":
            raise ExportFailed(f"experiment {name!r} is deleted in MLflow: restore it or set "
                               "[export.mlflow] experiment to another name")
        return str(found.experiment_id)
    return str(client.create_experiment(name))


def _call(what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except ExportFailed:
        raise
    except Exception as exc:  # MLflow raises MlflowException, requests' and OS errors
        text = redact(" ".join(str(exc).split()))  # MLflow quotes the URL, password and all
        raise ExportFailed(f"{what}: {type(exc).__name__}: {text[:700]}") from None


def _in_time(target: MlflowTarget, fn: Callable[[], T]) -> T:
    """`fn()` within the export's deadline; a tracker that has not answered by then, or
    whose client keeps retrying, is an `ExportFailed` like any other."""
    limit = deadline_s(target.timeout_s)
    try:
        return within_deadline(fn, limit)
    except TimeoutError:
        raise ExportFailed(f"gave up after {limit:g} s (3 x timeout_s + 15 s) without an "
                           "answer from the tracker") from None


def log_records(target: MlflowTarget, records: Sequence[RunRecord],
                verdict: str | None = None) -> list[str]:
    """Log each record; returns the MLflow run ids written (one per record, or the active
    run's id). Raises `ExportFailed` on the first refusal or at the deadline."""
    return _in_time(target, lambda: _log_records(target, records, verdict))


def _log_records(target: MlflowTarget, records: Sequence[RunRecord],
                 verdict: str | None) -> list[str]:
    written: list[str] = []
    with _bounded(target.timeout_s):
        client = _call("connecting", _client, target)
        from mlflow.entities import Metric, Param, RunTag

        exp_id = None if target.active_run_id else _call(
            "reading the experiment", _experiment_id, client, target.experiment)
        for record in records:
            stamp = int(record.created_at.timestamp() * 1000)
            tags = {**target.tags, **tags_of(record, verdict)}
            if target.active_run_id:
                run_id = target.active_run_id
                params: list[Any] = []
            else:
                run = _call("creating a run", client.create_run, exp_id, start_time=stamp,
                            run_name=target.run_name or _default_name(record))
                run_id = run.info.run_id
                params = [Param(k, v) for k, v in _params(record).items()]
            metrics = [Metric(k, v, stamp, record.repeat_index)
                       for k, v in metrics_of(record).items()]
            _call("logging metrics", client.log_batch, run_id, metrics=metrics, params=params,
                  tags=[RunTag(k, v) for k, v in tags.items()])
            _call("attaching the run record", client.log_text, run_id, record.to_json(),
                  f"{ARTIFACT_DIR}/run-{record.id}.json")
            if not target.active_run_id:
                end = stamp + int(record.resources.duration_s * 1000)
                status = "FINISHED" if record.status == "ok" else "FAILED"
                _call("closing the run", client.set_terminated, run_id, status, end)
            written.append(run_id)
    return list(dict.fromkeys(written))


def tag_verdict(target: MlflowTarget, pepr_run_ids: Sequence[str], verdict: str) -> int:
    """Set the `pepr_gate.verdict` tag on the MLflow runs logged for these pepr-gate runs
    (found by their `pepr_gate.run_id` tag); returns how many were tagged."""
    if not pepr_run_ids:
        return 0
    return _in_time(target, lambda: _tag_verdict(target, pepr_run_ids, verdict))


def _tag_verdict(target: MlflowTarget, pepr_run_ids: Sequence[str], verdict: str) -> int:
    with _bounded(target.timeout_s):
        client = _call("connecting", _client, target)
        if target.active_run_id:
            _call("tagging the verdict", client.set_tag, target.active_run_id,
                  TAG + "verdict", verdict)
            return 1
        found = _call("reading the experiment", client.get_experiment_by_name, target.experiment)
        if found is None:
            return 0
        tagged = 0
        for pepr_id in dict.fromkeys(pepr_run_ids):  # MLflow filters tags with = only, not IN
            quoted = pepr_id.replace("'", "")
            runs = _call("finding the runs", client.search_runs, [found.experiment_id],
                         filter_string=f"tags.`{TAG}run_id` = '{quoted}'", max_results=10)
            for run in runs:
                _call("tagging the verdict", client.set_tag, run.info.run_id,
                      TAG + "verdict", verdict)
                tagged += 1
        return tagged


def _default_name(record: RunRecord) -> str:
    sha = record.git.sha[:7] if record.git and record.git.sha else "no-commit"
    repeat = f" #{record.repeat_index + 1}" if record.repeat_group else ""
    return f"{record.branch or 'no-branch'} {sha}{repeat}"


def _params(record: RunRecord) -> dict[str, str]:
    params = {
        "pepr_gate.performance": record.performance.name,
        "pepr_gate.metric_key": record.performance.key or "",
        "pepr_gate.stages": " ; ".join(" ".join(s.argv) for s in record.stages)[:500],
    }
    if record.score is not None:
        params["pepr_gate.resource"] = record.score.resource
        norm = record.score.normalization
        if norm is not None and norm.scale is not None:
            params["pepr_gate.scale"] = f"{norm.scale:.6g}"
    return {k: v for k, v in params.items() if v}
