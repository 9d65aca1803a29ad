"""Leaderboards for people: a rich table per group and variant, and the same as Markdown.

Each table shows the top N by PePR and, as the paper's tables do, the most accurate
model too when it is not among them (marked with a star).
"""

from __future__ import annotations

from dataclasses import dataclass

from pepr_gate import units
from pepr_gate.leaderboard.table import Leaderboard, Variant
from pepr_gate.publish.text import escape_md
from pepr_gate.records.ranges import printable

BEST_P_MARK = "★"


@dataclass
class Line:
    rank: int
    name: str
    p: float
    value: float
    r: float
    pepr: float
    best_p: bool
    in_top: bool


def lines_for(lb: Leaderboard, variant: Variant, group: int, top: int) -> list[Line]:
    """The rows one table shows: top N, then the best-P model if it fell outside."""
    rows = lb.ranked(variant, group)
    best = lb.best_p(variant, group)
    shown = [int(i) for i in rows[:top]]
    extra = [] if best in shown else [best]
    t = lb.table
    return [
        Line(int(variant.rank[i]), str(t.names[i]), float(t.performance[i]),
             float(variant.value[i]), float(variant.R[i]), float(variant.pepr[i]),
             i == best, i not in extra)
        for i in shown + extra
    ]


def title(lb: Leaderboard, variant: Variant, group: int) -> str:
    unit = lb.table.units.get(variant.column)
    what = f"{variant.column}, {unit}" if unit else variant.column
    name = lb.group_names[group]
    return f"{name} · {variant.label} ({what})" if len(lb.group_names) > 1 or name != "all" \
        else f"{variant.label} ({what})"


def _caption(lb: Leaderboard, variant: Variant, group: int) -> str:
    n = int((lb.codes == group).sum())
    lo, hi = units.plain(variant.lo[group], 4), units.plain(variant.hi[group], 4)
    norm = (f"R = min({variant.column} / {units.maybe(variant.scale, 4)}, 1)"
            if lb.mode == "scale" else f"R: min-max over {n} ({lo} .. {hi})")
    return f"{BEST_P_MARK} best P · {norm}"


RANKING_NOTE = "ranked by PePR, then higher P, then lower resource, then name"


def print_leaderboard(lb: Leaderboard, *, top: int) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    def plain(text: str) -> Text:  # a model or group name from a file: no markup, no escapes
        return Text(printable(text, None))

    console = Console(highlight=False)
    p_name = printable(lb.table.performance_name, None)
    for g in range(len(lb.group_names)):
        for v in lb.variants:
            table = Table(title=plain(title(lb, v, g)), caption=plain(_caption(lb, v, g)),
                          title_justify="left", caption_justify="left")
            table.add_column("#", justify="right")
            table.add_column("model", overflow="fold")
            table.add_column(plain(f"P ({p_name})"), justify="right")
            table.add_column(plain(v.column), justify="right")
            table.add_column("R", justify="right")
            table.add_column(v.label, justify="right", style="bold")
            for line in lines_for(lb, v, g, top):
                if not line.in_top:
                    table.add_section()
                name = f"{line.name} {BEST_P_MARK}" if line.best_p else line.name
                table.add_row(str(line.rank), plain(name), f"{line.p:.4f}",
                              units.plain(line.value, 4), f"{line.r:.4f}", f"{line.pepr:.4f}")
            console.print(table)
            console.print()
    console.print(RANKING_NOTE)


def render_markdown(lb: Leaderboard, *, top: int) -> str:
    out = [f"# PePR leaderboard ({lb.table.performance_name}, {lb.mode} normalisation)", ""]
    for g in range(len(lb.group_names)):
        for v in lb.variants:
            out += [f"## {escape_md(title(lb, v, g))}", "",
                    f"| # | model | P | {escape_md(v.column)} | R | {v.label} |",
                    "|---:|---|---:|---:|---:|---:|"]
            for line in lines_for(lb, v, g, top):
                name = escape_md(line.name) + (f" {BEST_P_MARK}" if line.best_p else "")
                value = units.plain(line.value, 4)
                out.append(f"| {line.rank} | {name} | {line.p:.4f} | {value} | "
                           f"{line.r:.4f} | {line.pepr:.4f} |")
            out += ["", escape_md(_caption(lb, v, g)), ""]
    out += ["R" + RANKING_NOTE[1:] + ".", ""]
    return "\n".join(out)
