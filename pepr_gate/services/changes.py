"""`history --changes`: one branch's change points and boundaries, from a store.

Reads the branch's runs (ok ones, newest `limit`), hands them to `decide.changepoints`
and turns the analysis into plain dicts (the `--json` output, the watch workflow's issues,
the comment's drift line and the dashboard's markers all read these).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from pepr_gate.decide.changepoints import Analysis, Boundary, Change, Point, analyse
from pepr_gate.errors import InputError
from pepr_gate.records import VARIANTS, RunRecord
from pepr_gate.store import Store
from pepr_gate.store.summary import RunSummary

DEFAULT_LIMIT = 1000
METRIC_NAMES = {"pepr": "PePR", "performance": "P", "resource": "R"}


def variant_name(text: str | None) -> str | None:
    """`E` or `PePR-E` -> `PePR-E`; an unknown letter is bad input."""
    if text is None:
        return None
    name = text if text.upper().startswith("PEPR-") else f"PePR-{text}"
    name = "PePR-" + name[5:].upper()
    if name not in VARIANTS.values():
        known = ", ".join(v[5:] for v in VARIANTS.values())
        raise InputError(f"--variant {text!r}: no such PePR variant",
                         hint=f"use one of {known} (e.g. --variant E for PePR-E)")
    return name


def branch_changes(store: Store, branch: str | None, variant: str | None = None,
                   limit: int = DEFAULT_LIMIT) -> tuple[Analysis, list[RunRecord]]:
    runs = store.runs(branch, status="ok", limit=limit)
    return analyse(runs, variant), runs


def point_dict(point: Point) -> dict[str, Any]:
    return {"sha": point.sha, "run_id": point.first.id,
            "created_at": point.created_at.isoformat(), "runs": len(point.runs)}


def change_dict(change: Change, analysis: Analysis) -> dict[str, Any]:
    series = analysis.series[change.series]
    resource = change.before.first.score.resource if change.before.first.score else None
    return {
        "kind": "change", "metric": change.metric,
        "resource": resource if change.metric == "resource" else None,
        "variant": series.variant, "step": change.step, "confidence": change.confidence,
        "mean_before": change.mean_before, "mean_after": change.mean_after,
        "runs_before": change.runs_before, "runs_after": change.runs_after,
        "before": point_dict(change.before), "after": point_dict(change.after),
        "fingerprint": series.fingerprint, "config_hash": series.config_hash,
        "worse": is_worse(change),
    }


def is_worse(change: Change) -> bool:
    """A PePR or P drop, or a resource rise."""
    return change.step > 0 if change.metric == "resource" else change.step < 0


def boundary_dict(boundary: Boundary, analysis: Analysis) -> dict[str, Any]:
    series = analysis.series[boundary.series]
    return {"kind": "boundary", "changed": boundary.changed,
            "before": point_dict(boundary.before), "after": point_dict(boundary.after),
            "fingerprint": series.fingerprint, "config_hash": series.config_hash}


def as_json(analysis: Analysis, branch: str | None, store_url: str) -> dict[str, Any]:
    return {
        "schema": "pepr-gate/changes/1",
        "branch": branch,
        "store": store_url,
        "series": [{"fingerprint": s.fingerprint, "config_hash": s.config_hash,
                    "variant": s.variant, "points": len(s.points),
                    "runs": sum(len(p.runs) for p in s.points),
                    "first": point_dict(s.points[0]), "last": point_dict(s.points[-1])}
                   for s in analysis.series],
        "changes": [change_dict(c, analysis) for c in analysis.changes],
        "boundaries": [boundary_dict(b, analysis) for b in analysis.boundaries],
        "skipped_runs": analysis.skipped,
    }


def change_line(change: Change) -> str:
    """`PePR -9.8% at abc1234def56 (after def567890abc), confidence 99.9%`."""
    name = METRIC_NAMES[change.metric]
    if change.metric == "resource" and change.before.first.score:
        name = f"{change.before.first.score.resource}"
    after, before = change.after.sha or change.after.first.id, change.before.sha or "?"
    return (f"{name} {change.step:+.1%} at {after[:12]} (after {before[:12]}), "
            f"{change.mean_before:.4g} -> {change.mean_after:.4g}, "
            f"confidence {confidence_text(change.confidence)}, {change.runs_before} point(s) "
            "before and "
            f"{change.runs_after} after")


def confidence_text(value: float) -> str:
    return "> 99.9%" if value > 0.999 else f"{value:.1%}"


def boundary_line(boundary: Boundary) -> str:
    what = " and ".join(boundary.changed) or "series"
    at = boundary.after.sha or boundary.after.first.id
    return (f"boundary: the {what} changed at {at[:12]} "
            f"({boundary.after.created_at:%Y-%m-%d %H:%M}); runs before and after are "
            "not compared")


MARKER_SCAN = 2000  # newest runs per branch the dashboard looks for change points in


def as_record(summary: RunSummary) -> RunRecord:
    """A dashboard row seen as the record fields the change-point analysis reads (id, time,
    status, series keys, repeat group, pairing, score, P, commit): the dashboard reads
    summaries, never whole records, and the analysis needs nothing else of them."""
    from datetime import datetime, timedelta, timezone
    from types import SimpleNamespace as NS

    score = None if summary.variant is None else NS(
        variant=summary.variant, resource=summary.resource, pepr=summary.pepr,
        resource_value=summary.resource_value, R=summary.R)
    view = NS(
        id=summary.id, status="ok" if summary.ok else "failed",
        created_at=datetime(1970, 1, 1, tzinfo=timezone.utc)
        + timedelta(microseconds=summary.created_us),
        repeat_group=summary.repeat_group, config_hash=summary.config_hash or "",
        paired=None if summary.paired_session is None else NS(session=summary.paired_session),
        hardware=NS(fingerprint=summary.fingerprint or ""), score=score,
        performance=NS(value=summary.performance, name=summary.performance_name),
        git=NS(sha=summary.sha, branch=summary.branch), branch=summary.branch)
    return cast(RunRecord, view)


def dashboard_markers(runs: Sequence[RunSummary | RunRecord], branches: list[str]
                      ) -> list[dict[str, Any]]:
    """One marker per run that starts a change point or a boundary, per branch: `i` is the
    run's position in `runs` (the dashboard's columns), `b` its branch's in `branches`."""
    from pepr_gate.publish.dashboard.data import NO_BRANCH

    position = {r.id: k for k, r in enumerate(runs)}
    by_branch: dict[str, list[RunRecord]] = {}
    for run in runs:
        seen = as_record(run) if isinstance(run, RunSummary) else run
        by_branch.setdefault(run.branch or NO_BRANCH, []).append(seen)
    out: list[dict[str, Any]] = []
    for b, name in enumerate(branches):
        mine = by_branch.get(name, [])[-MARKER_SCAN:]
        if len(mine) < 6:
            continue
        analysis = analyse(mine)
        found: dict[str, dict[str, Any]] = {}
        for change in analysis.changes:
            first = change.after.first
            marker = found.setdefault(first.id, {"i": position[first.id], "b": b, "kind": "change",
                                               "steps": [], "changed": []})
            resource = change.before.first.score.resource if change.before.first.score else ""
            label = resource if change.metric == "resource" else METRIC_NAMES[change.metric]
            marker["steps"].append({"metric": label, "step": round(change.step, 6),
                                    "confidence": round(change.confidence, 6)})
        for boundary in analysis.boundaries:
            first = boundary.after.first
            found.setdefault(first.id, {"i": position[first.id], "b": b, "kind": "boundary",
                                      "steps": [], "changed": boundary.changed})
        out += sorted(found.values(), key=lambda m: m["i"])
    return out
