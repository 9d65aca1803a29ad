"""`pepr-gate dashboard` without a browser: the files it writes, what it refuses, and the
git data branch getting runs and `site/` in one commit. What the page shows is checked in
Chromium by tests/test_dashboard_browser.py."""

from __future__ import annotations

import json
import re
import subprocess
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from pepr_gate.cli import main
from pepr_gate.records import CheckResult, RunRecord, Side
from pepr_gate.store import open_store
from pepr_gate.store.git import GitStore

Make = Callable[..., RunRecord]
ASSETS = Path(__file__).resolve().parents[1] / "pepr_gate" / "publish" / "dashboard" / "assets"
HOSTILE = '<img src=x onerror="alert(1)">&</script>'


def payload(site: Path) -> dict[str, Any]:
    text = (site / "data" / "runs.js").read_text()
    assert text.startswith("window.PEPR_DASHBOARD=") and text.endswith(";\n")
    data: dict[str, Any] = json.loads(text[len("window.PEPR_DASHBOARD="):-2])
    return data


def fill(url: str, root: Path, records: list[RunRecord]) -> None:
    with open_store(url, root=root) as store:
        for record in records:
            store.append(record)


def test_writes_an_offline_site_with_the_vendored_library_and_its_license(
    tmp_path: Path, make_record: Make, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    fill(url, tmp_path, [make_record(branch="main") for _ in range(3)])
    out = tmp_path / "site"
    assert main(["dashboard", "--store", url, "--out", str(out), "--title", "Net"]) == 0
    assert "3 run(s)" in capsys.readouterr().out
    html = (out / "index.html").read_text()
    # Offline: every script and style is a relative path inside the site.
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(not s.startswith(("http", "//")) for s in sources)
    for source in sources:
        assert (out / source).is_file(), source
    assert "<title>Net</title>" in html
    library = (out / "assets" / "chart.umd.min.js").read_text()
    version = re.search(r"Chart\.js v(\d+\.\d+\.\d+)", library)
    assert version and f"| {version[1]} |" in (out / "assets" / "VENDORED.md").read_text()
    assert "MIT License" in (out / "assets" / "chart.js-LICENSE.md").read_text()
    data = payload(out)
    assert data["title"] == "Net" and data["base_branch"] == "main"
    assert len(data["runs"]["id"]) == 3


def test_empty_store_gives_a_page_that_says_so(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    fill(url, tmp_path, [])
    out = tmp_path / "site"
    assert main(["dashboard", "--store", url, "--out", str(out)]) == 0
    data = payload(out)
    assert data["runs"]["id"] == [] and data["branches"] == [] and data["base_branch"] is None


def test_missing_store_file_is_bad_input(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["dashboard", "--store", f"sqlite:///{tmp_path / 'nope.db'}",
                 "--out", str(tmp_path / "site")])
    assert code == 2
    assert "nope.db" in capsys.readouterr().err
    assert not (tmp_path / "site").exists()


def test_branches_limit_and_a_named_branch_without_runs(tmp_path: Path, make_record: Make) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    runs = [make_record(branch="main") for _ in range(5)]
    runs += [make_record(branch="dev") for _ in range(2)] + [make_record(branch="other")]
    fill(url, tmp_path, runs)
    out = tmp_path / "site"
    args = ["dashboard", "--store", url, "--out", str(out), "--branch", "dev",
            "--branch", "main", "--branch", "gone", "--limit", "3"]
    assert main(args) == 0
    data = payload(out)
    assert data["branches"] == ["dev", "main", "gone"] and data["base_branch"] == "dev"
    kept = {r.id for r in runs[2:5]} | {r.id for r in runs[5:7]}
    assert set(data["runs"]["id"]) == kept  # the newest 3 of main, both of dev, none of other


def test_hostile_names_stay_data_and_credentials_never_reach_the_site(
    tmp_path: Path, make_record: Make
) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    fill(url, tmp_path, [make_record(branch=HOSTILE)])
    out = tmp_path / "site"
    args = ["dashboard", "--store", url, "--out", str(out), "--title", HOSTILE,
            "--repo-url", "https://x-access-token:s3cret@github.com/o/r.git?token=t0k"]
    assert main(args) == 0
    script = (out / "data" / "runs.js").read_text()
    assert "<" not in script and ">" not in script  # nothing in the data can close a tag
    assert payload(out)["branches"] == [HOSTILE]
    html = (out / "index.html").read_text()
    assert "<img" not in html and "&lt;img src=x" in html
    site_text = "".join(p.read_text(errors="replace") for p in out.rglob("*") if p.is_file())
    assert "s3cret" not in site_text and "t0k" not in site_text
    assert payload(out)["repo_url"] == "https://github.com/o/r"


def test_bad_repo_url_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    fill(url, tmp_path, [])
    code = main(["dashboard", "--store", url, "--out", str(tmp_path / "s"),
                 "--repo-url", "javascript:alert(1)"])
    assert code == 2 and "--repo-url" in capsys.readouterr().err


def test_a_foreign_folder_is_never_overwritten(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    fill(url, tmp_path, [])
    out = tmp_path / "docs"
    out.mkdir()
    (out / "index.html").write_text("my own page")
    assert main(["dashboard", "--store", url, "--out", str(out)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert (out / "index.html").read_text() == "my own page"


def check_result(run_ids: list[str], verdict: str) -> CheckResult:
    side = Side(run_ids=run_ids, pepr=0.6, performance=0.9, resource_value=0.01, R=0.5)
    return CheckResult(created_at=datetime(2025, 3, 2, tzinfo=timezone.utc), verdict=verdict,
                       reasons=[f"PePR-E {verdict}: drop of 9%"], variant="PePR-E",
                       resource="energy", performance_name="accuracy", candidate=side,
                       threshold=0.05)


def test_verdicts_from_checks_are_marked_and_kept_by_later_builds(
    tmp_path: Path, make_record: Make
) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    runs = [make_record(branch="main") for _ in range(3)]
    fill(url, tmp_path, runs)
    check = tmp_path / "check.json"
    check.write_text(check_result([runs[1].id], "fail").to_json())
    out = tmp_path / "site"
    assert main(["dashboard", "--store", url, "--out", str(out), "--check", str(check)]) == 0
    assert main(["dashboard", "--store", url, "--out", str(out)]) == 0  # no --check this time
    data = payload(out)
    marks = dict(zip(data["runs"]["id"], data["runs"]["verdict"], strict=True))
    assert marks == {runs[0].id: None, runs[1].id: "fail", runs[2].id: None}
    assert data["runs"]["reason"][1] == "PePR-E fail: drop of 9%"


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture
def checkout(tmp_path: Path, git_env: dict[str, str]) -> Path:
    bare = tmp_path / "origin.git"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    work = tmp_path / "work"
    git("init", "-q", "-b", "main", str(work), cwd=tmp_path)
    git("remote", "add", "origin", str(bare), cwd=work)
    return work


def site_builder(name: str) -> Callable[..., dict[str, bytes]]:
    def build(runs: list[RunRecord], read: Callable[[str], bytes | None]) -> dict[str, bytes]:
        before = read("index.html")  # what the tip had before
        ids = ",".join(sorted(r.id for r in runs))
        return {"index.html": f"{name}: {len(runs)}".encode(), "ids.txt": ids.encode(),
                **({"previous.txt": before} if before else {})}
    return build


def test_git_store_commits_runs_and_site_together(checkout: Path, make_record: Make) -> None:
    store = GitStore("pepr-data", root=checkout)
    first, second = make_record(branch="main"), make_record(branch="main")
    store.publish([first], folder="site", build=site_builder("one"))
    store.publish([second], folder="site", build=site_builder("two"))
    origin = checkout.parent / "origin.git"
    log = git("log", "--format=%s", "pepr-data", cwd=origin).splitlines()
    assert len(log) == 2  # one commit per publish: never runs without their site
    changed = git("show", "--name-only", "--format=", "pepr-data", cwd=origin).splitlines()
    assert any(c.startswith("runs/main/") for c in changed) and "site/index.html" in changed
    assert git("show", "pepr-data:site/index.html", cwd=origin) == "two: 2"
    assert git("show", "pepr-data:site/previous.txt", cwd=origin) == "one: 1"
    assert [r.id for r in store.runs("main")] == [second.id, first.id]


def test_concurrent_git_publishers_both_end_up_in_the_site(
    tmp_path: Path, checkout: Path, make_record: Make
) -> None:
    records = [make_record(branch=f"b{i}") for i in range(3)]
    errors: list[BaseException] = []

    def one(record: RunRecord, i: int) -> None:
        clone = tmp_path / f"clone{i}"
        git("clone", "-q", str(tmp_path / "origin.git"), str(clone), cwd=tmp_path)
        try:
            GitStore("pepr-data", root=clone, backoff_s=0.05).publish(
                [record], folder="site", build=site_builder(f"job{i}"))
        except BaseException as exc:  # reported below
            errors.append(exc)

    git("commit", "-q", "--allow-empty", "-m", "init", cwd=checkout)
    git("push", "-q", "origin", "main", cwd=checkout)
    threads = [threading.Thread(target=one, args=(r, i)) for i, r in enumerate(records)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    origin = tmp_path / "origin.git"
    ids = git("show", "pepr-data:site/ids.txt", cwd=origin).split(",")
    assert sorted(ids) == sorted(r.id for r in records)  # the last site saw every run


def test_every_energy_method_a_record_can_carry_has_a_point_style(
    tmp_path: Path, make_record: Make
) -> None:
    """A replayed run (the demo's and the tests' GPU meter) builds like any other."""
    from typing import get_args

    from pepr_gate.publish.dashboard.data import METHODS
    from pepr_gate.records import EnergyMethod

    assert set(get_args(EnergyMethod)) <= set(METHODS)
    url = f"sqlite:///{tmp_path / 'h.db'}"
    run = make_record(branch="main")
    run = run.model_copy(update={"resources": run.resources.model_copy(
        update={"energy_method": "replayed"})})
    fill(url, tmp_path, [run])
    out = tmp_path / "site"
    assert main(["dashboard", "--store", url, "--out", str(out)]) == 0
    data = payload(out)
    assert data["methods"][data["runs"]["Em"][0]] == "replayed"
    script = (out / "assets" / "dashboard.js").read_text(encoding="utf-8")
    start = script.index("METHOD_STYLE = [")
    styles = script[start:script.index("];", start)]
    assert styles.count("words:") == len(METHODS)
