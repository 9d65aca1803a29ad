"""Run summaries -> the dashboard's data: compact columns, one list per field.

The runs arrive as `RunSummary` rows (store/summary.py): the fields the page draws,
already checked (finite numbers, printable names), never whole validated records.

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
from typing import Any, get_args

from pepr_gate.records import VARIANTS, RunRecord, VerdictName
from pepr_gate.store.summary import RunSummary, of_record

SCHEMA = "pepr-gate/dashboard/1"
VERDICTS_SCHEMA = "pepr-gate/verdicts/1"
# Method codes in the columns; the page maps them back to words and point styles.
METHODS = ("measured", "mixed", "estimated", "unavailable", "replayed")
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
    runs: list[RunSummary]
    branches: list[str] = field(default_factory=list)
    base_branch: str | None = None
    repo_url: str | None = None
    budgets: Mapping[str, float | None] = field(default_factory=dict)
    verdicts: Mapping[str, Verdict] = field(default_factory=dict)
    store: str = ""
    changes: list[dict[str, Any]] = field(default_factory=list)  # markers, `history --changes`
    opened: list[str] = field(default_factory=list)  # branches the page opens on
    generated_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


def select_runs(
    runs: Iterable[RunSummary | RunRecord], branches: list[str] | None, limit: int | None
) -> list[RunSummary]:
    """The runs the site shows, oldest first: only `branches` when given, and the newest
    `limit` of each branch. Whole records (a job's new runs) are summarised first."""
    wanted = set(branches) if branches else None
    ordered = sorted((of_record(r) if isinstance(r, RunRecord) else r for r in runs),
                     key=lambda r: (r.created_us, r.id))
    if wanted is not None:
        ordered = [r for r in ordered if (r.branch or NO_BRANCH) in wanted]
    if limit is None:
        return ordered
    seen: dict[str, int] = {}
    kept = []
    for run in reversed(ordered):
        name = run.branch or NO_BRANCH
        seen[name] = seen.get(name, 0) + 1
        if seen[name] <= limit:
            kept.append(run)
    kept.reverse()
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


class Numbers(str):
    """A number column already written as a JSON array (`null` for a missing or non-finite
    number)."""


def _nums(values: Iterable[float | int | None], scale: float = 1.0) -> Numbers:
    """Six significant digits (plenty for a chart, a third of the bytes); NaN/inf -> null.

    Written as text here: formatting once beats rounding to a float and serialising it,
    and one string holds far less memory than a list of 100,000 numbers."""
    if scale == 1.0:
        text = ",".join("null" if v is None or not math.isfinite(v) else f"{v:.6g}"
                        for v in values)
    else:
        text = ",".join("null" if v is None or not math.isfinite(v) else f"{v * scale:.6g}"
                        for v in values)
    return Numbers(f"[{text}]")


def _runs_json(cols: Mapping[str, Any]) -> str:
    parts = []
    for name, col in cols.items():
        text = (col if isinstance(col, Numbers)
                else json.dumps(col, separators=(",", ":"), allow_nan=False))
        parts.append(f"{json.dumps(name)}:{text}")
    return "{" + ",".join(parts) + "}"


def columns(site: Site) -> dict[str, Any]:
    """The payload: branch and variant names once, then one list per field.

    Built a column at a time with comprehensions: 50,000 runs in well under a second.
    """
    runs = site.runs
    variants = list(dict.fromkeys(r.variant for r in runs if r.variant is not None))
    cols = {**_identity_columns(runs, site.branches), **_score_columns(runs, variants),
            **_resource_columns(runs), **_verdict_columns(runs, site.verdicts)}
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
        "performance_names": sorted({r.performance_name for r in runs}),
        "methods": list(METHODS),
        "budgets": {k: v for k, v in site.budgets.items() if v is not None},
        "runs": cols,
        "changes": site.changes,
    }


def _identity_columns(runs: list[RunSummary], branches: list[str]) -> dict[str, Any]:
    index = {name: i for i, name in enumerate(branches)}
    return {
        "id": [r.id for r in runs],
        "t": [r.created_us // 1000 for r in runs],
        "b": [index[r.branch or NO_BRANCH] for r in runs],
        "sha": [r.sha for r in runs],
        "ok": [int(r.ok) for r in runs],
        "failure": [r.failure for r in runs],
    }


def _score_columns(runs: list[RunSummary], variants: list[str]) -> dict[str, Any]:
    vindex = {v: i for i, v in enumerate(variants)}
    measured = _METHOD_CODE["measured"]
    # How the scored resource was obtained: energy and carbon follow the energy.
    return {
        "P": _nums(r.performance for r in runs),
        "pepr": _nums(r.pepr for r in runs),
        "v": [None if r.variant is None else vindex[r.variant] for r in runs],
        "x": [_METHOD_CODE[r.energy_method] if r.resource in ("energy", "carbon") else measured
              for r in runs],
        "R": _nums(r.R for r in runs),
    }


def _resource_columns(runs: list[RunSummary]) -> dict[str, Any]:
    return {
        "E": _nums(r.energy_kwh for r in runs),
        "Em": [_METHOD_CODE[r.energy_method] for r in runs],
        "C": _nums(r.carbon_kg for r in runs),
        "D": _nums(r.duration_s for r in runs),
        "M": _nums((r.gpu_peak_memory_bytes for r in runs), 1e-9),
        **_condition_columns(runs),
    }


def _condition_columns(runs: list[RunSummary]) -> dict[str, Any]:
    """The runner's conditions: load (mean of the window's ends), other processes' share
    of the CPU time, the job's wall/CPU ratio, GPU temperature; None where not recorded."""
    return {
        "L": _nums(r.load for r in runs),
        "O": _nums(r.other_cpu_share for r in runs),
        "W": _nums(r.wall_cpu_ratio for r in runs),
        "G": _nums(r.gpu_temperature_c for r in runs),
    }


def _verdict_columns(runs: list[RunSummary], verdicts: Mapping[str, Verdict]
                     ) -> dict[str, Any]:
    found = [verdicts.get(r.id) for r in runs]
    return {"verdict": [v.verdict if v else None for v in found],
            "reason": [v.reason if v else None for v in found]}


def to_script(payload: Mapping[str, Any]) -> bytes:
    """The payload as a script that sets `window.PEPR_DASHBOARD`.

    A script file, not JSON fetched at run time: browsers refuse `fetch` of a file://
    page's own files, and the site must open from disk. `<`, `>` and `&` are escaped so
    that no string can close a tag even if the file were ever inlined.
    """
    rest = {k: v for k, v in payload.items() if k != "runs"}
    text = json.dumps({**rest, "runs": 0}, separators=(",", ":"), allow_nan=False)
    text = text[:-len("0}")] + _runs_json(payload.get("runs", {})) + "}"
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f"window.PEPR_DASHBOARD={text};\n".encode()


VERDICT_NAMES = frozenset(get_args(VerdictName))


def load_verdicts(raw: bytes | None, source: str) -> dict[str, Verdict]:
    """The verdict ledger of an earlier build; unreadable -> empty (it is rebuilt)."""
    if not raw:
        return {}
    try:
        data = json.loads(raw)
        if data.get("schema") != VERDICTS_SCHEMA:
            return {}
        # An unknown verdict (`__proto__`, a typo) is dropped: only pepr-gate's own
        # verdict names reach the page, which keys its markers by them.
        return {
            str(run_id): Verdict(str(v["verdict"]), str(v.get("reason", "")),
                                 str(v.get("checked_at", "")))
            for run_id, v in data["runs"].items() if v.get("verdict") in VERDICT_NAMES
        }
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return {}


def dump_verdicts(verdicts: Mapping[str, Verdict]) -> bytes:
    runs = {k: {"verdict": v.verdict, "reason": v.reason, "checked_at": v.checked_at}
            for k, v in sorted(verdicts.items())}
    return (json.dumps({"schema": VERDICTS_SCHEMA, "runs": runs}, indent=1) + "\n").encode()
