"""Issue 20, hostile round two: the dashboard and the git data branch under hostile input.

Real SQLite and real git (a local bare origin), the real CLI in a subprocess. What the
page does in a browser with these inputs is the JavaScript guard checked here by its
source; tests/test_dashboard_browser.py drives Chromium for the page as a whole."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from pepr_gate.records import RunRecord
from pepr_gate.store import open_store
from pepr_gate.store.git import GitStore

Make = Callable[..., RunRecord]
ASSETS = Path(__file__).resolve().parents[1] / "pepr_gate" / "publish" / "dashboard" / "assets"


def pepr(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pepr_gate", *args], cwd=cwd,
                          env=dict(os.environ), capture_output=True, text=True, timeout=120)


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def payload(site: Path) -> dict:  # type: ignore[type-arg]
    text = (site / "data" / "runs.js").read_text()
    data: dict = json.loads(text[len("window.PEPR_DASHBOARD="):-2])  # type: ignore[type-arg]
    return data


@pytest.fixture
def sqlite_site(tmp_path: Path, make_record: Make) -> tuple[str, list[RunRecord]]:
    url = f"sqlite:///{tmp_path / 'runner' / 'work' / 'history.db'}"
    runs = [make_record(branch="main") for _ in range(3)]
    with open_store(url, root=tmp_path) as store:
        for record in runs:
            store.append(record)
    return url, runs


def test_an_unknown_verdict_in_the_ledger_never_reaches_the_page(
        tmp_path: Path, sqlite_site: tuple[str, list[RunRecord]]) -> None:
    url, runs = sqlite_site
    out = tmp_path / "site"
    assert pepr(tmp_path, "dashboard", "--store", url, "--out", str(out)).returncode == 0
    ledger = json.loads((out / "verdicts.json").read_text())
    ledger["runs"] = {runs[0].id: {"verdict": "__proto__", "reason": "x"},
                      runs[1].id: {"verdict": "constructor", "reason": "y"},
                      runs[2].id: {"verdict": "fail", "reason": "a real one"}}
    (out / "verdicts.json").write_text(json.dumps(ledger))
    done = pepr(tmp_path, "dashboard", "--store", url, "--out", str(out))
    assert done.returncode == 0, done.stderr
    verdicts = payload(out)["runs"]["verdict"]
    assert "__proto__" not in verdicts and "constructor" not in verdicts and "fail" in verdicts
    assert set(json.loads((out / "verdicts.json").read_text())["runs"]) == {runs[2].id}
    script = (ASSETS / "dashboard.js").read_text()
    assert "marks = Object.create(null)" in script
    assert "hasOwnProperty.call(VERDICTS, v)" in script


def test_the_page_never_shows_the_runners_absolute_sqlite_path(
        tmp_path: Path, sqlite_site: tuple[str, list[RunRecord]]) -> None:
    url, _ = sqlite_site
    out = tmp_path / "site"
    assert pepr(tmp_path, "dashboard", "--store", url, "--out", str(out)).returncode == 0
    assert payload(out)["store"] == "sqlite:///…/history.db"
    for path in out.rglob("*"):
        if path.is_file():
            assert str(tmp_path) not in path.read_text(errors="replace"), path


def test_out_never_writes_through_a_link_inside_the_site(
        tmp_path: Path, sqlite_site: tuple[str, list[RunRecord]]) -> None:
    url, _ = sqlite_site
    out = tmp_path / "site"
    assert pepr(tmp_path, "dashboard", "--store", url, "--out", str(out)).returncode == 0
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("mine")
    target = tmp_path / "victim.html"
    target.write_text("mine")
    (out / "index.html").unlink()
    (out / "index.html").symlink_to(target)
    done = pepr(tmp_path, "dashboard", "--store", url, "--out", str(out))
    assert done.returncode == 2
    assert f"{out / 'index.html'} is a symbolic link; refusing to write through it" \
        in done.stderr
    assert target.read_text() == "mine"
    (out / "index.html").unlink()
    import shutil

    shutil.rmtree(out / "assets")
    (out / "assets").symlink_to(victim)
    done = pepr(tmp_path, "dashboard", "--store", url, "--out", str(out))
    assert done.returncode == 2 and "is a symbolic link" in done.stderr
    assert sorted(p.name for p in victim.iterdir()) == ["keep.txt"]


@pytest.mark.parametrize("url", ['https://github.com/o/r"><script>alert(1)</script>',
                                 "https://github.com/o/r<b>", "https://ex ample.com/o/r"])
def test_repo_url_with_markup_is_refused(
        tmp_path: Path, sqlite_site: tuple[str, list[RunRecord]], url: str) -> None:
    store, _ = sqlite_site
    done = pepr(tmp_path, "dashboard", "--store", store, "--out", str(tmp_path / "s"),
                "--repo-url", url)
    assert done.returncode == 2
    assert "is not a plain http(s) address" in done.stderr
    assert not (tmp_path / "s").exists()


# --- the git data branch ------------------------------------------------------------------

@pytest.fixture
def checkout(tmp_path: Path, git_env: dict[str, str]) -> Path:
    bare = tmp_path / "origin.git"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    work = tmp_path / "work"
    git("init", "-q", "-b", "main", str(work), cwd=tmp_path)
    (work / "README").write_text("code\n")
    git("add", "README", cwd=work)
    git("commit", "-q", "-m", "code", cwd=work)
    git("remote", "add", "origin", str(bare), cwd=work)
    git("push", "-q", "origin", "main", cwd=work)
    return work


def test_publishing_keeps_other_files_in_the_site_folder(checkout: Path,
                                                          make_record: Make) -> None:
    def build(runs: list[RunRecord], read: Callable[[str], bytes | None]) -> dict[str, bytes]:
        return {"index.html": f"{len(runs)} runs".encode()}

    store = GitStore("pepr-data", root=checkout)
    store.publish([make_record(branch="main")], folder="site", build=build)
    origin = checkout.parent / "origin.git"
    # The owner adds a CNAME for GitHub Pages on the data branch.
    clone = checkout.parent / "pages"
    git("clone", "-q", "-b", "pepr-data", str(origin), str(clone), cwd=checkout.parent)
    (clone / "site" / "CNAME").write_text("pepr.example.org\n")
    git("add", "site/CNAME", cwd=clone)
    git("commit", "-q", "-m", "pages domain", cwd=clone)
    git("push", "-q", "origin", "pepr-data", cwd=clone)
    store.publish([make_record(branch="main")], folder="site", build=build)
    assert git("show", "pepr-data:site/CNAME", cwd=origin) == "pepr.example.org"
    assert git("show", "pepr-data:site/index.html", cwd=origin) == "2 runs"


@pytest.mark.parametrize(("branch", "said"), [
    ("@", "'@' is not a valid branch name"),
    ("d" * 300, "the branch name is 300 bytes long; data branch names have at most 200"),
])
def test_a_data_branch_git_cannot_hold_is_refused_before_the_job(
        checkout: Path, branch: str, said: str) -> None:
    (checkout / "pepr.toml").write_text(
        f'[[run.stages]]\nname = "t"\ncmd = ["{sys.executable}", "-c", '
        '"import pathlib; pathlib.Path(\'ran\').write_text(\'1\')"]\n'
        '[performance]\nfile = "m.json"\nkey = "acc"\n')
    done = pepr(checkout, "run", "--store", f"git:{branch}")
    assert done.returncode == 2, done.stderr
    assert said in done.stderr
    assert not (checkout / "ran").exists()
    assert git("ls-remote", "--heads", "origin", cwd=checkout).count("refs/heads/") == 1


@pytest.mark.parametrize("version", ['"1"', "-1", "1.5", "true"])
def test_a_store_marker_with_a_version_that_is_not_a_whole_number_is_refused(
        checkout: Path, make_record: Make, version: str) -> None:
    store = GitStore("pepr-data", root=checkout)
    store.append(make_record(branch="main"))
    origin = checkout.parent / "origin.git"
    clone = checkout.parent / "edit"
    git("clone", "-q", "-b", "pepr-data", str(origin), str(clone), cwd=checkout.parent)
    (clone / "pepr-store.json").write_text(f'{{"schema_version": {version}}}\n')
    git("commit", "-q", "-am", "hand edit", cwd=clone)
    git("push", "-q", "origin", "pepr-data", cwd=clone)
    done = pepr(checkout, "history", "--store", "git:pepr-data", "--branch", "main")
    assert done.returncode == 2
    assert "pepr-store.json is unreadable (schema_version must be a whole number from 1; " \
        f"found {json.dumps(json.loads(version))})" in done.stderr


def test_a_mistyped_data_branch_is_an_error_for_readers(checkout: Path,
                                                        make_record: Make) -> None:
    GitStore("pepr-data", root=checkout).append(make_record(branch="main"))
    done = pepr(checkout, "history", "--store", "git:pepr-dta", "--branch", "main")
    assert done.returncode == 2
    assert "store git:pepr-dta: origin" in done.stderr
    assert "has no branch 'pepr-dta', so there is no history to read" in done.stderr
    record = checkout / "rec.json"
    record.write_text(make_record(branch="feature").to_json())
    done = pepr(checkout, "check", "--candidate", "rec.json", "--store", "git:pepr-dta")
    assert done.returncode == 2 and "has no branch 'pepr-dta'" in done.stderr
    assert "pepr-dta" not in git("ls-remote", "--heads", "origin", cwd=checkout)
