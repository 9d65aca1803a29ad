"""Run records -> the dashboard's data: compact columns, one list per field.

Columns (not one object per run) keep 50,000 runs to a few MB that the browser parses in
one go. Every string a user or PR author controls (branch, id, metric name) stays data:
the page only ever puts it into the DOM as text.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from pepr_gate.records import VARIANTS, RunRecord

SCHEMA = "pepr-gate/dashboard/1"
VERDICTS_SCHEMA = "pepr-gate/verdicts/1"
# Method codes in the columns; the page maps them back to words and point styles.
METHODS = ("measured", "mixed", "estimated", "unavailable")
_METHOD_CODE = {name: i for i, name in enumerate(METHODS)}
VERDICT_MARKS = ("fail", "warn", "inconclusive", "accepted")
# Preference when no base branch is configured: the usual default-branch names.
DEFAULT_BRANCHES = ("main", "master", "trunk", "develop")
NO_BRANCH = "(no branch)"


@dataclass(frozen=True)
class Verdict:
    verdict: str
    reason: str
    checked_at: str


@dataclass
class Site:
    """Everything the page shows, before it is serialised."""

    title: str
    runs: list[RunRecord]
    branches: list[str] = field(default_factory=list)
    base_branch: str | None = None
    repo_url: str | None = None
    budgets: Mapping[str, float | None] = field(default_factory=dict)
    verdicts: Mapping[str, Verdict] = field(default_factory=dict)
    store: str = ""
    generated_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


def select_runs(
    runs: Iterable[RunRecord], branches: list[str] | None, limit: int | None
) -> list[RunRecord]:
    """The runs the site shows: only `branches` when given, the newest `limit` per branch."""
    wanted = set(branches) if branches else None
    per_branch: dict[str, list[RunRecord]] = {}
    for run in runs:
        name = run.branch or NO_BRANCH
        if wanted is None or name in wanted:
            per_branch.setdefault(name, []).append(run)
    kept: list[RunRecord] = []
    for group in per_branch.values():
        group.sort(key=lambda r: (r.created_at, r.id))
        kept.extend(group if limit is None else group[-limit:])
    kept.sort(key=lambda r: (r.created_at, r.id))
    return kept


def pick_base(branches: list[str], counts: Mapping[str, int], configured: str | None) -> str | None:
    """The branch shown first: the configured base, else main/master..., else the busiest."""
    if configured and configured in branches:
        return configured
    for name in DEFAULT_BRANCHES:
        if counts.get(name):
            return name
    if not branches:
        return None
    return max(branches, key=lambda b: (counts.get(b, 0), b == branches[0]))


def _num(value: float | int | None, digits: int = 6) -> float | None:
    if value is None:
        return None
    number = float(value)
    if not math.isfinite(number):
        return None
    return float(f"{number:.{digits}g}")


def _gb(value: int | None) -> float | None:
    return None if value is None else _num(value / 1e9)


def _resource_method(run: RunRecord, resource: str | None) -> int:
    if resource in ("energy", "carbon"):
        return _METHOD_CODE[run.resources.energy_method]
    return _METHOD_CODE["measured"]


def columns(site: Site) -> dict[str, Any]:
    """The payload: branch and variant names once, then one list per field."""
    index = {name: i for i, name in enumerate(site.branches)}
    variants: list[str] = []
    cols: dict[str, list[Any]] = {key: [] for key in (
        "id", "t", "b", "sha", "ok", "P", "pepr", "v", "x", "R", "E", "Em", "C", "D",
        "M", "verdict", "reason", "failure")}
    for run in site.runs:
        res, score = run.resources, run.score
        variant = score.variant if score else None
        if variant is not None and variant not in variants:
            variants.append(variant)
        verdict = site.verdicts.get(run.id)
        cols["id"].append(run.id)
        cols["t"].append(int(run.created_at.timestamp() * 1000))
        cols["b"].append(index[run.branch or NO_BRANCH])
        cols["sha"].append(run.git.sha if run.git and run.git.sha else None)
        cols["ok"].append(1 if run.status == "ok" else 0)
        cols["P"].append(_num(run.performance.value))
        cols["pepr"].append(_num(score.pepr) if score else None)
        cols["v"].append(variants.index(variant) if variant is not None else None)
        cols["x"].append(_resource_method(run, score.resource if score else None))
        cols["R"].append(_num(score.R) if score else None)
        cols["E"].append(_num(res.energy_kwh))
        cols["Em"].append(_METHOD_CODE[res.energy_method])
        cols["C"].append(_num(res.carbon_kg))
        cols["D"].append(_num(res.duration_s))
        cols["M"].append(_gb(res.gpu_peak_memory_bytes))
        cols["verdict"].append(verdict.verdict if verdict else None)
        cols["reason"].append(verdict.reason if verdict else None)
        cols["failure"].append(run.failure)
    perf_names = sorted({r.performance.name for r in site.runs})
    return {
        "schema": SCHEMA,
        "title": site.title,
        "generated_at": site.generated_at.isoformat(timespec="seconds"),
        "store": site.store,
        "repo_url": site.repo_url,
        "base_branch": site.base_branch,
        "branches": site.branches,
        "variants": variants,
        "variant_resources": {v: r for r, v in VARIANTS.items() if v in variants},
        "performance_names": perf_names,
        "methods": list(METHODS),
        "budgets": {k: v for k, v in site.budgets.items() if v is not None},
        "runs": cols,
    }


def to_script(payload: Mapping[str, Any]) -> bytes:
    """The payload as a script that sets `window.PEPR_DASHBOARD`.

    A script file, not JSON fetched at run time: browsers refuse `fetch` of a file://
    page's own files, and the site must open from disk. `<`, `>` and `&` are escaped so
    that no string can close a tag even if the file were ever inlined.
    """
    text = json.dumps(payload, separators=(",", ":"), allow_nan=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f"window.PEPR_DASHBOARD={text};\n".encode()


def load_verdicts(raw: bytes | None, source: str) -> dict[str, Verdict]:
    """The verdict ledger of an earlier build; unreadable -> empty (it is rebuilt)."""
    if not raw:
        return {}
    try:
        data = json.loads(raw)
        if data.get("schema") != VERDICTS_SCHEMA:
            return {}
        return {
            str(run_id): Verdict(str(v["verdict"]), str(v.get("reason", "")),
                                 str(v.get("checked_at", "")))
            for run_id, v in data["runs"].items()
        }
    except (ValueError, KeyError, TypeError, AttributeError):
        return {}


def dump_verdicts(verdicts: Mapping[str, Verdict]) -> bytes:
    runs = {k: {"verdict": v.verdict, "reason": v.reason, "checked_at": v.checked_at}
            for k, v in sorted(verdicts.items())}
    return (json.dumps({"schema": VERDICTS_SCHEMA, "runs": runs}, indent=1) + "\n").encode()
