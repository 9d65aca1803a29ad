"""`pepr-gate score` from the command line: outputs, run records, stores, bad input."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from pepr_gate.cli import main
from pepr_gate.records import RunRecord

GOOD = "model,P,energy,time,family\nalpha,0.90,2.0,30,cnn\nbeta,0.85,1.0,20,cnn\n" \
       "gamma,0.70,4.0,10,vit\ndelta,0.95,8.0,60,vit\n"


def write(tmp_path: Path, text: str, name: str = "t.csv") -> Path:
    f = tmp_path / name
    f.write_text(text, encoding="utf-8")
    return f


def test_csv_outputs_hold_every_row_at_full_precision(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    f = write(tmp_path, GOOD)
    out = tmp_path / "out"
    code = main(["score", str(f), "--resource", "energy,time", "--top", "1",
                 "--json", str(out / "lb.json"), "--csv", str(out / "lb.csv"),
                 "--markdown", str(out / "lb.md")])
    assert code == 0
    doc = json.loads((out / "lb.json").read_text(encoding="utf-8"))
    rows = doc["rows"]
    assert [r["name"] for r in rows] == ["beta", "alpha", "gamma", "delta"]
    beta = rows[0]
    assert beta["energy_R"] == 0.0 and beta["PePR-E"] == 0.85 and beta["PePR-E_rank"] == 1
    alpha = rows[1]
    assert alpha["energy_R"] == 1 / 7 and alpha["PePR-E"] == 0.9 / (1 + 1 / 7)
    assert alpha["time_R"] == 0.4 and alpha["PePR-T_rank"] == 3
    with (out / "lb.csv").open(encoding="utf-8") as fh:
        table = list(csv.DictReader(fh))
    assert [float(r["PePR-E"]) for r in table] == [r["PePR-E"] for r in rows]
    assert table[1]["energy_R"] == repr(1 / 7)
    # Terminal: top 1 plus the most accurate model (delta), marked.
    screen = capsys.readouterr().out
    assert "beta" in screen and "delta ★" in screen and "alpha" not in screen.split("PePR-T")[0]
    md = (out / "lb.md").read_text(encoding="utf-8")
    assert "| 1 | beta | 0.8500 | 1 | 0.0000 | 0.8500 |" in md
    assert "| 4 | delta ★ | 0.9500 | 8 | 1.0000 | 0.4750 |" in md


def test_groups_rank_separately(tmp_path: Path) -> None:
    f = write(tmp_path, GOOD)
    out = tmp_path / "lb.json"
    assert main(["score", str(f), "--group", "family", "--json", str(out)]) == 0
    rows = json.loads(out.read_text(encoding="utf-8"))["rows"]
    assert [(r["group"], r["name"], r["PePR-E_rank"]) for r in rows] == [
        ("cnn", "beta", 1), ("cnn", "alpha", 2), ("vit", "gamma", 1), ("vit", "delta", 2)]


def test_scale_mode_flags_rows_over_the_scale(tmp_path: Path) -> None:
    f = write(tmp_path, GOOD)
    out = tmp_path / "lb.json"
    assert main(["score", str(f), "--normalize", "scale", "--scale", "4", "--json", str(out)]) == 0
    rows = {r["name"]: r for r in json.loads(out.read_text(encoding="utf-8"))["rows"]}
    assert rows["alpha"]["energy_R"] == 0.5 and not rows["alpha"]["energy_over_scale"]
    assert rows["delta"]["energy_R"] == 1.0 and rows["delta"]["energy_over_scale"]


def test_markdown_escapes_names(tmp_path: Path) -> None:
    f = write(tmp_path, "model,P,energy\na|b <i>,0.5,1\nc,0.4,2\n")
    out = tmp_path / "lb.md"
    assert main(["score", str(f), "--markdown", str(out)]) == 0
    assert "| 1 | a\\|b &lt;i&gt; ★ | 0.5000 |" in out.read_text(encoding="utf-8")


BAD = [  # (csv text, extra args, message pattern)
    (GOOD, ["--resource", "watts"],
     r"no column 'watts' \(asked for by --resource\); available columns: model, P, energy, time"),
    ("P,energy\n0.5,1\n", [], r"none of the default columns model, name for --name; "
     r"available columns: P, energy"),
    (GOOD, ["--performance", "acc"], r"no column 'acc'.*available columns: model, P"),
    ("model,P,energy\na,0.5,1\nb,0.6,lots\n", [], r"line 3, column 'energy': not a number: 'lots'"),
    ("model,P,energy\na,0.5,1\nb,,2\n", [], r"line 3, column 'P': empty cell"),
    ("model,P,energy\na,85,1\n", [],
     r"line 2, column 'P': performance 85.0 is outside \[0, 1\]\n"
     r"  hint: .*--performance-scale 100"),
    ("model,P,energy\na,0.5,1\nb,0.6,-2\n", [], r"line 3, column 'energy': negative resource -2.0"),
    ("model,P,energy\na,0.5,nan\n", [], r"line 2, column 'energy': 'nan' is not a finite number"),
    ("model,P,energy\na,inf,1\n", [], r"line 2, column 'P': 'inf' is not a finite number"),
    ("model,P,energy\n", [], r"t.csv: empty table \(no data rows\)"),
    ("", [], r"t.csv: empty table"),
    (GOOD, ["--group", "family", "--only", "mlp"],
     r"group 'mlp' is empty \(no rows\); groups present: cnn, vit"),
    ("model,P,energy,g\na,0.5,1,x\nb,0.6,2,\n", ["--group", "g"],
     r"line 3, column 'g': empty cell"),
    ("model,P,energy\na,0.5,1,7\n", [], r"line 2: 4 fields, the header has 3"),
    (GOOD, ["--normalize", "scale"], r"--normalize scale needs --scale X"),
    (GOOD, ["--normalize", "scale", "--scale", "-1"], r"--scale '-1': need one positive value"),
    (GOOD, ["--performance-scale", "inf"], r"--performance-scale inf: must be a positive finite"),
]


def test_negative_zero_cells_are_plain_zero(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    f = write(tmp_path, "model,P,energy\na,-0,1\nb,0.5,-0.0\n")
    out = tmp_path / "lb.csv"
    assert main(["score", str(f), "--csv", str(out)]) == 0
    assert "-0.0" not in out.read_text(encoding="utf-8")
    assert "-0.0000" not in capsys.readouterr().out


@pytest.mark.parametrize(("text", "args", "message"), BAD)
def test_bad_csv_input_exits_2_naming_row_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, args: list[str], message: str
) -> None:
    f = write(tmp_path, text)
    assert main(["score", str(f), *args]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.count("hint:") <= 1
    import re

    assert re.search(message, err), err


def test_duplicate_names_warn_and_keep_both(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    f = write(tmp_path, "model,P,energy\nresnet,0.5,1\nresnet,0.7,2\nvit,0.6,3\n")
    out = tmp_path / "lb.json"
    assert main(["score", str(f), "--json", str(out)]) == 0
    err = capsys.readouterr().err
    assert "warning: group 'all': model 'resnet' appears more than once" in err
    rows = json.loads(out.read_text(encoding="utf-8"))["rows"]
    assert [r["name"] for r in rows].count("resnet") == 2


def test_unreadable_and_non_utf8_files_exit_2(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["score", str(tmp_path / "missing.csv")]) == 2
    assert "missing.csv: file not found" in capsys.readouterr().err
    latin = tmp_path / "latin.csv"
    latin.write_bytes("model,P,energy\nm\xfcller,0.5,1\n".encode("latin-1"))
    assert main(["score", str(latin)]) == 2
    err = capsys.readouterr().err
    assert "latin.csv: not UTF-8 text (byte 0xfc on line 2)" in err and "iconv" in err
    (tmp_path / "empty").mkdir()
    assert main(["score", str(tmp_path / "empty")]) == 2
    assert "a folder with no run records" in capsys.readouterr().err


def test_real_cli_reports_bad_input_without_traceback(tmp_path: Path) -> None:
    f = write(tmp_path, "model,P,energy\na,0.5,-1\n")
    proc = subprocess.run([sys.executable, "-m", "pepr_gate", "score", str(f)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "line 2, column 'energy': negative resource" in proc.stderr
    assert "Traceback" not in proc.stderr


def save(tmp_path: Path, records: list[RunRecord]) -> list[str]:
    paths = []
    for rec in records:
        p = tmp_path / f"{rec.id}.json"
        p.write_text(rec.to_json(), encoding="utf-8")
        paths.append(str(p))
    return paths


def test_run_records_are_scored_by_their_measured_resources(
    tmp_path: Path, make_record: Callable[..., RunRecord], capsys: pytest.CaptureFixture[str]
) -> None:
    records = [make_record(branch="main", sha="a" * 40, performance=0.9, energy_kwh=0.01,
                           duration_s=30.0),
               make_record(branch="small", sha="b" * 40, performance=0.8, energy_kwh=0.002,
                           duration_s=10.0),
               make_record(branch="broken", status="failed", performance=None)]
    paths = save(tmp_path / "runs", records) if (tmp_path / "runs").mkdir() is None else []
    out = tmp_path / "lb.json"
    assert main(["score", *paths, "--resource", "energy,co2,time,memory", "--json", str(out)]) == 0
    err = capsys.readouterr().err
    assert "skipped 1 failed run(s)" in err
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert [v["label"] for v in doc["variants"]] == ["PePR-E", "PePR-C", "PePR-T", "PePR-M"]
    assert doc["variants"][0]["unit"] == "kWh"
    rows = doc["rows"]
    assert rows[0]["name"] == f"small@bbbbbbb {records[1].id}"
    assert rows[0]["PePR-E"] == 0.8 and rows[1]["PePR-E"] == 0.45
    assert rows[0]["gpu_memory"] == 5.36870912
    # A folder of records is the same input.
    assert main(["score", str(tmp_path / "runs"), "--json", str(out)]) == 0
    assert len(json.loads(out.read_text(encoding="utf-8"))["rows"]) == 2


def test_run_record_problems_exit_2(tmp_path: Path, make_record: Callable[..., RunRecord],
                                    capsys: pytest.CaptureFixture[str]) -> None:
    rec = json.loads(make_record().to_json())
    rec["schema"] = "pepr-gate/run/9"
    future = write(tmp_path, json.dumps(rec), "future.json")
    assert main(["score", str(future)]) == 2
    assert "unknown record schema 'pepr-gate/run/9'" in capsys.readouterr().err
    [unmeasured] = save(tmp_path, [make_record(energy_kwh=None)])
    assert main(["score", unmeasured]) == 2
    assert "resource 'energy' was not measured in this run" in capsys.readouterr().err
    assert main(["score", unmeasured, "--resource", "watts"]) == 2
    assert "--resource 'watts': run records have energy" in capsys.readouterr().err
    mixed = write(tmp_path, GOOD)
    assert main(["score", unmeasured, str(mixed)]) == 2
    assert "mixed inputs" in capsys.readouterr().err


def test_store_runs_of_one_branch(tmp_path: Path, make_record: Callable[..., RunRecord],
                                  capsys: pytest.CaptureFixture[str]) -> None:
    from pepr_gate.store import open_store

    url = f"sqlite:///{tmp_path / 'history.db'}"
    with open_store(url) as store:
        for p, e, branch in ((0.9, 0.01, "main"), (0.8, 0.002, "main"), (0.99, 0.001, "dev")):
            store.append(make_record(branch=branch, performance=p, energy_kwh=e))
        store.append(make_record(branch="main", status="failed", performance=None))
    out = tmp_path / "lb.json"
    assert main(["score", "--store", url, "--branch", "main", "--json", str(out)]) == 0
    rows = json.loads(out.read_text(encoding="utf-8"))["rows"]
    assert [(r["P"], r["energy"]) for r in rows] == [(0.8, 0.002), (0.9, 0.01)]
    assert all(r["name"].startswith("main@") for r in rows)
    # A branch with no ok run is named, not reported as an "empty table".
    assert main(["score", "--store", url, "--branch", "nope"]) == 2
    assert "holds no run with status ok on branch 'nope'" in capsys.readouterr().err


def test_runs_of_one_commit_on_one_day_keep_distinct_names(
    tmp_path: Path, make_record: Callable[..., RunRecord], capsys: pytest.CaptureFixture[str]
) -> None:
    # Run ids begin with the date: names built from their first 8 characters collided.
    from datetime import datetime, timezone

    day = datetime(2025, 3, 1, 9, tzinfo=timezone.utc)
    records = [make_record(branch="main", sha="c" * 40, performance=p, created_at=day)
               for p in (0.9, 0.8)]
    assert records[0].id[:8] == records[1].id[:8]
    out = tmp_path / "lb.json"
    assert main(["score", *save(tmp_path, records), "--json", str(out)]) == 0
    names = [r["name"] for r in json.loads(out.read_text(encoding="utf-8"))["rows"]]
    assert sorted(names) == sorted(f"main@ccccccc {r.id}" for r in records)
    assert "appears more than once" not in capsys.readouterr().err


def test_a_mistyped_store_is_an_error_and_creates_no_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "typo.db"
    assert main(["score", "--store", f"sqlite:///{missing}"]) == 2
    assert "no history store at" in capsys.readouterr().err
    assert not missing.exists()


def test_tiny_resources_print_without_scientific_notation(tmp_path: Path) -> None:
    f = write(tmp_path, "model,P,energy\na,0.9,0.0000123\nb,0.8,0.0000456\n")
    out = tmp_path / "lb.md"
    assert main(["score", str(f), "--markdown", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "0.00001230" in text and "0.00004560" in text
    assert "e-05" not in text
