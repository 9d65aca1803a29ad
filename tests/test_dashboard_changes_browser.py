"""Change points on the dashboard, in Chromium: a marker on every panel with the commit
link and the step, boundaries drawn apart, the step in the run's tooltip."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pepr_gate.records import RunRecord
from pepr_gate.services.changes import dashboard_markers
from tests.test_dashboard_browser import Page, build
from tests.test_dashboard_browser import browser as browser

pytestmark = pytest.mark.browser
Make = Callable[..., RunRecord]
PANELS = ("pepr:PePR-E", "P", "energy", "carbon", "duration", "gpu_memory")


def _sha(i: int) -> str:
    return f"{i:03d}" + "c" * 37


@pytest.fixture
def stepped(make_record: Make) -> list[RunRecord]:
    """40 runs on main, PePR 10% lower from run 20; 10 on a new runner from run 40."""
    rng = random.Random(7)
    runs = [make_record(branch="main", sha=_sha(i),
                        pepr=0.6 * (0.9 if i >= 20 else 1.0) * (1 + rng.gauss(0, 0.02)))
            for i in range(40)]
    runs += [make_record(branch="main", sha=_sha(40 + i), pepr=0.5, fingerprint="hw-new")
             for i in range(10)]
    runs += [make_record(branch="dev", sha="d" * 40) for _ in range(8)]
    return runs


def test_markers_are_found_for_the_step_and_the_boundary(stepped: list[RunRecord]) -> None:
    branches = ["main", "dev"]
    markers = dashboard_markers(stepped, branches)
    kinds = {(m["kind"], stepped[m["i"]].git.sha) for m in markers}  # type: ignore[union-attr]
    assert ("boundary", _sha(40)) in kinds
    [change] = [m for m in markers if m["kind"] == "change"]
    assert abs(int(stepped[change["i"]].git.sha[:3]) - 20) <= 1  # type: ignore[union-attr]
    assert change["steps"][0]["metric"] == "PePR" and -0.13 < change["steps"][0]["step"] < -0.07


def test_every_panel_marks_the_change_point_with_link_and_step(
    browser: Any, tmp_path: Path, stepped: list[RunRecord]
) -> None:
    page = Page(browser, build(tmp_path, stepped)).open()
    for panel in PANELS:
        items = browser.find_elements("css selector", f'figure[data-key="{panel}"] ul.changes li')
        texts = [i.text for i in items]
        change = [i for i in items if "change point" in i.text]
        assert len(change) == 1, (panel, texts)
        link = change[0].find_element("tag name", "a")
        run = next(r for r in stepped if r.id == change[0].get_attribute("data-run"))
        sha = run.git.sha  # type: ignore[union-attr]
        assert abs(int(sha[:3]) - 20) <= 1 and link.text == sha[:12]
        assert link.get_attribute("href") == f"https://github.com/octo/net/commit/{sha}"
        step = change[0].text.split("PePR \u2212", 1)[1].split("%")[0]
        assert 7.0 < float(step) < 13.0, change[0].text
        assert any("boundary: the hardware changed" in t for t in texts), texts
        drawn = page.js("""
            var out = {}; window.peprDashboard.charts[arguments[0]].data.datasets.forEach(
              function (s) { out[s.kind] = (out[s.kind] || 0) + 1; }); return out;""", panel)
        assert drawn["change"] == 2 and drawn["changeline"] == 2, (panel, drawn)
    marked = next(r for r in stepped if r.id == change_run(browser))
    tip = page.hover("pepr:PePR-E", marked.id)
    assert "change point: PePR \u2212" in tip and "confidence" in tip
    assert page.errors() == []


def change_run(browser: Any) -> str:
    item = browser.find_element("css selector", 'figure[data-key="P"] ul.changes li.change')
    return str(item.get_attribute("data-run"))


def test_no_markers_on_a_flat_branch(browser: Any, tmp_path: Path,
                                     make_record: Make) -> None:
    runs = [make_record(branch="main", sha=_sha(i)) for i in range(30)]
    page = Page(browser, build(tmp_path, runs)).open()
    assert browser.find_elements("css selector", "ul.changes") == []
    assert page.errors() == []
