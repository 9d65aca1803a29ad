"""The PePR profile: every model at (R, P), one panel per group and variant.

Iso-PePR lines P = c (1 + R) show the trade-off: all points on one line score the same,
and a point above a line beats it. The Pareto front (no other model is both more
accurate and cheaper) is marked; the top N and the most accurate model are labelled,
each at the free spot nearest its point, covering no marker, no other label and not
the legend (which sits below the panels). matplotlib is imported here only, through
the Agg canvas (no display, no pyplot state).
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pepr_gate import units
from pepr_gate.errors import InputError
from pepr_gate.fileio.atomic import write_atomic
from pepr_gate.leaderboard.table import Leaderboard, Variant

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PANEL_W, PANEL_H, DPI = 6.4, 4.8, 110
C_ALL, C_FRONT, C_TOP, C_BEST, C_ISO = "#9aa5b1", "#1f6fb2", "#e07b00", "#c0143c", "#6b7785"


def pareto_front(r: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Indices of the models no other model beats on both R (lower) and P (higher)."""
    order = np.lexsort((-p, r))  # by R, the most accurate first among equal R
    best = -math.inf
    keep = []
    for i in order.tolist():
        if p[i] > best:
            keep.append(i)
            best = p[i]
    return np.array(keep, dtype=np.int64)


def iso_levels(lo: float, best: float, count: int = 7) -> list[float]:
    """Round PePR values below the best one, for the reference lines."""
    from matplotlib.ticker import MaxNLocator

    ticks = MaxNLocator(nbins=count, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, best)
    gap = (best - lo) / (count * 3) if best > lo else 0.02
    return [round(float(t), 10) for t in ticks if lo * 0.98 <= t < best - gap and t > 0]


def plot_profile(lb: Leaderboard, path: Path, *, top: int) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = [(g, v) for g in range(len(lb.group_names)) for v in lb.variants]
    # One row per group; a single group's variants wrap two to a row (a 1 x 4 strip is
    # too wide to read on a screen).
    cols = len(lb.variants) if len(lb.group_names) > 1 else min(2, len(lb.variants))
    rows = -(-len(panels) // cols)
    legend_h = 0.8 if cols < 3 else 0.5  # inches: the legend takes two lines when narrow
    fig = Figure(figsize=(PANEL_W * cols, PANEL_H * rows + legend_h), dpi=DPI)
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    labels = [(axes[i], _panel(axes[i], lb, v, g, top)) for i, (g, v) in enumerate(panels)]
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    fig.tight_layout(rect=(0, legend_h / (PANEL_H * rows + legend_h), 1, 1))
    # Labels are placed after the layout is fixed: their positions are in pixels.
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    for ax, panel_labels in labels:
        _place_labels(ax, panel_labels, renderer)
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=len(names) if cols > 2 else 3,
               frameon=False, fontsize=9.5)
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=DPI)
    write_atomic(path, png.getvalue(), error=InputError, hint="choose a writable path for --plot")
    return fig


Label = tuple[float, float, str, str]  # x, y, text, colour


def _panel(ax: Any, lb: Leaderboard, v: Variant, g: int, top: int) -> list[Label]:
    rows = lb.ranked(v, g)
    r, p, score = v.R[rows], lb.table.performance[rows], v.pepr[rows]
    p_lo, p_hi = float(p.min()), float(p.max())
    pad = max(p_hi - p_lo, 0.02)
    ylim = (max(0.0, p_lo - 0.06 * pad), min(1.0, p_hi + 0.10 * pad) + 0.01 * pad)
    ax.set_xlim(-0.03, 1.03)
    ax.set_ylim(*ylim)

    best_c = float(score[0])
    _iso_line(ax, best_c, ylim[1], label_at=None)
    for c in iso_levels(ylim[0] / 2, best_c):
        _iso_line(ax, c, ylim[1], label_at=best_c)

    ax.scatter(r, p, s=14, color=C_ALL, alpha=0.7, linewidths=0, zorder=2,
               label="models")
    front = pareto_front(r, p)
    ax.step(r[front], p[front], where="post", color=C_FRONT, lw=1.2, zorder=3)
    ax.scatter(r[front], p[front], s=30, facecolors="none", edgecolors=C_FRONT, lw=1.2,
               zorder=3, label="Pareto front")
    n = min(top, len(rows))
    ax.scatter(r[:n], p[:n], s=40, color=C_TOP, zorder=4, label=f"top {top} by PePR")
    best = int(np.argmax(p))  # rows are in rank order: argmax finds the best-ranked of equals
    ax.scatter([r[best]], [p[best]], s=150, marker="*", color=C_BEST, zorder=5,
               label="best P (most accurate)")

    names = lb.table.names[rows]
    labelled = list(range(n)) + ([best] if best >= n else [])
    labels = [
        (float(r[i]), float(p[i]),
         f"{i + 1}. {names[i]}" + ("  (best P)" if i == best else ""),
         C_BEST if i == best else "black")
        for i in labelled
    ]

    unit = lb.table.units.get(v.column)
    unit_txt = f" {unit}" if unit else ""
    if lb.mode == "pool":
        ax.set_xlabel(f"R = {v.column} min-max normalised, 0 = {units.plain(v.lo[g], 4)}"
                      f"{unit_txt}, 1 = {units.plain(v.hi[g], 4)}{unit_txt}")
    else:
        ax.set_xlabel(f"R = min({v.column} / {units.maybe(v.scale, 4)}{unit_txt}, 1)")
    ax.set_ylabel(f"P = {lb.table.performance_name} (fraction, 0-1)")
    group = lb.group_names[g]
    ax.set_title(f"{group} · {v.label}" if group != "all" else v.label, fontweight="bold",
                 pad=16)
    ax.grid(True, color="#e5e8eb", lw=0.6, zorder=0)
    return labels


def _iso_line(ax: Any, c: float, y_top: float, *, label_at: float | None) -> None:
    """Draw P = c (1 + R); label it on the frame where it leaves the panel.

    `label_at` is the best line's c (None for the best line itself): a label that would
    sit on top of the best line's label is left out, the line is still drawn.
    """
    best = label_at is None
    xs = np.linspace(0.0, 1.0, 50)
    ax.plot(xs, c * (1 + xs), color=C_TOP if best else C_ISO, lw=1.1 if best else 0.7,
            ls="--" if best else ":", zorder=1,
            label="iso-PePR line P = c (1 + R), c on the frame" if best else None)
    end = y_top / c - 1.0
    text = f"{c:.3f}" if best else f"{c:.2f}"
    style = {"fontsize": 7.5, "color": C_TOP if best else C_ISO, "clip_on": False}
    if end >= 1.0:  # leaves through the right edge
        ax.annotate(text, xy=(1.0, 2 * c), xycoords=("axes fraction", "data"),
                    xytext=(3, 0), textcoords="offset points", ha="left", va="center",
                    **style)
        return
    if not best and label_at is not None and abs(end - (y_top / label_at - 1.0)) < 0.07:
        return
    ax.annotate(text, xy=(end, y_top), xycoords="data", xytext=(0, 2),
                textcoords="offset points", ha="center", va="bottom", **style)


def _marker_boxes(ax: Any) -> np.ndarray:
    """Pixel boxes (x0, y0, x1, y1) of every scatter marker drawn in `ax`."""
    boxes = []
    dpi = ax.figure.dpi
    for coll in ax.collections:
        offsets = np.asarray(coll.get_offsets(), dtype=np.float64)
        if not len(offsets):
            continue
        centres = ax.transData.transform(offsets)
        sizes = np.resize(np.asarray(coll.get_sizes(), dtype=np.float64), len(centres))
        radius = np.sqrt(sizes) * dpi / 72 / 2 + 1.5  # + half the edge line and a margin
        boxes.append(np.column_stack([centres[:, 0] - radius, centres[:, 1] - radius,
                                      centres[:, 0] + radius, centres[:, 1] + radius]))
    return np.vstack(boxes) if boxes else np.zeros((0, 4))


def _candidates(px: float, py: float, w: float, h: float, frame: Any) -> np.ndarray:
    """Boxes a w x h label may take, nearest to its point (px, py) first: beside the
    point, then anywhere in the frame on a grid of half a label's height."""
    xs = np.arange(frame.x0 + 3, frame.x1 - w - 3, 6.0)
    ys = np.arange(frame.y0 + 3, frame.y1 - h - 3, h / 2)
    gx, gy = np.meshgrid(xs, ys)
    x0, y0 = gx.ravel(), gy.ravel()
    # distance from the point to the label's nearer vertical edge, at the label's middle
    dx = np.minimum(np.abs(x0 - px), np.abs(x0 + w - px))
    dy = y0 + h / 2 - py
    order = np.argsort(np.hypot(dx, dy * 1.5), kind="stable")
    return np.column_stack([x0, y0, x0 + w, y0 + h])[order]


def _overlaps(cands: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """How many of `boxes` each candidate box overlaps."""
    if not len(boxes):
        return np.zeros(len(cands), dtype=np.int64)
    c, b = cands[:, None, :], boxes[None, :, :]
    hit = ((c[..., 0] < b[..., 2]) & (c[..., 2] > b[..., 0])
           & (c[..., 1] < b[..., 3]) & (c[..., 3] > b[..., 1]))
    return np.asarray(hit.sum(axis=1))


def _place_labels(ax: Any, labels: list[Label], renderer: Any) -> None:
    """Greedy placement, in rank order: each label takes the free spot nearest its point
    (inside the frame, covering no marker and no label placed before it), joined to the
    point by a leader line. The nearest spot with the fewest overlaps is the fallback
    when a panel is full. Simple and deterministic; a label never hides a point."""
    if not labels:
        return
    from matplotlib.text import Text

    frame = ax.get_window_extent(renderer)
    taken = _marker_boxes(ax)
    for x, y, text, color in labels:
        t = ax.annotate(text, xy=(x, y), xycoords="data", fontsize=8, color=color,
                        textcoords="figure pixels", xytext=(0, 0), va="center",
                        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none",
                              "alpha": 0.85},
                        arrowprops={"arrowstyle": "-", "color": "#55606b", "lw": 0.6,
                                    "shrinkA": 0, "shrinkB": 3}, zorder=6)
        # Text's own extent: the annotation's would include its (not yet placed) leader.
        size = Text.get_window_extent(t, renderer)
        w, h = size.width + 4, size.height + 4  # the white box's padding, and a margin
        px, py = ax.transData.transform((x, y))
        cands = _candidates(px, py, w, h, frame)
        if not len(cands):  # a label wider than the panel: keep it beside its point
            t.set_position((px + 12, py))
            continue
        hits = _overlaps(cands, taken)
        best = cands[int(np.argmin(hits))]  # the first (nearest) among the fewest overlaps
        t.set_position((best[0] + 2, (best[1] + best[3]) / 2))
        taken = np.vstack([taken, best[None, :]])
