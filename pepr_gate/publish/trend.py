"""The PR comment's trend: a small Mermaid `xychart-beta` of the base branch's PePR.

Drawn to be read at a glance in GitHub's light and dark themes:
- a transparent background, mid-grey axes and text, and a palette that keeps its
  contrast on white and on GitHub's dark grey;
- the y-axis spans the threshold band around the baseline (at least 1.5 x the allowed
  drop either side), so run-to-run noise of a fraction of a percent stays a wobble
  instead of filling the chart;
- the candidate ("this PR", "this commit" on a push) is an orange segment from the last
  base run to its value at the right, beside the blue base line's step to the baseline;
  lines, not bars, because the axis does not start at 0; the fail line is drawn flat and
  the caption says where the axis starts;
- 480 x 240 pixels, a third of Mermaid's default, with smaller tick labels. Mermaid draws
  every x label horizontally, so when short commits would not fit their slots the runs
  are numbered (oldest first) and the caption says which commits the numbers are.
Mermaid has no escaping inside quoted labels, so every label goes through `mermaid_label`.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from pepr_gate.publish.sparkline import sparkline
from pepr_gate.publish.text import mermaid_label
from pepr_gate.records import CheckResult

WIDTH, HEIGHT = 480, 240
LABEL_FONT = 11  # Mermaid's 14 px tick labels overlap at this size
GREY = "#8c959f"  # GitHub's own muted text colour reads on both themes
CANDIDATE, BASE, FAIL_LINE = "#e8590c", "#218bff", GREY
BAND = 1.5  # the y-axis shows this many allowed drops either side of the baseline
CANDIDATE_LABEL = "this PR"
PLOT_WIDTH = WIDTH - 70  # what the y-axis labels and title leave for the x slots
CHAR_PX = 0.6 * LABEL_FONT  # a tick label's average character width

CONFIG = f"""\
---
config:
  theme: base
  xyChart:
    width: {WIDTH}
    height: {HEIGHT}
    xAxis:
      labelFontSize: {LABEL_FONT}
    yAxis:
      labelFontSize: {LABEL_FONT}
  themeVariables:
    xyChart:
      backgroundColor: "transparent"
      titleColor: "{GREY}"
      xAxisLabelColor: "{GREY}"
      xAxisTitleColor: "{GREY}"
      xAxisLineColor: "{GREY}"
      xAxisTickColor: "{GREY}"
      yAxisLabelColor: "{GREY}"
      yAxisTitleColor: "{GREY}"
      yAxisLineColor: "{GREY}"
      yAxisTickColor: "{GREY}"
      plotColorPalette: "{CANDIDATE}, {BASE}, {FAIL_LINE}"
---"""


@dataclass(frozen=True)
class Trend:
    """What the template shows: the sparkline summary line and the Mermaid source."""

    count: int
    spark: str
    first: str
    last: str
    candidate: str | None
    fail_below: str | None
    mermaid: str
    axis_from: str
    legend: str | None = None


def unique_labels(labels: list[str]) -> list[str]:
    """Mermaid x-axis labels, numbered where repeated: Mermaid's band axis keeps one slot
    per distinct label, so repeats of one commit would otherwise pile onto one x."""
    clean = [mermaid_label(label) for label in labels]
    seen: dict[str, int] = {}
    out = []
    for label in clean:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if clean.count(label) == 1 else f"{label} ({seen[label]})")
    return out


def fits(labels: list[str]) -> bool:
    """Whether centred labels leave a gap between each neighbour on the x-axis."""
    slot = PLOT_WIDTH / len(labels)
    widths = [len(label) * CHAR_PX + 4 for label in labels]
    return all((a + b) / 2 <= slot for a, b in itertools.pairwise(widths))


def axis_labels(labels: list[str], candidate: str | None) -> tuple[list[str], str | None]:
    """The x labels and, when they had to be numbered, which commits the numbers are."""
    names = unique_labels(labels)
    tail = [candidate] if candidate else []
    if fits([*names, *tail]):
        return names + tail, None
    groups: list[tuple[int, int, str]] = []  # first and last run number of each commit
    for number, label in enumerate(labels, start=1):
        if groups and groups[-1][2] == label:
            groups[-1] = (groups[-1][0], number, label)
        else:
            groups.append((number, number, label))
    legend = ", ".join((f"{a}" if a == b else f"{a}-{b}") + f" {mermaid_label(label)}"
                       for a, b, label in groups)
    numbers = [str(n) for n in range(1, len(labels) + 1)]
    return numbers + ([candidate] if candidate else []), legend


def y_range(values: list[float], centre: float, threshold: float) -> tuple[float, float]:
    """The threshold band around `centre`, widened to hold every value with a margin."""
    half = max(BAND * threshold * abs(centre), 0.005)
    lo, hi = centre - half, centre + half
    margin = 0.15 * (hi - lo)  # the lowest value still gets a visible bar
    lo, hi = min(lo, min(values) - margin), max(hi, max(values) + margin)
    # Rounded outwards to the 3 decimals the axis prints.
    return max(math.floor(lo * 1000) / 1000, 0.0), math.ceil(hi * 1000) / 1000


def trend(result: CheckResult, candidate_label: str = CANDIDATE_LABEL) -> Trend | None:
    """The chart of the base branch's last runs, with the candidate; None under 2 runs."""
    if len(result.trend) < 2:
        return None
    values = [v for _, v in result.trend]
    labels = [label for label, _ in result.trend]
    base = result.baseline.pepr if result.baseline else None
    cand = result.candidate.pepr
    centre = base if base is not None else sorted(values)[len(values) // 2]
    fail_below = None if base is None else base * (1 - result.threshold)
    shown = values + [v for v in (cand, fail_below) if v is not None]
    lo, hi = y_range(shown, centre, result.threshold)
    series = []
    names, legend = axis_labels(labels, None if cand is None else candidate_label)
    if cand is not None:
        # The candidate is a line from the last base run to its own value, drawn first so
        # the base line covers it up to there: a line needs no zero on the axis, where a
        # bar on an axis that starts near the values would misstate its height.
        series.append(("line", [*values, cand]))
        series.append(("line", [*values, centre]))
    else:
        series.append(("line", values))
    if fail_below is not None:
        series.append(("line", [fail_below] * len(names)))
    variant = mermaid_label(result.variant)
    lines = [
        CONFIG,
        "xychart-beta",
        f'    title "{variant} on the base branch"',
        "    x-axis [" + ", ".join(f'"{label}"' for label in names) + "]",
        f'    y-axis "{variant}" {lo:.3f} --> {hi:.3f}',
        *(f"    {kind} [{', '.join(f'{v:.4f}' for v in points)}]" for kind, points in series),
    ]
    return Trend(
        count=len(values),
        spark=sparkline(values),
        first=f"{values[0]:.3f}",
        last=f"{values[-1]:.3f}",
        candidate=None if cand is None else f"{cand:.3f}",
        fail_below=None if fail_below is None else f"{fail_below:.3f}",
        mermaid="\n".join(lines),
        axis_from=f"{lo:.3f}",
        legend=legend,
    )
