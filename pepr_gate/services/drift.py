"""The drift line of the PR comment: how far the base branch moved over its last runs.

Shown only when a PePR change point lies within the base branch's last `DRIFT_RUNS`
comparable points (same hardware and config as the candidate): several small steps
that each passed the gate add up here, e.g. "main is 7.8% less efficient than on
2025-03-01 (30 runs ago), since 3f2a9c1d0b7e".
"""

from __future__ import annotations

from collections.abc import Iterable

from pepr_gate.decide.changepoints import analyse
from pepr_gate.records import RunRecord
from pepr_gate.records.ranges import printable
from pepr_gate.store import Store

DRIFT_RUNS = 30
SCAN = 200


def drift_line(runs: list[RunRecord], branch: str, own: Iterable[str] = (),
               window: int = DRIFT_RUNS) -> str | None:
    mine = set(own)
    analysis = analyse([r for r in runs if r.id not in mine])
    if not analysis.series:
        return None
    series = analysis.series[-1]  # the newest comparable series
    index = analysis.series.index(series)
    start = max(0, len(series.points) - window)
    found = [c for c in analysis.changes
             if c.metric == "pepr" and c.series == index and c.index >= start]
    if not found:
        return None
    first, last = found[0], found[-1]
    moved = last.mean_after / first.mean_before - 1.0
    then = series.points[start]
    ago = len(series.points) - start
    word = "less" if moved < 0 else "more"
    since = first.after.sha or first.after.first.id
    return (f"{printable(branch)} is {abs(moved):.1%} {word} efficient (PePR) than on "
            f"{then.created_at:%Y-%m-%d} ({ago} runs ago), since {since[:12]}: "
            f"{len(found)} change point(s) in its last {ago} comparable runs "
            f"(`pepr-gate history --changes --branch {printable(branch)}`)")


def drift_from_store(store: Store, branch: str, group: list[RunRecord]) -> str | None:
    if not group:
        return None
    primary = group[-1]
    runs = store.runs(branch, status="ok", fingerprint=primary.hardware.fingerprint,
                      config_hash=primary.config_hash, limit=SCAN)
    return drift_line(runs, branch, (r.id for r in group))
