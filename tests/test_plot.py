"""The PePR profile plot: a readable PNG, the Pareto front, labels that never overlap."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from pepr_gate.cli import main
from pepr_gate.leaderboard.io import only_groups, read_csv
from pepr_gate.leaderboard.table import score_table
from pepr_gate.publish.plot import iso_levels, pareto_front, plot_profile

PAPER = Path(__file__).parent / "data" / "pepr-paper" / "full_data_pepr_dataset_level.csv"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_pareto_front_keeps_only_undominated_models() -> None:
    r = np.array([0.0, 0.1, 0.2, 0.3, 0.5, 0.5])
    p = np.array([0.5, 0.4, 0.7, 0.6, 0.9, 0.8])
    assert pareto_front(r, p).tolist() == [0, 2, 4]


def test_iso_levels_are_round_and_below_the_best() -> None:
    levels = iso_levels(0.3, 0.835)
    assert levels and all(c < 0.835 for c in levels)
    assert all(round(c, 2) == c for c in levels)


def test_derma_pt_profile_labels_do_not_overlap(tmp_path: Path) -> None:
    table = read_csv(PAPER, performance="test_09", resources=["energy", "co2", "train_time",
                     "memR"], name=None, group="dataset")
    lb = score_table(only_groups(table, ["derma_pt"]))
    out = tmp_path / "derma_pt.png"
    fig = plot_profile(lb, out, top=5)
    assert out.read_bytes().startswith(PNG_MAGIC)
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    from matplotlib.text import Annotation, Text

    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert len(panels) == 4
    for ax in panels:
        assert ax.get_xlabel().startswith("R = ") and "min-max" in ax.get_xlabel()
        assert ax.get_ylabel() == "P = test_09 (fraction, 0-1)"
        labels = [a for a in ax.texts if isinstance(a, Annotation) and a.arrow_patch]
        texts = [a.get_text() for a in labels]
        assert len(labels) == 6 and texts[5].endswith("edgenext_base  (best P)")
        assert texts[0].startswith("1. ghostnet_100")
        boxes = [Text.get_window_extent(a, renderer) for a in labels]
        for a, b in itertools.combinations(boxes, 2):
            assert not a.overlaps(b)
        frame = ax.get_window_extent(renderer)
        assert all(frame.x0 <= b.x0 and b.x1 <= frame.x1 for b in boxes)
        iso = [a.get_text() for a in ax.texts if isinstance(a, Annotation) and not a.arrow_patch]
        assert len(iso) >= 3  # the best line's value and round values on the frame
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "Pareto front" in legend and "top 5 by PePR" in legend


def _marker_extents(ax: object, renderer: object) -> list[object]:
    """Each scatter marker's pixel box, from matplotlib's own transforms and sizes."""
    from matplotlib.transforms import Bbox

    out = []
    for coll in ax.collections:  # type: ignore[attr-defined]
        offsets = coll.get_offsets()
        sizes = np.resize(coll.get_sizes(), len(offsets))
        for (x, y), s in zip(ax.transData.transform(offsets), sizes, strict=True):  # type: ignore[attr-defined]
            r = np.sqrt(s) * ax.figure.dpi / 72 / 2  # type: ignore[attr-defined]
            out.append(Bbox.from_extents(x - r, y - r, x + r, y + r))
    return out


@pytest.mark.parametrize("group", ["derma_pt", "lidc"])
def test_labels_cover_no_point_and_not_the_legend(tmp_path: Path, group: str) -> None:
    from matplotlib.text import Annotation, Text

    table = read_csv(PAPER, performance="test_09", resources=["energy", "co2", "train_time",
                     "memR"], name=None, group="dataset")
    fig = plot_profile(score_table(only_groups(table, [group])), tmp_path / "p.png", top=5)
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    legend = fig.legends[0].get_window_extent(renderer)
    checked = 0
    for ax in (a for a in fig.axes if a.get_visible()):
        markers = _marker_extents(ax, renderer)
        assert len(markers) > 10
        assert not ax.get_window_extent(renderer).overlaps(legend)
        for label in (a for a in ax.texts if isinstance(a, Annotation) and a.arrow_patch):
            box = Text.get_window_extent(label, renderer)
            assert not box.overlaps(legend), label.get_text()
            covered = [m for m in markers if box.overlaps(m)]
            assert not covered, f"{label.get_text()!r} covers {len(covered)} marker(s)"
            checked += 1
    assert checked >= 24  # 6 labels in each of the 4 panels


def test_cli_plot_one_panel_per_group_and_variant(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "t.csv"
    f.write_text("model,P,energy,time,g\na,0.9,2,30,x\nb,0.8,1,20,x\nc,0.7,4,10,y\n"
                 "d,0.95,8,60,y\ne,0.6,8,60,y\n", encoding="utf-8")
    out = tmp_path / "plots" / "profile.png"
    assert main(["score", str(f), "--resource", "energy,time", "--group", "g",
                 "--plot", str(out)]) == 0
    data = out.read_bytes()
    assert data.startswith(PNG_MAGIC)
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width > height  # 2 groups x 2 variants: one row per group
    assert width >= 1000
