"""The verdict in the terminal: a rich panel with the comparison table and the reasons.

Laid out for 80 columns: the table holds numbers only (each under 12 characters, but for
the PePR change, which says "geometric means; medians x%" as the comment does and wraps in
its cell), the reasons wrap below it, and the panel's title names what decided the verdict.
"""

from __future__ import annotations

import os
from typing import Any

from pepr_gate import units
from pepr_gate.publish.headline import headline, next_step, noise_source, pepr_change
from pepr_gate.publish.sparkline import sparkline
from pepr_gate.records import CheckResult, Side
from pepr_gate.records.ranges import printable

STYLES = {"pass": "green", "warn": "yellow", "fail": "red", "inconclusive": "cyan",
          "accepted": "magenta"}


def _rows(result: CheckResult) -> list[tuple[str, str, str, str]]:
    b, c = result.baseline, result.candidate

    def both(attr: str, fmt: Any) -> tuple[str, str, str]:
        new = getattr(c, attr)
        old = None if b is None else getattr(b, attr)
        return (units.MISSING if b is None else fmt(old), fmt(new), units.change(new, old))

    def capped(side: Side) -> str:
        return units.number(side.R) + (" (capped)" if side.over_scale else "")

    return [
        (f"{result.performance_name} (P)", *both("performance", units.number)),
        ("energy", *both("energy_kwh", units.energy)),
        ("carbon", *both("carbon_kg", units.carbon)),
        ("wall time", *both("duration_s", units.seconds)),
        ("peak GPU memory", *both("gpu_peak_memory_bytes", units.gigabytes)),
        (f"R ({result.resource})", units.MISSING if b is None else capped(b), capped(c),
         units.change(c.R, None if b is None else b.R)),
        (result.variant, *both("pepr", units.number)[:2], pepr_change(result)),
    ]


def _footer(result: CheckResult) -> list[str]:
    """Dim lines under the reasons: notes, the noise and where it came from, runs, trend."""
    lines = [f"  {note}" for note in result.notes]
    if result.noise is not None and result.noise_z is not None:
        spread = "" if result.spread is None else f"; spread {result.spread * 100:.1f}%"
        lines.append(f"noise band {result.noise * result.noise_z * 100:.1f}% "
                     f"({result.noise_z:.2f} x {result.noise * 100:.2f}%){spread}, "
                     f"{noise_source(result)}")
    if result.repeats_needed:
        lines.append(f"candidate repeats needed to decide: {result.repeats_needed}")
    c, b = result.candidate, result.baseline
    runs = f"runs used: candidate {', '.join(c.run_ids) or '—'}"
    if b is not None:
        runs += f"; baseline {', '.join(b.run_ids) or '—'}"
    lines.append(runs)
    if len(result.trend) >= 2:
        values = [v for _, v in result.trend]
        lines.append(f"trend on {result.base_branch}: {sparkline(values)}")
    return lines


def render_terminal(result: CheckResult, console: Any = None) -> None:
    from rich.console import Console, Group
    from rich.markup import escape
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    def plain(text: str, style: str = "") -> Text:  # a branch or key name: no escapes
        return Text(printable(text, None), style=style)

    console = console or Console()
    table = Table(show_edge=False)
    table.add_column("")
    table.add_column(plain(f"baseline ({result.base_branch or '—'})"), justify="right")
    table.add_column(plain(f"candidate ({result.head_branch or '—'})"), justify="right")
    table.add_column("change", justify="right")
    for label, old, new, change in _rows(result):
        table.add_row(plain(label), old, new, change)
    parts: list[Any] = [table, Text("")]
    parts += [plain(f"• {reason}") for reason in result.reasons]
    parts += [plain(line, style="dim") for line in _footer(result)]
    step = next_step(result, local=os.environ.get("GITHUB_ACTIONS") != "true")
    if step:
        parts.append(plain(f"next step: {step}", style="bold"))
    style = STYLES.get(result.verdict, "white")
    title = f"[bold {style}]{result.verdict.upper()}[/] {escape(printable(headline(result), None))}"
    console.print(Panel(Group(*parts), title=title, title_align="left", border_style=style))
