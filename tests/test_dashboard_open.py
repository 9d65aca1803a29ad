"""The dashboard as a new user meets it: it opens on the branch a `--check` judged (where
the fail marker is), each branch keeps its colour from build to build, and carbon in the
run table reads in g or mg CO2eq, not 2.613e-6 kg."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from pepr_gate.cli import main
from pepr_gate.publish.dashboard.site import PALETTE, branch_colours
from pepr_gate.records import CheckResult, RunRecord, Side
from pepr_gate.store import open_store

Make = Callable[..., RunRecord]


def payload(site: Path) -> dict[str, Any]:
    text = (site / "data" / "runs.js").read_text()
    data: dict[str, Any] = json.loads(text[len("window.PEPR_DASHBOARD="):-2])
    return data


def fill(url: str, root: Path, records: list[RunRecord]) -> None:
    with open_store(url, root=root) as store:
        for record in records:
            store.append(record)


def failed_check(run_ids: list[str], head: str) -> CheckResult:
    side = Side(run_ids=run_ids, pepr=0.5, performance=0.9, resource_value=0.01, R=0.8)
    return CheckResult(created_at=datetime(2025, 3, 2, tzinfo=timezone.utc), verdict="fail",
                       reasons=["PePR-E fell 17%"], variant="PePR-E", resource="energy",
                       performance_name="accuracy", candidate=side, threshold=0.05,
                       base_branch="main", head_branch=head)


@pytest.fixture
def site_with_check(tmp_path: Path, make_record: Make) -> Path:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    pr = [make_record(branch="wider", energy_kwh=2.613e-6) for _ in range(3)]
    fill(url, tmp_path, [make_record(branch="main", energy_kwh=2.5e-6) for _ in range(5)]
         + [make_record(branch="dev") for _ in range(2)] + pr)
    check = tmp_path / "check.json"
    check.write_text(failed_check([r.id for r in pr], "wider").to_json())
    out = tmp_path / "site"
    assert main(["dashboard", "--store", url, "--out", str(out), "--check", str(check)]) == 0
    return out


def test_a_check_opens_the_page_on_its_branch_and_base(site_with_check: Path) -> None:
    data = payload(site_with_check)
    assert data["open_branches"] == ["wider", "main"]
    assert data["base_branch"] == "main"


def test_colours_follow_the_branch_name_not_its_position() -> None:
    before = dict(zip(["main", "dev"], branch_colours(["main", "dev"]), strict=True))
    grown = ["main", "a-new-branch", "dev", "zz", "feature/x"]
    after = dict(zip(grown, branch_colours(grown), strict=True))
    assert after["main"] == before["main"] and after["dev"] == before["dev"]
    assert len(set(after.values())) == len(grown)  # no two branches share one
    many = [f"b{i}" for i in range(25)]
    assert set(branch_colours(many)) == set(PALETTE)  # past ten, colours come round again


def test_the_build_carries_the_colours(site_with_check: Path) -> None:
    data = payload(site_with_check)
    assert data["colors"] == branch_colours(data["branches"])


def test_the_browser_opens_on_the_checked_branch_with_carbon_in_grams(
        site_with_check: Path) -> None:
    from tests.test_dashboard_browser import Page, _need_browser

    _need_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    from tests.test_dashboard_browser import CHROMEDRIVER, CHROMIUM

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1000"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        page = Page(driver, site_with_check).open()
        assert page.points("pepr:PePR-E") == {"wider": 3, "main": 5}
        swatches = page.js(
            "return Array.from(document.querySelectorAll('#branch-list label')).map("
            "function (l) { return [l.dataset.branch, l.querySelector('.swatch')"
            ".style.background]; })")
        colours = dict(zip(payload(site_with_check)["branches"],
                           payload(site_with_check)["colors"], strict=True))
        for name, css in swatches:
            r, g, b = (int(colours[name][k:k + 2], 16) for k in (1, 3, 5))
            assert css == f"rgb({r}, {g}, {b})", name
        cells = page.js("return Array.from(document.querySelectorAll('#runs-table tbody tr'))"
                        ".map(function (tr) { return tr.cells[7].textContent; })")
        assert cells and all(c.endswith(("mg CO2eq", "g CO2eq")) for c in cells), cells
        assert not any("e-" in c for c in cells)
        assert page.errors() == []
    finally:
        driver.quit()
