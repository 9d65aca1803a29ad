"""`pepr-gate history`'s table and PePR trend, laid out for an 80-column terminal first.

Run ids are never cut (they are what `check --candidate` and `score` take): the id
column does not wrap, branch@sha folds onto a second line when long, the scored resource
gets one column, energy (with its method) another only when energy is not the one scored,
and the time column appears only on a terminal wide enough for it (the id begins with
the time anyway). A failed run says "failed" where its PePR would be. When runs recorded
their conditions, a last `load` column gives the runner's load average during each run
(with `x2.6` when the job's wall time was 2.6 x its CPU time: it queued for a CPU).
"""

from __future__ import annotations

from typing import Any

from pepr_gate import units
from pepr_gate.publish.sparkline import sparkline
from pepr_gate.records import RunRecord
from pepr_gate.records.ranges import printable

WIDE = 110  # columns from which the time column is shown too


def _where(record: RunRecord) -> str:
    sha = record.git.sha[:7] if record.git and record.git.sha else None
    branch = record.branch or units.MISSING
    return f"{branch}@{sha}" if sha else branch


def _resource_kind(records: list[RunRecord]) -> tuple[str, str]:
    """(resource, variant) most runs were scored with; energy when none was."""
    scored = [(r.score.resource, r.score.variant) for r in records if r.score]
    return max(set(scored), key=scored.count) if scored else ("energy", "PePR-E")


def _row(record: RunRecord, resource: str, variant: str, *, energy: bool,
         wide: bool, load: bool = False) -> list[Any]:
    from rich.text import Text

    score, res = record.score, record.resources
    failed = record.status == "failed"
    if failed:
        pepr = Text("failed", style="red")
    elif score is None or score.pepr is None:
        pepr = Text(units.MISSING)
    else:
        suffix = "" if score.variant == variant else f" {score.variant}"
        pepr = Text(units.number(score.pepr) + suffix)
    amount = score.resource_value if score and score.resource == resource else None
    if amount is None and resource == "energy":
        amount = res.energy_kwh
    cells: list[Any] = [Text(printable(record.id, None))]
    if wide:
        cells.append(record.created_at.strftime("%Y-%m-%d %H:%M"))
    cells += [Text(printable(_where(record), None)), units.number(record.performance.value),
              units.resource(amount, resource)]
    if energy:
        cells.append(units.energy(res.energy_kwh))
    cells += [res.energy_method, pepr]
    if load:
        cells.append(load_cell(record))
    return cells


def load_cell(record: RunRecord) -> str:
    """The runner's load during the run: `8.1` (mean of its ends), `8.1 x2.6` when the
    job's wall time was 2.6 x its CPU time (it waited for a CPU)."""
    c = record.conditions
    if c is None or c.load is None:
        return units.MISSING
    ratio = f" x{c.wall_cpu_ratio:.1f}" if c.wall_cpu_ratio and c.wall_cpu_ratio >= 1.5 else ""
    return f"{c.load:.1f}{ratio}"


def print_history(records: list[RunRecord], title: str, console: Any = None) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = console or Console(highlight=False)
    wide = console.width >= WIDE
    resource, variant = _resource_kind(records)
    energy = resource != "energy"
    table = Table(title=Text(printable(title, None)), title_justify="left", show_edge=False,
                  pad_edge=False)
    table.add_column("run", no_wrap=True)
    if wide:
        table.add_column("time (UTC)", no_wrap=True)
    table.add_column("branch@sha", overflow="fold")
    table.add_column("P", justify="right")
    table.add_column(resource.replace("_", " "), justify="right")
    if energy:
        table.add_column("energy", justify="right")
    table.add_column("method")
    table.add_column(variant, justify="right")
    load = any(r.conditions is not None for r in records)
    if load:
        table.add_column("load", justify="right")
    for record in records:
        table.add_row(*_row(record, resource, variant, energy=energy, wide=wide, load=load))
    console.print(table)
    trend = [r.score.pepr for r in reversed(records)
             if r.status == "ok" and r.score and r.score.pepr is not None]
    if trend:
        console.print(Text(
            f"PePR trend, oldest → newest ({len(trend)} ok runs): {sparkline(trend)}  "
            f"min {units.number(min(trend))} · last {units.number(trend[-1])} · "
            f"max {units.number(max(trend))}"))
    elif any(r.status == "ok" and r.score and r.score.pepr is None for r in records):
        console.print(Text(
            "PePR is not stored for these runs: no scale for R was set when they ran. Set "
            "[score.scale] (or a [gate.budgets] ceiling) in pepr.toml; `pepr-gate check` "
            "scores runs against a baseline either way."))
