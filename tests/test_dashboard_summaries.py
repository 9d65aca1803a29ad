"""The dashboard's read path (issue 23): only the drawn fields, checked field by field.

Every store's `summaries()` must give what the full, validated records give; a row the
fast path cannot vouch for goes through the full parse (kept, or skipped with the usual
warning); the git store's per-branch summary files are kept by every write and have the
bytes a rebuild from the run files gives; and `dashboard --rebuild` draws the same page.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pepr_gate.cli import main
from pepr_gate.records import RunRecord
from pepr_gate.store import open_store
from pepr_gate.store.git import GitStore
from pepr_gate.store.gitsummary import all_entries, render, summary_path
from pepr_gate.store.summary import from_values, of_record, values_line, values_of

Make = Callable[..., RunRecord]


def payload(site: Path) -> dict[str, Any]:
    text = (site / "data" / "runs.js").read_text()
    data: dict[str, Any] = json.loads(text[len("window.PEPR_DASHBOARD="):-2])
    data.pop("generated_at")
    return data


def varied(make_record: Make) -> list[RunRecord]:
    """Runs that exercise every drawn field: branches, failures, no score, no GPU memory."""
    runs = [make_record(branch="main"), make_record(branch="feature/x", energy_kwh=0.03),
            make_record(branch=None, status="failed", performance=None, pepr=None)]
    runs.append(make_record(branch="main", score=None))
    runs[-1].resources.gpu_peak_memory_bytes = 12_345_678_901
    runs[0].resources.energy_method = "estimated"
    return runs


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


def test_summary_fields_round_trip_a_record(make_record: Make) -> None:
    for record in varied(make_record):
        summary = of_record(record)
        assert from_values(values_of(json.loads(record.to_json()))) == summary
        assert from_values(values_line(summary)) == summary


@pytest.mark.parametrize(("path", "value"), [
    (("performance", "value"), 1.5), (("resources", "energy_kwh"), -1.0),
    (("resources", "energy_kwh"), "12"), (("id",), "run\x1b[2J"), (("git", "branch"), "a\nb"),
    (("created_at",), "2025-03-01T12:00:00"), (("schema",), "pepr-gate/run/2"),
    (("score", "resource"), "volts"), (("resources", "energy_method"), "guessed"),
    (("resources", "duration_s"), True),
])
def test_a_drawn_value_that_is_not_plainly_sound_is_not_guessed_at(
    make_record: Make, path: tuple[str, ...], value: object
) -> None:
    data = json.loads(make_record().to_json())
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert from_values(values_of(data)) is None  # -> the full parse decides


def sqlite_rows(db: Path, sql: str, *params: object) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute(sql, params)


def test_sqlite_summaries_match_full_records_and_bad_rows_are_skipped_with_a_warning(
    tmp_path: Path, make_record: Make, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = varied(make_record)
    db = tmp_path / "h.db"
    with open_store(f"sqlite:///{db}") as store:
        store.append_many(runs)
        assert sorted(store.summaries()) == sorted(of_record(r) for r in runs)
    bad_number = make_record(branch="main")
    with open_store(f"sqlite:///{db}") as store:
        store.append_many([bad_number])
    # A record whose drawn P is out of range, and one that is not JSON at all (the
    # database's own JSON reader then fails the query: every row is parsed here instead).
    text = bad_number.to_json().replace('"value": 0.91', '"value": 7.0')
    sqlite_rows(db, "UPDATE pepr_runs SET record = ? WHERE id = ?", text, bad_number.id)
    with open_store(f"sqlite:///{db}", must_exist=True) as store:
        assert sorted(store.summaries()) == sorted(of_record(r) for r in runs)
    assert f"skipping corrupted run {bad_number.id!r}" in capsys.readouterr().err
    sqlite_rows(db, "UPDATE pepr_runs SET record = '{not json' WHERE id = ?", runs[1].id)
    with open_store(f"sqlite:///{db}", must_exist=True) as store:
        got = store.summaries()
    assert sorted(got) == sorted(of_record(r) for r in [runs[0], *runs[2:]])
    err = capsys.readouterr().err
    assert f"run {runs[1].id!r}" in err and "not valid JSON" in err


@pytest.mark.postgres
def test_postgres_summaries_match_full_records(make_record: Make,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    url = os.environ.get("PEPR_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("PEPR_REQUIRE_POSTGRES") == "1":
            pytest.fail("PEPR_TEST_POSTGRES_URL is not set but CI requires the PostgreSQL tests")
        pytest.skip("PEPR_TEST_POSTGRES_URL not set (source .ci/postgres.sh to start a server)")
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    server = make_url(url).set(drivername="postgresql+psycopg")
    schema = f"pepr_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    scoped = server.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        runs = varied(make_record)
        with open_store(scoped.render_as_string(hide_password=False)) as store:
            store.append_many(runs)
            assert sorted(store.summaries()) == sorted(of_record(r) for r in runs)
            with admin.begin() as conn:
                conn.execute(text(f'UPDATE "{schema}".pepr_runs SET record = \'{{oops\' '
                                  "WHERE id = :i"), {"i": runs[0].id})
            assert sorted(store.summaries()) == sorted(of_record(r) for r in runs[1:])
        assert f"run {runs[0].id!r}" in capsys.readouterr().err
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def test_git_summary_files_are_kept_by_appends_and_equal_a_rebuild(
    checkout: Path, make_record: Make
) -> None:
    store = GitStore("pepr-data", root=checkout)
    runs = varied(make_record)
    for record in runs:
        store.append(record)
    store.publish([make_record(branch="main")], folder="site",
                  build=lambda rows, read: {"n.txt": str(len(rows)).encode()})
    origin = checkout.parent / "origin.git"
    assert git("show", "pepr-data:site/n.txt", cwd=origin) == "5"
    names = git("ls-tree", "--name-only", "pepr-data", "summaries/", cwd=origin).split()
    assert len(names) == 3 and {"summaries/main.jsonl", "summaries/_no-branch.jsonl"} < set(names)
    cache = checkout / ".pepr" / "git-store" / "pepr-data.git"
    tip = git("rev-parse", "pepr-data", cwd=origin)
    rebuilt = all_entries(cache, tip, "test", rebuild=True)
    for folder, entries in rebuilt.items():
        stored = git("show", f"pepr-data:{summary_path(folder)}", cwd=origin) + "\n"
        assert stored.encode() == render(entries)  # incremental == from the run files
    assert sorted(store.summaries()) == sorted(of_record(r) for r in store.runs())


def test_git_reader_trusts_a_summary_line_only_while_its_run_file_is_unchanged(
    checkout: Path, make_record: Make
) -> None:
    """Runs an older pepr-gate stored (no summary) or a hand-edited record still show."""
    store = GitStore("pepr-data", root=checkout)
    first, second = make_record(branch="main"), make_record(branch="main")
    store.append(first)
    store.append(second)
    # Another clone rewrites the data branch: drops the summary, edits a record.
    other = checkout.parent / "other"
    git("clone", "-q", "-b", "pepr-data", str(checkout.parent / "origin.git"), str(other),
        cwd=checkout.parent)
    edited = second.model_copy(deep=True)
    edited.performance.value = 0.5
    (other / "summaries" / "main.jsonl").unlink()
    path = next((other / "runs" / "main").glob(f"*{second.id}.json"))
    path.write_text(edited.to_json() + "\n")
    git("commit", "-qam", "by hand", cwd=other)
    git("push", "-q", "origin", "pepr-data", cwd=other)
    assert sorted(store.summaries()) == sorted([of_record(first), of_record(edited)])
    third = make_record(branch="main")
    store.append(third)  # heals the file
    git("pull", "-q", cwd=other)
    lines = (other / "summaries" / "main.jsonl").read_text().splitlines()
    assert len(lines) == 4 and '"performance.value"' in lines[0]
    assert json.loads(lines[2])[10] == 0.5


def test_dashboard_rebuild_draws_the_same_page(checkout: Path, make_record: Make,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    store = GitStore("pepr-data", root=checkout)
    for record in varied(make_record):
        store.append(record)
    monkeypatch.chdir(checkout)
    fast, full = checkout.parent / "fast", checkout.parent / "full"
    assert main(["dashboard", "--store", "git:pepr-data", "--out", str(fast)]) == 0
    assert main(["dashboard", "--store", "git:pepr-data", "--out", str(full), "--rebuild"]) == 0
    assert payload(fast) == payload(full)
    assert len(payload(fast)["runs"]["id"]) == 4


def test_ci_site_from_summaries_equals_a_full_rebuild(checkout: Path, make_record: Make,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """`ci` commits site/ built from the summary files; `dashboard --rebuild` reads every
    record: the same data, byte for byte apart from the build time."""
    from pepr_gate.config import Config
    from pepr_gate.publish.dashboard.site import render_site
    from pepr_gate.services.dashboard import make_site

    def build(rows: list[Any], read: Callable[[str], bytes | None]) -> dict[str, bytes]:
        site = make_site(rows, Config(), store="git:pepr-data", title="t")
        site.generated_at = site.generated_at.replace(year=2000)
        return render_site(site)

    store = GitStore("pepr-data", root=checkout)
    for record in varied(make_record):
        store.publish([record], folder="site", build=build)
    monkeypatch.chdir(checkout)
    full = checkout.parent / "full"
    assert main(["dashboard", "--store", "git:pepr-data", "--out", str(full), "--rebuild",
                 "--title", "t"]) == 0
    committed = git("show", "pepr-data:site/data/runs.js", cwd=checkout.parent / "origin.git")
    rebuilt = (full / "data" / "runs.js").read_text()
    stamp = re.compile(r'"generated_at":"[^"]*"')
    assert stamp.sub("", committed + "\n") == stamp.sub("", rebuilt)


def test_a_damaged_summary_line_is_dropped_and_the_rest_kept(make_record: Make) -> None:
    from pepr_gate.store.gitsummary import blob_id, parse

    runs = varied(make_record)
    entries = {f"runs/x/{r.id}.json": (blob_id(r.id.encode()), of_record(r)) for r in runs}
    text = render(entries)
    assert parse(text) == entries
    header, first, *rest = text.splitlines(keepends=True)
    damaged = b"".join([header, first, b'["runs/x/bad.json", "0", 1]]\n', b"{\n", *rest])
    assert parse(damaged) == entries
    assert parse(text.replace(b"summary/1", b"summary/2")) == {}  # another schema: ignored
