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
from typing import Any, get_args

from pepr_gate.records import VARIANTS, RunRecord, VerdictName

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
    runs: list[RunRecord]
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
    runs: Iterable[RunRecord], branches: list[str] | None, limit: int | None
) -> list[RunRecord]:
    """The runs the site shows, oldest first: only `branches` when given, and the newest
    `limit` of each branch."""
    wanted = set(branches) if branches else None
    ordered = sorted(runs, key=lambda r: (r.created_at, r.id))
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


def _nums(values: Iterable[float | int | None], scale: float = 1.0) -> list[float | None]:
    """Six significant digits (plenty for a chart, a third of the bytes); NaN/inf -> None."""
    return [None if v is None or not math.isfinite(v) else float(f"{v * scale:.6g}")
            for v in values]


def columns(site: Site) -> dict[str, Any]:
    """The payload: branch and variant names once, then one list per field.

    Built a column at a time with comprehensions: 50,000 runs in well under a second.
    """
    runs = site.runs
    variants = list(dict.fromkeys(r.score.variant for r in runs if r.score is not None))
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
        "performance_names": sorted({r.performance.name for r in runs}),
        "methods": list(METHODS),
        "budgets": {k: v for k, v in site.budgets.items() if v is not None},
        "runs": cols,
        "changes": site.changes,
    }


def _identity_columns(runs: list[RunRecord], branches: list[str]) -> dict[str, list[Any]]:
    index = {name: i for i, name in enumerate(branches)}
    gits = [r.git for r in runs]
    return {
        "id": [r.id for r in runs],
        "t": [int(r.created_at.timestamp() * 1000) for r in runs],
        "b": [index[(g.branch if g else None) or NO_BRANCH] for g in gits],
        "sha": [g.sha if g else None for g in gits],
        "ok": [int(r.status == "ok") for r in runs],
        "failure": [r.failure for r in runs],
    }


def _score_columns(runs: list[RunRecord], variants: list[str]) -> dict[str, list[Any]]:
    vindex = {v: i for i, v in enumerate(variants)}
    scores = [r.score for r in runs]
    measured = _METHOD_CODE["measured"]
    # How the scored resource was obtained: energy and carbon follow the energy.
    follows = [s is not None and s.resource in ("energy", "carbon") for s in scores]
    return {
        "P": _nums(r.performance.value for r in runs),
        "pepr": _nums(s.pepr if s else None for s in scores),
        "v": [vindex[s.variant] if s else None for s in scores],
        "x": [_METHOD_CODE[r.resources.energy_method] if f else measured
              for r, f in zip(runs, follows, strict=True)],
        "R": _nums(s.R if s else None for s in scores),
    }


def _resource_columns(runs: list[RunRecord]) -> dict[str, list[Any]]:
    res = [r.resources for r in runs]
    return {
        "E": _nums(x.energy_kwh for x in res),
        "Em": [_METHOD_CODE[x.energy_method] for x in res],
        "C": _nums(x.carbon_kg for x in res),
        "D": _nums(x.duration_s for x in res),
        "M": _nums((x.gpu_peak_memory_bytes for x in res), 1e-9),
        **_condition_columns(runs),
    }


def _condition_columns(runs: list[RunRecord]) -> dict[str, list[Any]]:
    """The runner's conditions: load (mean of the window's ends), other processes' share
    of the CPU time, the job's wall/CPU ratio, GPU temperature; None where not recorded."""
    conds = [r.conditions for r in runs]
    return {
        "L": _nums(c.load if c else None for c in conds),
        "O": _nums(c.other_cpu_share if c else None for c in conds),
        "W": _nums(c.wall_cpu_ratio if c else None for c in conds),
        "G": _nums(c.gpu_temperature_c if c else None for c in conds),
    }


def _verdict_columns(runs: list[RunRecord], verdicts: Mapping[str, Verdict]
                     ) -> dict[str, list[Any]]:
    found = [verdicts.get(r.id) for r in runs]
    return {"verdict": [v.verdict if v else None for v in found],
            "reason": [v.reason if v else None for v in found]}


def to_script(payload: Mapping[str, Any]) -> bytes:
    """The payload as a script that sets `window.PEPR_DASHBOARD`.

    A script file, not JSON fetched at run time: browsers refuse `fetch` of a file://
    page's own files, and the site must open from disk. `<`, `>` and `&` are escaped so
    that no string can close a tag even if the file were ever inlined.
    """
    text = json.dumps(payload, separators=(",", ":"), allow_nan=False)
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
