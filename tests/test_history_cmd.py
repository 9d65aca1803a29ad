"""`pepr-gate history` through the real CLI: table, trend, json, csv, import, bad input."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from pepr_gate.cli import main
from pepr_gate.commands.history import CSV_COLUMNS
from pepr_gate.publish.sparkline import sparkline
from pepr_gate.records import RunRecord, parse_run_record
from pepr_gate.store import open_store

Make = Callable[..., RunRecord]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project whose pepr.toml keeps history in data/h.db; cwd is a subfolder of it."""
    (tmp_path / "pepr.toml").write_text('[store]\nurl = "sqlite:///data/h.db"\n')
    (tmp_path / "src").mkdir()
    monkeypatch.chdir(tmp_path / "src")
    return tmp_path


def _fill(project: Path, records: list[RunRecord]) -> None:
    with open_store("sqlite:///data/h.db", root=project) as store:
        for record in records:
            store.append(record)


def test_sparkline_runs_low_to_high() -> None:
    assert sparkline([0.5, 0.75, 1.0]) == "▁▅█"
    assert sparkline([0.7, 0.7]) == "▅▅"
    assert sparkline([]) == ""


def test_table_shows_the_branch_newest_first_with_a_trend(
    project: Path, make_record: Make, capsys: pytest.CaptureFixture[str]
) -> None:
    main_runs = [make_record(branch="main", pepr=p) for p in (0.5, 0.75, 1.0)]
    failed = make_record(branch="main", status="failed", pepr=None, performance=None)
    other = make_record(branch="feature/[bold]x", pepr=0.2)
    _fill(project, [*main_runs, failed, other])
    code = main(["history", "--config", str(project / "pepr.toml"), "--branch", "main"])
    out = capsys.readouterr().out
    assert code == 0
    assert "branch main" in out and "data/h.db" in out
    positions = [out.index(r.id) for r in (failed, *reversed(main_runs))]
    assert positions == sorted(positions)  # newest first
    assert other.id not in out
    assert "8.4 Wh │ measured" in out and "PePR-E" in out and "failed" in out
    assert "PePR trend, oldest → newest (3 ok runs): ▁▅█" in out
    assert main(["history", "--config", "../pepr.toml", "--branch", "feature/[bold]x"]) == 0
    assert "feature/[bold]x" in capsys.readouterr().out  # shown verbatim, not as markup


def test_at_80_columns_ids_and_branches_are_whole(
    project: Path, make_record: Make, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    long_branch = "feature/a-rather-long-branch-name-for-the-new-augmentation"
    runs = [make_record(branch=long_branch, sha="1a2b3c4d" * 5, pepr=p) for p in (0.5, 0.6)]
    _fill(project, runs)
    assert main(["history", "--config", "../pepr.toml", "--branch", long_branch]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 80
    assert all(r.id in out for r in runs)  # never cut to "20250301..."
    assert "…" not in out and "..." not in out
    folded = "".join(line.split("│")[1].strip() for line in out.splitlines()
                     if line.count("│") > 3)
    assert f"{long_branch}@1a2b3c4" in folded  # folded onto more lines, all of it there


def test_default_branch_is_the_current_git_branch(
    project: Path, make_record: Make, git_env: dict[str, str]
) -> None:
    subprocess.run(["git", "init", "-q", "-b", "feature/speed", str(project)], check=True)
    subprocess.run(["git", "-C", str(project), "commit", "-q", "--allow-empty", "-m", "start"],
                   check=True)
    mine, theirs = make_record(branch="feature/speed"), make_record(branch="main")
    _fill(project, [mine, theirs])
    cli = [sys.executable, "-m", "pepr_gate", "history", "--config", "../pepr.toml",
           "--format", "json"]
    done = subprocess.run(cli, capture_output=True, text=True, check=True)
    assert [r["id"] for r in json.loads(done.stdout)] == [mine.id]
    done = subprocess.run([*cli, "--all-branches"], capture_output=True, text=True, check=True)
    shown = [parse_run_record(r, "stdout") for r in json.loads(done.stdout)]
    assert shown == [theirs, mine]


def test_csv_and_limit(project: Path, make_record: Make,
                       capsys: pytest.CaptureFixture[str]) -> None:
    records = [make_record(branch="main", energy_kwh=0.001 * (i + 1)) for i in range(5)]
    _fill(project, records)
    assert main(["history", "--config", "../pepr.toml", "--branch", "main",
                 "--format", "csv", "--limit", "2"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [r["id"] for r in rows] == [records[4].id, records[3].id]
    assert float(rows[0]["energy_kwh"]) == pytest.approx(0.005)
    assert rows[0]["variant"] == "PePR-E" and rows[0]["energy_method"] == "measured"


def test_missing_store_is_named_and_not_created(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["history", "--config", "../pepr.toml", "--branch", "main"]) == 2
    err = capsys.readouterr().err
    assert "no history store at" in err and str(project / "data" / "h.db") in err
    assert not (project / "data" / "h.db").exists()  # a reader never leaves an empty file


def test_empty_history_says_so(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    open_store("sqlite:///data/h.db", root=project).close()  # resolved against the config
    assert main(["history", "--config", "../pepr.toml", "--branch", "main"]) == 0
    assert "no runs stored for branch main" in capsys.readouterr().out


def test_status_filter_with_no_match_names_the_filter(
    project: Path, make_record: Make, capsys: pytest.CaptureFixture[str]
) -> None:
    with open_store("sqlite:///data/h.db", root=project) as store:
        store.append(make_record(branch="main"))
    assert main(["history", "--config", "../pepr.toml", "--branch", "main",
                 "--status", "failed"]) == 0
    out = capsys.readouterr().out
    # The branch has runs, just no failed one: "no runs stored" would be wrong.
    assert "no failed runs stored for branch main" in out and "leave out --status" in out


def test_import_stores_files_once_and_rejects_bad_ones(
    project: Path, make_record: Make, capsys: pytest.CaptureFixture[str]
) -> None:
    record = make_record()
    good = project / "run.json"
    good.write_text(record.to_json())
    bad = project / "bad.json"
    bad.write_text('{"schema": "pepr-gate/run/1", "id": "x"}')
    assert main(["history", "--config", "../pepr.toml", "--import", str(good)]) == 0
    assert main(["history", "--config", "../pepr.toml", "--import", str(good)]) == 0
    out = capsys.readouterr().out
    assert "stored 1 of 1" in out and "already in" in out and "stored 0 of 1" in out
    other = make_record()
    (project / "other.json").write_text(other.to_json())
    assert main(["history", "--config", "../pepr.toml", "--import",
                 str(project / "other.json"), str(bad)]) == 2
    assert "bad.json: invalid run record" in capsys.readouterr().err
    with open_store("sqlite:///data/h.db", root=project) as store:
        assert store.runs() == [record]  # nothing from the rejected batch was stored


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--limit", "0"], "must be at least 1"),
        (["--format", "xml"], "invalid choice: 'xml'"),
        (["--store", "redis://localhost/0"], "unsupported store URL"),
        (["--branch", "a", "--all-branches"], "not allowed with argument"),
    ],
)
def test_bad_input_exits_2(project: Path, argv: list[str], message: str,
                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_history_file_that_is_not_sqlite_is_left_untouched(project: Path) -> None:
    (project / "data").mkdir()
    notes = project / "data" / "h.db"
    notes.write_text("my notes, not a database\n")
    digest = hashlib.sha256(notes.read_bytes()).hexdigest()
    done = subprocess.run([sys.executable, "-m", "pepr_gate", "history", "--config",
                           "../pepr.toml"], capture_output=True, text=True)
    assert done.returncode == 2
    assert "h.db is not a SQLite database" in done.stderr
    assert hashlib.sha256(notes.read_bytes()).hexdigest() == digest


def test_runs_without_a_scale_say_how_to_get_a_pepr(
    project: Path, make_record: Make, capsys: pytest.CaptureFixture[str]
) -> None:
    unscored = make_record(branch="main")
    unscored = unscored.model_copy(
        update={"score": unscored.score.model_copy(update={"pepr": None, "R": None})}
    )
    _fill(project, [unscored])
    assert main(["history", "--config", str(project / "pepr.toml"), "--branch", "main"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "no scale for R was set" in out and "[score.scale]" in out


def test_default_branch_on_a_new_repository_without_commits(
    project: Path, make_record: Make, git_env: dict[str, str]
) -> None:
    # `git init -b main` and no commit yet: HEAD already names the branch.
    subprocess.run(["git", "init", "-q", "-b", "main", str(project)], check=True)
    mine, theirs = make_record(branch="main"), make_record(branch="other")
    _fill(project, [mine, theirs])
    cli = [sys.executable, "-m", "pepr_gate", "history", "--config", "../pepr.toml",
           "--format", "json"]
    done = subprocess.run(cli, capture_output=True, text=True, check=True)
    assert [r["id"] for r in json.loads(done.stdout)] == [mine.id]
