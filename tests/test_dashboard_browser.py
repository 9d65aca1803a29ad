"""The dashboard in a real browser: Debian's Chromium, headless, driven by Selenium through
Debian's chromedriver (no browser download; Selenium Manager is never asked). Assertions
are about what a person sees: points per branch, the tooltip's words, names as text.

Without Chromium these tests skip, except in CI (`CI` or PEPR_REQUIRE_BROWSER=1), where
.ci/run installs it and a missing browser is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from pepr_gate.config import Config, load_config
from pepr_gate.publish.dashboard.data import Verdict
from pepr_gate.publish.dashboard.site import render_site, write_site
from pepr_gate.records import RunRecord
from pepr_gate.services.dashboard import make_site

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("PEPR_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("PEPR_CHROMEDRIVER", "/usr/bin/chromedriver")
HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
Make = Callable[..., RunRecord]


def _need_browser() -> None:
    if shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER):
        return
    if os.environ.get("CI") or os.environ.get("PEPR_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{CHROMIUM} or {CHROMEDRIVER} is missing but CI requires the browser "
                    "tests; .ci/run installs chromium and chromium-driver")
    pytest.skip("Chromium not installed (apt-get install chromium chromium-driver)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _need_browser()
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must never download
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1000"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


class Page:
    def __init__(self, driver: Any, site: Path) -> None:
        self.driver = driver
        self.site = site

    def open(self) -> Page:
        self.driver.get_log("browser")  # drop what earlier pages logged
        self.driver.get((self.site / "index.html").as_uri())
        deadline = time.monotonic() + 20
        while not self.js("return !!(window.peprDashboard && window.peprDashboard.ready)"):
            assert time.monotonic() < deadline, "the page never finished drawing"
            time.sleep(0.05)
        return self

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def text(self, element_id: str) -> str:
        return str(self.driver.find_element("id", element_id).text)

    def points(self, panel: str) -> dict[str, int]:
        found: dict[str, int] = self.js("return window.peprDashboard.pointsByBranch(arguments[0])",
                                        panel)
        return found

    def tick(self, branch: str) -> None:
        for label in self.driver.find_elements("css selector", "#branch-list label"):
            if label.get_attribute("data-branch") == branch:
                label.find_element("tag name", "input").click()
                return
        raise AssertionError(f"no checkbox for branch {branch!r}")

    def hover(self, panel: str, run_id: str) -> str:
        from selenium.webdriver.common.action_chains import ActionChains

        spot = self.js("return window.peprDashboard.pointFor(arguments[0], arguments[1])",
                       panel, run_id)
        assert spot is not None, f"run {run_id} is not drawn on {panel}"
        canvas = self.driver.find_element(
            "css selector", f'figure[data-key="{panel}"] canvas')
        size = canvas.size
        ActionChains(self.driver).move_to_element_with_offset(
            canvas, int(spot["x"] - size["width"] / 2), int(spot["y"] - size["height"] / 2)
        ).perform()
        tip = self.driver.find_element("id", "tooltip")
        deadline = time.monotonic() + 5
        while not tip.is_displayed():
            assert time.monotonic() < deadline, "no tooltip appeared"
            time.sleep(0.05)
        return str(tip.text)

    def errors(self) -> list[str]:
        return [e["message"] for e in self.driver.get_log("browser") if e["level"] == "SEVERE"]


def build(tmp_path: Path, runs: list[RunRecord], *, config: Config | None = None,
          branches: list[str] | None = None, verdicts: dict[str, Verdict] | None = None,
          repo: str | None = "https://github.com/octo/net") -> Path:
    site = make_site(runs, config or Config(), store="sqlite:///.pepr/history.db",
                     branches=branches, repo=repo, verdicts=verdicts)
    out = tmp_path / "site"
    write_site(render_site(site), out)
    return out


@pytest.fixture
def history(make_record: Make) -> list[RunRecord]:
    """30 runs on main (the last 10 with estimated energy), 12 on dev, 3 on a hostile branch."""
    runs = [make_record(branch="main", sha=f"{i:02d}" + "a" * 38, energy_kwh=0.008 + i * 1e-4)
            for i in range(30)]
    for run in runs[20:]:
        run.resources.energy_method = "estimated"
    runs += [make_record(branch="dev", sha="d" * 40) for _ in range(12)]
    runs += [make_record(branch=HOSTILE) for _ in range(3)]
    runs.append(make_record(branch="main", status="failed"))
    return runs


def test_points_per_branch_and_switching_branches(browser: Any, tmp_path: Path,
                                                  history: list[RunRecord]) -> None:
    page = Page(browser, build(tmp_path, history)).open()
    assert page.points("pepr:PePR-E") == {"main": 30}  # the failed run has no PePR
    assert page.points("energy") == {"main": 30}
    caption = browser.find_element("css selector", 'figure[data-key="energy"] figcaption').text
    assert "main: 30" in caption
    page.tick("dev")
    assert page.points("pepr:PePR-E") == {"main": 30, "dev": 12}
    page.tick("main")
    assert page.points("pepr:PePR-E") == {"dev": 12}
    rows = browser.find_elements("css selector", "#runs-table tbody tr")
    assert len(rows) == 12 and all("dev" in r.text for r in rows)
    assert page.errors() == []


def test_tooltip_shows_the_runs_values_and_methods(browser: Any, tmp_path: Path,
                                                   history: list[RunRecord]) -> None:
    page = Page(browser, build(tmp_path, history)).open()
    run = history[25]  # estimated energy
    text = page.hover("energy", run.id)
    assert f"run {run.id}" in text
    assert "branch: main" in text and f"commit: {run.git.sha[:12]}" in text  # type: ignore[union-attr]
    assert run.created_at.strftime("%Y-%m-%d %H:%M") in text
    energy = run.resources.energy_kwh
    assert energy is not None and 0.001 <= energy < 1  # shown in Wh, as a person writes it
    assert f"energy: {float(f'{energy * 1000:.4g}')} Wh (estimated)" in text
    assert "duration: 42.5 s (measured)" in text
    assert "click to open the commit" in text
    measured = history[3]
    assert "Wh (measured)" in page.hover("energy", measured.id)
    assert page.errors() == []


def test_measured_and_estimated_points_look_different_with_a_legend(
    browser: Any, tmp_path: Path, history: list[RunRecord]
) -> None:
    page = Page(browser, build(tmp_path, history)).open()
    styles = page.js("""
        var c = window.peprDashboard.charts["energy"], out = {};
        c.data.datasets.forEach(function (s) { if (s.kind === "points")
            out[s.method] = [s.pointStyle, s.backgroundColor, s.data.length]; });
        return out;""")
    assert styles["0"][2] == 20 and styles["2"][2] == 10
    assert styles["0"][:2] != styles["2"][:2]  # another shape and no fill
    legend = page.text("legend")
    assert "measured" in legend and "estimated" in legend


def test_verdict_markers_and_budget_lines(browser: Any, tmp_path: Path,
                                          history: list[RunRecord]) -> None:
    config = Config.model_validate({"gate": {"budgets": {"energy_kwh": 0.0095}}})
    marks = {history[5].id: Verdict("fail", "PePR-E dropped 9%", "2025-03-02T00:00:00+00:00"),
             history[6].id: Verdict("accepted", "label pepr-gate: accept", "")}
    page = Page(browser, build(tmp_path, history, config=config, verdicts=marks)).open()
    legend = page.text("legend")
    assert "verdict: fail" in legend and "verdict: accepted" in legend and "budget" in legend
    drawn = page.js("""
        var c = window.peprDashboard.charts["energy"], out = {};
        c.data.datasets.forEach(function (s) {
            if (s.kind === "verdict") out[s.verdict] = s.data.length;
            if (s.kind === "budget") out.budget = s.data.map(function (p) { return p.y; }); });
        return out;""")
    assert drawn == {"fail": 1, "accepted": 1, "budget": [0.0095, 0.0095]}
    text = page.hover("pepr:PePR-E", history[5].id)
    assert "verdict: fail — PePR-E dropped 9%" in text
    assert page.errors() == []


def test_hostile_branch_names_are_text(browser: Any, tmp_path: Path,
                                       history: list[RunRecord]) -> None:
    page = Page(browser, build(tmp_path, history)).open()
    labels = [lab.text for lab in browser.find_elements("css selector", "#branch-list label")]
    assert f"{HOSTILE} (3)" in labels
    page.tick(HOSTILE)
    assert page.points("pepr:PePR-E")[HOSTILE] == 3
    hostile_run = history[42]
    assert f"branch: {HOSTILE}" in page.hover("pepr:PePR-E", hostile_run.id)
    assert browser.find_elements("css selector", "main img, main script") == []
    assert page.js("return window.__pwned === undefined")
    assert HOSTILE in page.text("runs-table")
    assert page.errors() == []


def test_empty_store_and_branch_without_runs_say_so(browser: Any, tmp_path: Path,
                                                    make_record: Make) -> None:
    page = Page(browser, build(tmp_path, [])).open()
    assert "No runs stored yet" in page.text("message")
    assert browser.find_elements("css selector", "canvas") == []
    assert page.errors() == []
    shutil.rmtree(tmp_path / "site")
    page = Page(browser, build(tmp_path, [make_record(branch="main")],
                               branches=["gone", "main"])).open()
    assert "No runs stored for branch gone" in page.text("message")
    page.tick("main")
    assert page.points("P") == {"main": 1}
    assert page.errors() == []


def test_fifty_thousand_runs_are_paged(browser: Any, tmp_path: Path, make_record: Make) -> None:
    one = make_record(branch="main")
    runs = [one.model_copy(update={"id": f"run-{i:05d}",
                                   "created_at": one.created_at + timedelta(minutes=i)})
            for i in range(50_000)]
    page = Page(browser, build(tmp_path, runs)).open()
    assert "runs 1–500 of 50000" in page.text("window-text")
    assert page.points("pepr:PePR-E") == {"main": 500}
    assert len(browser.find_elements("css selector", "#runs-table tbody tr")) == 50
    browser.find_element("id", "older").click()
    assert "runs 501–1000 of 50000" in page.text("window-text")
    newest_on_page = page.js("""var c = window.peprDashboard.charts["P"];
        return Math.max.apply(null, c.data.datasets[1].data.map(function (p) { return p.x; }));""")
    assert newest_on_page == int(runs[-501].created_at.timestamp() * 1000)
    assert page.errors() == []


def test_readable_on_a_phone_and_dark_when_asked(browser: Any, tmp_path: Path,
                                                 history: list[RunRecord]) -> None:
    site = build(tmp_path, history)
    browser.set_window_size(390, 844)
    try:
        page = Page(browser, site).open()
        widths = page.js("return [document.documentElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1], "the page scrolls sideways on a phone"
        light = page.js("return getComputedStyle(document.body).backgroundColor")
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {
            "features": [{"name": "prefers-color-scheme", "value": "dark"}]})
        page.open()
        dark = page.js("return getComputedStyle(document.body).backgroundColor")
        assert light == "rgb(255, 255, 255)" and dark == "rgb(13, 17, 23)"
        assert page.points("energy") == {"main": 30}
        assert page.errors() == []
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
        browser.set_window_size(1280, 1000)


def test_the_cli_site_opens_from_disk(browser: Any, tmp_path: Path,
                                      history: list[RunRecord]) -> None:
    from pepr_gate.cli import main
    from pepr_gate.store import open_store

    url = f"sqlite:///{tmp_path / 'h.db'}"
    with open_store(url, root=tmp_path) as store:
        for run in history:
            store.append(run)
    toml = tmp_path / "pepr.toml"
    toml.write_text('[gate]\nbase_branch = "dev"\n[dashboard]\ntitle = "Net history"\n')
    assert load_config(toml).dashboard.title == "Net history"
    assert main(["dashboard", "--config", str(toml), "--store", url,
                 "--out", str(tmp_path / "site")]) == 0
    page = Page(browser, tmp_path / "site").open()
    assert browser.title == "Net history"
    assert page.points("pepr:PePR-E") == {"dev": 12}  # the configured base branch first
    data = json.loads((tmp_path / "site" / "verdicts.json").read_text())
    assert data["runs"] == {}
    assert page.errors() == []


def test_a_click_opens_the_commit(browser: Any, tmp_path: Path,
                                  history: list[RunRecord]) -> None:
    page = Page(browser, build(tmp_path, history)).open()
    run = history[7]
    page.js("window.__opened = []; window.open = function (u) { window.__opened.push(u); };")
    page.hover("duration", run.id)
    canvas = browser.find_element("css selector", 'figure[data-key="duration"] canvas')
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(browser).click().perform()  # where the pointer is: on the run's point
    sha = run.git.sha if run.git else None
    assert page.js("return window.__opened") == [f"https://github.com/octo/net/commit/{sha}"]
    link = browser.find_element("css selector", f'#runs-table tr[data-run="{run.id}"] a')
    assert link.get_attribute("href") == f"https://github.com/octo/net/commit/{sha}"
    assert canvas.is_displayed() and page.errors() == []
