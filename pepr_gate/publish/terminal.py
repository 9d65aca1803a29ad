"""The verdict in the terminal: a rich panel with the comparison table and the reasons."""

from __future__ import annotations

from typing import Any

from pepr_gate import units
from pepr_gate.publish.sparkline import sparkline
from pepr_gate.records import CheckResult, Side

STYLES = {"pass": "green", "warn": "yellow", "fail": "red", "inconclusive": "cyan",
          "accepted": "magenta"}


def _fmt(value: float | None, digits: int, unit: str = "") -> str:
    return "—" if value is None else f"{value:.{digits}f}{unit}"


def _r(side: Side | None) -> str:
    if side is None or side.R is None:
        return "—"
    return f"{side.R:.3f}" + (" (capped)" if side.over_scale else "")


def _footer(result: CheckResult) -> list[str]:
    """Dim lines under the reasons: notes, the noise and where it came from, runs, trend."""
    from pepr_gate.publish.markdown import noise_source

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

    console = console or Console()
    b, c = result.baseline, result.candidate
    table = Table(show_edge=False)
    table.add_column("")
    table.add_column(escape(f"baseline ({result.base_branch or '—'})"), justify="right")
    table.add_column(escape(f"candidate ({result.head_branch or '—'})"), justify="right")

    def mem(side: Any) -> float | None:
        v = None if side is None else side.gpu_peak_memory_bytes
        return None if v is None else v / 1e9

    def row(label: str, attr: str, digits: int, unit: str = "") -> None:
        old = None if b is None else getattr(b, attr)
        table.add_row(escape(label), _fmt(old, digits, unit), _fmt(getattr(c, attr), digits, unit))

    row(f"{result.performance_name} (P)", "performance", 3)
    for label, attr, fmt in (("energy", "energy_kwh", units.energy),
                             ("carbon", "carbon_kg", units.carbon)):
        old = None if b is None else getattr(b, attr)
        table.add_row(label, fmt(old), fmt(getattr(c, attr)))
    row("wall time", "duration_s", 1, " s")
    table.add_row("peak GPU memory", _fmt(mem(b), 2, " GB"), _fmt(mem(c), 2, " GB"))
    table.add_row(escape(f"R ({result.resource})"), _r(b), _r(c))
    row(result.variant, "pepr", 3)
    parts: list[Any] = [table, Text("")]
    parts += [Text(f"• {reason}") for reason in result.reasons]
    parts += [Text(line, style="dim") for line in _footer(result)]
    change = "" if result.pepr_change is None else f" {result.pepr_change * 100:+.1f}%"
    style = STYLES[result.verdict]
    title = f"[bold {style}]{result.verdict.upper()}[/] {escape(result.variant)}{change}"
    console.print(Panel(Group(*parts), title=title, title_align="left", border_style=style))
