"""`pepr-gate run` end to end: the real CLI as a subprocess on small jobs in temp folders.

Every bad input the issue lists exits 2 with a message naming the file, line or field and
what to do; every failure of the measured command exits 3; Ctrl-C exits 130. The meter is
`process` (the process tree and the codecarbon-table estimate), which every machine has.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest

from pepr_gate.cli import COMMANDS, main
from pepr_gate.store import open_store

PY = sys.executable
TIMEOUT = 60


def pepr_gate(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = TIMEOUT
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PY, "-m", "pepr_gate", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


Cli = Callable[..., "subprocess.CompletedProcess[str]"]


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> Cli:
    """`pepr_gate.cli.main` in this process (fast), with the job's output captured too.

    Used for the bad inputs that need no separate process; the subprocess tests cover
    the entry point, signals and the job's process group.
    """

    def call(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        monkeypatch.chdir(cwd)
        code = main(list(args))
        out, err = capfd.readouterr()
        return subprocess.CompletedProcess(list(args), code, out, err)

    return call


def write_config(folder: Path, body: str, name: str = "pepr.toml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def job(code: str) -> str:
    """A TOML argv list running `code` with this interpreter."""
    return json.dumps([PY, "-c", textwrap.dedent(code)])


def metrics_job(payload: str, file: str = "metrics.json") -> str:
    """A job that writes `payload` (raw text) to the metrics file."""
    return job(f"open({file!r}, 'w').write({payload!r})")


def perf_config(payload: str, key: str = "test.accuracy", extra: str = "") -> str:
    return (
        f"[[run.stages]]\nname = \"train\"\ncmd = {metrics_job(payload)}\n\n"
        f"[performance]\nfile = \"metrics.json\"\nkey = \"{key}\"\n{extra}\n"
        "[score.scale]\nenergy = 0.001\n"
    )


def records_in(folder: Path) -> list[dict[str, Any]]:
    runs = folder / ".pepr" / "runs"
    if not runs.is_dir():
        return []
    return [json.loads(p.read_text()) for p in sorted(runs.glob("*.json"))]


def stored(folder: Path) -> list[Any]:
    db = folder / ".pepr" / "history.db"
    if not db.exists():
        return []
    with open_store(f"sqlite:///{db}") as store:
        return store.runs()


def assert_exit(proc: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in proc.stderr, f"{needle!r} not in:\n{proc.stderr}"


def assert_bad_input(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert_exit(proc, 2, *needles)


# ---------------------------------------------------------------- the happy path


def test_run_scores_stores_and_prints_the_table(tmp_path: Path) -> None:
    write_config(tmp_path, perf_config('{"test": {"accuracy": 0.9}, "params": 1234}',
                                       extra='params_key = "params"\n')
                 + '[carbon]\ncountry = "DNK"\n')
    proc = pepr_gate("run", "--meter", "process", "--verbose", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "PePR-E" in proc.stdout and "0.9" in proc.stdout
    assert "estimated" in proc.stdout and "Denmark" in proc.stdout  # the source: --verbose

    [rec] = records_in(tmp_path)
    assert rec["schema"] == "pepr-gate/run/1"
    assert rec["status"] == "ok"
    assert rec["performance"] == {"name": "accuracy", "value": 0.9, "raw_value": 0.9,
                                  "file": "metrics.json", "key": "test.accuracy",
                                  "mapping": None}  # higher is better: no mapping
    res = rec["resources"]
    assert res["energy_method"] == "estimated" and res["energy_kwh"] > 0
    assert res["carbon_intensity_g_per_kwh"] == pytest.approx(151.65)
    assert res["carbon_kg"] == pytest.approx(res["energy_kwh"] * 151.65 / 1000)
    assert 0 < res["duration_s"] < 30 and res["cpu_time_s"] > 0
    assert res["peak_rss_bytes"] > 1_000_000 and res["gpu_peak_memory_bytes"] is None
    assert res["params"] == 1234
    assert rec["stages"][0]["exit_code"] == 0 and rec["stages"][0]["argv"][0] == PY
    score = rec["score"]
    r = min(res["energy_kwh"] / 0.001, 1.0)
    assert score["variant"] == "PePR-E" and score["R"] == pytest.approx(r)
    assert score["pepr"] == pytest.approx(0.9 / (1 + r))
    assert score["normalization"]["scale_source"] == "config"
    assert rec["hardware"]["fingerprint"] and rec["config_hash"]

    [row] = stored(tmp_path)
    assert row.id == rec["id"] and row.status == "ok"


def test_without_a_scale_it_prints_p_and_resources_and_how_to_set_one(tmp_path: Path) -> None:
    write_config(tmp_path, f"""\
        [[run.stages]]
        name = "t"
        cmd = {metrics_job('{"acc": 0.5}')}
        [performance]
        file = "metrics.json"
        key = "acc"
        """)
    proc = pepr_gate("run", "--meter", "process", "--no-store", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "No scale for R is known for energy" in proc.stdout
    assert "[score.scale]" in proc.stdout
    [rec] = records_in(tmp_path)
    assert rec["performance"]["value"] == 0.5 and rec["score"]["pepr"] is None
    assert rec["resources"]["energy_kwh"] > 0


def test_stages_run_in_order_with_the_configured_env(tmp_path: Path) -> None:
    write_config(tmp_path, f"""\
        [run]
        env = {{ PEPR_TEST_LR = "0.25" }}
        [[run.stages]]
        name = "train"
        cmd = {job("import os; open('model.txt', 'w').write(os.environ['PEPR_TEST_LR'])")}
        [[run.stages]]
        name = "eval"
        cmd = {job('''
            import json
            lr = float(open("model.txt").read())
            json.dump({"acc": 1 - lr}, open("metrics.json", "w"))
        ''')}
        timeout_s = 30
        [performance]
        file = "metrics.json"
        key = "acc"
        """)
    proc = pepr_gate("run", "--meter", "process", "--no-store", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    [rec] = records_in(tmp_path)
    assert [(s["name"], s["exit_code"]) for s in rec["stages"]] == [("train", 0), ("eval", 0)]
    assert rec["performance"]["value"] == 0.75
    assert sum(s["duration_s"] for s in rec["stages"]) <= rec["resources"]["duration_s"]


def test_a_stage_timeout_is_named_in_the_message(tmp_path: Path) -> None:
    write_config(tmp_path, '[[run.stages]]\nname = "slow"\ncmd = ["sleep", "30"]\n'
                           "timeout_s = 0.5\n")
    proc = pepr_gate("run", "--meter", "process", "--no-store", cwd=tmp_path)
    assert_command_failed(proc, "stage 'slow' timed out", "timeout_s = 0.5 s")


def test_command_after_dashes_needs_no_config(tmp_path: Path) -> None:
    proc = pepr_gate("run", "--meter", "process", "--", PY, "-c", "print('hello from job')",
                     cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "hello from job" in proc.stdout  # the job's output is passed through
    [rec] = records_in(tmp_path)
    assert rec["stages"][0]["argv"] == [PY, "-c", "print('hello from job')"]
    assert rec["performance"]["value"] is None
    assert len(stored(tmp_path)) == 1


def test_out_and_no_store(tmp_path: Path) -> None:
    out = tmp_path / "records" / "run.json"
    proc = pepr_gate("run", "--meter", "process", "--no-store", "--out", str(out),
                     "--", PY, "-c", "pass", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rec = json.loads(out.read_text())
    assert rec["status"] == "ok" and str(out) in proc.stdout
    assert not (tmp_path / ".pepr" / "history.db").exists()
    assert records_in(tmp_path) == []


def test_repeats_store_every_run_in_one_group(tmp_path: Path) -> None:
    write_config(tmp_path, perf_config('{"test": {"accuracy": 0.8}}'))
    proc = pepr_gate("run", "--meter", "process", "--repeats", "2", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    recs = records_in(tmp_path)
    assert len(recs) == 2
    assert {r["repeat_index"] for r in recs} == {0, 1}
    assert recs[0]["repeat_group"] and recs[0]["repeat_group"] == recs[1]["repeat_group"]
    assert {r.id for r in stored(tmp_path)} == {r["id"] for r in recs}


def test_pyproject_tool_table_and_relative_workdir_from_another_cwd(tmp_path: Path) -> None:
    (tmp_path / "job").mkdir()
    write_config(tmp_path, f"""\
        [project]
        name = "someone-elses-project"

        [tool.pepr-gate.run]
        workdir = "job"

        [[tool.pepr-gate.run.stages]]
        name = "t"
        cmd = {metrics_job('{"acc": 0.75}')}

        [tool.pepr-gate.performance]
        file = "metrics.json"
        key = "acc"
        """, name="pyproject.toml")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = pepr_gate("run", "--meter", "process", "--config",
                     str(tmp_path / "pyproject.toml"), cwd=elsewhere)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "job" / "metrics.json").is_file()  # the job ran in workdir
    [rec] = records_in(tmp_path)  # the records sit beside the config, not in cwd
    assert rec["performance"]["value"] == 0.75
    assert not (elsewhere / ".pepr").exists()

    # and found without --config from the project's folder
    proc = pepr_gate("run", "--meter", "process", "--no-store", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr


def test_version_help_and_schema(tmp_path: Path) -> None:
    proc = pepr_gate("--version", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.startswith("pepr-gate ")
    from pepr_gate import __version__
    assert __version__ in proc.stdout

    proc = pepr_gate("--help", cwd=tmp_path)
    assert proc.returncode == 0
    for name in COMMANDS:
        assert name in proc.stdout
    assert "130" in proc.stdout  # the exit codes are documented in the help

    proc = pepr_gate("schema", cwd=tmp_path)
    assert proc.returncode == 0
    schema = json.loads(proc.stdout)
    assert schema["type"] == "object"
    for field in ("id", "created_at", "status", "stages", "performance", "resources",
                  "components", "hardware", "config_hash", "score"):
        assert field in schema["properties"]
    assert "schema" in schema["properties"]


def test_the_schema_is_self_contained_and_matches_a_real_record(tmp_path: Path) -> None:
    proc = pepr_gate("schema", cwd=tmp_path)
    schema = json.loads(proc.stdout)
    text = proc.stdout
    refs = {part.split('"')[0] for part in text.split('"$ref": "#/$defs/')[1:]}
    assert refs and refs <= set(schema["$defs"])  # every reference resolves
    run = pepr_gate("run", "--meter", "process", "--no-store", "--out", "r.json",
                    "--", PY, "-c", "pass", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    record = json.loads((tmp_path / "r.json").read_text())
    assert set(schema["required"]) <= set(record) <= set(schema["properties"])
    resources = schema["$defs"]["Resources"]["properties"]
    assert set(record["resources"]) == set(resources)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_on_every_command(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: pepr-gate " + command)


# ---------------------------------------------------------------- bad input: exit 2


def test_no_config_found(cli: Cli, tmp_path: Path) -> None:
    proc = cli("run", cwd=tmp_path)
    assert_bad_input(proc, "no config found", str(tmp_path), "pepr.toml", "hint:")


def test_unknown_carbon_country_names_the_config_file(cli: Cli, tmp_path: Path) -> None:
    write_config(tmp_path, '[[run.stages]]\nname = "t"\ncmd = ["true"]\n'
                           '[carbon]\ncountry = "XYZ"\n')
    assert_bad_input(cli("run", "--no-store", cwd=tmp_path),
                     "pepr.toml", "carbon.country = 'XYZ'", "intensity_g_per_kwh")


def test_config_may_name_the_folder(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    write_config(tmp_path / "sub", '[[run.stages]]\nname = "t"\ncmd = ["true"]\n')
    proc = cli("run", "--no-store", "--config", "sub", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert_bad_input(cli("run", "--config", ".", cwd=tmp_path),
                     "no config in this folder", "--config")


def test_pyproject_without_the_tool_table_is_no_config(cli: Cli, tmp_path: Path) -> None:
    write_config(tmp_path, '[project]\nname = "x"\n', name="pyproject.toml")
    assert_bad_input(cli("run", cwd=tmp_path), "no config found", "[tool.pepr-gate]")


def test_toml_syntax_error_names_the_line(cli: Cli, tmp_path: Path) -> None:
    write_config(tmp_path, '[run]\ntimeout_s = 10\n[performance\nfile = "m.json"\n')
    assert_bad_input(cli("run", cwd=tmp_path), "pepr.toml", "TOML", "line 3")


def test_unknown_key_suggests_the_close_match(cli: Cli, tmp_path: Path) -> None:
    write_config(tmp_path, '[run]\ntimeout = 10\n[[run.stages]]\nname = "t"\ncmd = ["true"]\n')
    assert_bad_input(cli("run", cwd=tmp_path),
                     "pepr.toml", "unknown key 'run.timeout'", "did you mean 'timeout_s'")


def test_unknown_key_in_pyproject_names_the_tool_table(cli: Cli, tmp_path: Path) -> None:
    write_config(tmp_path, '[tool.pepr-gate.performance]\nfile = "m.json"\nkye = "acc"\n',
                 name="pyproject.toml")
    assert_bad_input(cli("run", cwd=tmp_path), "pyproject.toml",
                     "tool.pepr-gate.performance.kye", "did you mean 'key'")


def test_wrong_type_is_not_coerced(cli: Cli, tmp_path: Path) -> None:
    write_config(tmp_path, '[run]\ntimeout_s = "10"\n[[run.stages]]\nname = "t"\n'
                           'cmd = ["true"]\n')
    assert_bad_input(cli("run", cwd=tmp_path), "pepr.toml", "run.timeout_s", "'10'")


def test_empty_stage_list(cli: Cli, tmp_path: Path) -> None:
    write_config(tmp_path, "[run]\nstages = []\n")
    assert_bad_input(cli("run", cwd=tmp_path),
                     "pepr.toml", "run.stages", "nothing to run", "[[run.stages]]")


def test_empty_cmd(cli: Cli, tmp_path: Path) -> None:
    write_config(tmp_path, '[[run.stages]]\nname = "t"\ncmd = []\n')
    assert_bad_input(cli("run", cwd=tmp_path), "pepr.toml", "run.stages.0", "cmd is empty")


def test_string_cmd_needs_shell_on_purpose(cli: Cli, tmp_path: Path) -> None:
    write_config(tmp_path, '[[run.stages]]\nname = "t"\ncmd = "echo hi > out.txt"\n')
    assert_bad_input(cli("run", cwd=tmp_path), "run.stages.0", "shell = true")
    assert not (tmp_path / "out.txt").exists()

    write_config(tmp_path, '[[run.stages]]\nname = "t"\ncmd = "echo hi > out.txt"\n'
                           "shell = true\n")
    proc = cli("run", "--meter", "process", "--no-store", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out.txt").read_text() == "hi\n"


@pytest.mark.parametrize("value", ["0", "-5"])
def test_zero_or_negative_timeout(cli: Cli, tmp_path: Path, value: str) -> None:
    write_config(tmp_path, f'[run]\ntimeout_s = {value}\n[[run.stages]]\nname = "t"\n'
                           'cmd = ["true"]\n')
    assert_bad_input(cli("run", cwd=tmp_path), "pepr.toml", "run.timeout_s",
                     "greater than 0")


def test_metrics_file_missing_after_the_run(tmp_path: Path) -> None:
    write_config(tmp_path, f"""\
        [[run.stages]]
        name = "t"
        cmd = {job("pass")}
        [performance]
        file = "out/metrics.json"
        key = "acc"
        """)
    proc = pepr_gate("run", "--meter", "process", cwd=tmp_path)
    assert_bad_input(proc, str(tmp_path / "out" / "metrics.json"), "not written", "[performance]")
    # the failed run is still recorded, as failed
    [rec] = records_in(tmp_path)
    assert rec["status"] == "failed" and "not written" in rec["failure"]
    [row] = stored(tmp_path)
    assert row.status == "failed"


def test_metrics_not_json(cli: Cli, tmp_path: Path) -> None:
    write_config(tmp_path, perf_config('{"test": {"accuracy": 0.9},\n oops}'))
    proc = cli("run", "--meter", "process", cwd=tmp_path)
    assert_bad_input(proc, "metrics.json", "not JSON", "line 2")


def test_metrics_key_missing_lists_the_keys_there(cli: Cli, tmp_path: Path) -> None:
    write_config(tmp_path, perf_config('{"test": {"acc": 0.9, "loss": 0.1}}'))
    proc = cli("run", "--meter", "process", cwd=tmp_path)
    assert_bad_input(proc, "metrics.json", "'test.accuracy' not found", "acc, loss",
                     "[performance] key")


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        ('{"test": {"accuracy": "0.9"}}', "not a number"),
        ('{"test": {"accuracy": true}}', "not a number"),
        ('{"test": {"accuracy": null}}', "not a number"),
        ('{"test": {"accuracy": NaN}}', "finite"),
        ('{"test": {"accuracy": Infinity}}', "finite"),
        ('{"test": {"accuracy": -Infinity}}', "finite"),
    ],
)
def test_metrics_value_not_a_finite_number(
    cli: Cli, tmp_path: Path, payload: str, needle: str
) -> None:
    write_config(tmp_path, perf_config(payload))
    proc = cli("run", "--meter", "process", "--no-store", cwd=tmp_path)
    assert_bad_input(proc, "metrics.json", "'test.accuracy'", needle)
    [rec] = records_in(tmp_path)
    assert rec["status"] == "failed" and rec["performance"]["value"] is None


def test_metrics_value_outside_0_1_hints_at_scale(cli: Cli, tmp_path: Path) -> None:
    write_config(tmp_path, perf_config('{"test": {"accuracy": 93.5}}'))
    proc = cli("run", "--meter", "process", "--no-store", cwd=tmp_path)
    assert_bad_input(proc, "93.5", "outside [0, 1]", "scale = 100")

    write_config(tmp_path, perf_config('{"test": {"accuracy": -0.1}}'))
    proc = cli("run", "--meter", "process", "--no-store", cwd=tmp_path)
    assert_bad_input(proc, "outside [0, 1]", "performance] scale")


def test_percentage_with_scale_100_is_read(cli: Cli, tmp_path: Path) -> None:
    write_config(tmp_path, perf_config('{"test": {"accuracy": 93.5}}', extra="scale = 100\n"))
    proc = cli("run", "--meter", "process", "--no-store", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    [rec] = records_in(tmp_path)
    assert rec["performance"]["value"] == pytest.approx(0.935)
    assert rec["performance"]["raw_value"] == 93.5


def test_a_stale_metrics_file_from_an_earlier_run_is_refused(tmp_path: Path) -> None:
    stale = tmp_path / "metrics.json"
    stale.write_text('{"acc": 0.99}')
    old = time.time() - 3600
    os.utime(stale, (old, old))
    write_config(tmp_path, f"""\
        [[run.stages]]
        name = "t"
        cmd = {job("pass")}
        [performance]
        file = "metrics.json"
        key = "acc"
        """)
    proc = pepr_gate("run", "--meter", "process", cwd=tmp_path)
    assert_bad_input(proc, str(stale), "not updated by this run")
    [row] = stored(tmp_path)
    assert row.status == "failed" and row.performance.value is None


def test_a_repeat_that_does_not_write_the_metrics_is_refused(tmp_path: Path) -> None:
    # The first repeat writes metrics.json; the second does not. The file is then less
    # than a second old, so only a check of the file itself catches it.
    write_config(tmp_path, f"""\
        [[run.stages]]
        name = "t"
        cmd = {job('''
            import os
            if not os.path.exists("written-once"):
                open("metrics.json", "w").write('{"acc": 0.9}')
                open("written-once", "w").write("")
        ''')}
        [performance]
        file = "metrics.json"
        key = "acc"
        """)
    proc = pepr_gate("run", "--meter", "process", "--repeats", "2", cwd=tmp_path)
    assert_bad_input(proc, "not updated by this run")
    statuses = sorted((r["repeat_index"], r["status"]) for r in records_in(tmp_path))
    assert statuses == [(0, "ok"), (1, "failed")]


def test_unsupported_store_url(tmp_path: Path) -> None:
    write_config(tmp_path, '[[run.stages]]\nname = "t"\ncmd = ["touch", "ran"]\n'
                           '[store]\nurl = "mysql://db/history"\n')
    proc = pepr_gate("run", "--meter", "process", cwd=tmp_path)
    assert_bad_input(proc, "mysql://db/history", "sqlite:///")
    assert not (tmp_path / "ran").exists()  # checked before the job is started

    proc = pepr_gate("run", "--meter", "process", "--store", "ftp://x", "--", "true",
                     cwd=tmp_path)
    assert_bad_input(proc, "ftp://x")


def test_history_file_that_is_not_sqlite_is_left_untouched(tmp_path: Path) -> None:
    (tmp_path / ".pepr").mkdir()
    db = tmp_path / ".pepr" / "history.db"
    garbage = b"this is my lab notebook, not a database\n" + bytes(range(256))
    db.write_bytes(garbage)
    before = db.stat()
    write_config(tmp_path, '[[run.stages]]\nname = "t"\ncmd = ["touch", "ran"]\n')
    proc = pepr_gate("run", "--meter", "process", cwd=tmp_path)
    assert_bad_input(proc, str(db), "hint:")
    assert db.read_bytes() == garbage
    assert db.stat().st_mtime_ns == before.st_mtime_ns
    assert sorted(p.name for p in db.parent.iterdir()) == ["history.db", "runs"] or sorted(
        p.name for p in db.parent.iterdir()) == ["history.db"]
    assert not (tmp_path / "ran").exists()


def test_unwritable_pepr_folder(tmp_path: Path) -> None:
    # A regular file where the folder should be: unwritable even for root.
    (tmp_path / ".pepr").write_text("not a folder")
    write_config(tmp_path, '[[run.stages]]\nname = "t"\ncmd = ["touch", "ran"]\n')
    proc = pepr_gate("run", "--meter", "process", cwd=tmp_path)
    assert_bad_input(proc, str(tmp_path / ".pepr"), "writable")
    assert not (tmp_path / "ran").exists()  # refused before a long job runs
    assert (tmp_path / ".pepr").read_text() == "not a folder"


def test_unwritable_out_path(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    proc = cli("run", "--meter", "process", "--no-store", "--out",
                     str(tmp_path / "afile" / "run.json"), "--", "touch", "ran", cwd=tmp_path)
    assert_bad_input(proc, str(tmp_path / "afile"), "--out")
    assert not (tmp_path / "ran").exists()


def test_stray_argument_without_dashes(cli: Cli, tmp_path: Path) -> None:
    proc = cli("run", "python", "train.py", cwd=tmp_path)
    assert_bad_input(proc, "'python'", "--")


def test_unknown_meter(cli: Cli, tmp_path: Path) -> None:
    proc = cli("run", "--meter", "wattmeter", "--no-store", "--", "true", cwd=tmp_path)
    assert_bad_input(proc, "wattmeter", "process")


# ---------------------------------------------------------------- command failed: exit 3


def assert_command_failed(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert_exit(proc, 3, *needles)


def test_command_not_found(tmp_path: Path) -> None:
    write_config(tmp_path, '[[run.stages]]\nname = "train"\ncmd = ["no-such-trainer-xyz"]\n')
    proc = pepr_gate("run", "--meter", "process", cwd=tmp_path)
    assert_command_failed(proc, "stage 'train'", "command not found", "no-such-trainer-xyz")
    [row] = stored(tmp_path)
    assert row.status == "failed"


def test_non_zero_exit_is_stored_as_failed_and_stops_later_stages(tmp_path: Path) -> None:
    write_config(tmp_path, f"""\
        [[run.stages]]
        name = "train"
        cmd = {job("raise SystemExit(7)")}
        [[run.stages]]
        name = "eval"
        cmd = ["touch", "eval-ran"]
        """)
    proc = pepr_gate("run", "--meter", "process", cwd=tmp_path)
    assert_command_failed(proc, "stage 'train'", "code 7")
    assert not (tmp_path / "eval-ran").exists()
    [rec] = records_in(tmp_path)
    assert rec["status"] == "failed" and [s["name"] for s in rec["stages"]] == ["train"]
    assert rec["stages"][0]["exit_code"] == 7
    with open_store(f"sqlite:///{tmp_path / '.pepr' / 'history.db'}") as store:
        assert store.runs(status="ok") == []
        assert [r.status for r in store.runs(status="failed")] == ["failed"]


def test_killed_by_a_signal(tmp_path: Path) -> None:
    proc = pepr_gate("run", "--meter", "process", "--", PY, "-c",
                     "import os, signal; os.kill(os.getpid(), signal.SIGKILL)", cwd=tmp_path)
    assert_command_failed(proc, "SIGKILL")
    [rec] = records_in(tmp_path)
    assert rec["stages"][0]["signal"] == signal.SIGKILL and rec["status"] == "failed"


def _gone(pid: int) -> bool:
    try:
        # Without an init that reaps orphans (some containers), a killed process lingers
        # as a zombie: dead, holding no memory, so it counts as gone.
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    write_config(tmp_path, f"""\
        [run]
        timeout_s = 1.5
        [[run.stages]]
        name = "train"
        cmd = {job('''
            import subprocess
            child = subprocess.Popen(["sleep", "300"])
            open("grandchild.pid", "w").write(str(child.pid))
            child.wait()
        ''')}
        """)
    t0 = time.monotonic()
    proc = pepr_gate("run", "--meter", "process", cwd=tmp_path)
    took = time.monotonic() - t0
    assert_command_failed(proc, "stage 'train' timed out", "timeout_s = 1.5")
    assert took < 20
    grandchild = int((tmp_path / "grandchild.pid").read_text())
    deadline = time.monotonic() + 5
    while not _gone(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(grandchild), "the job's grandchild `sleep` survived the timeout"
    [rec] = records_in(tmp_path)
    assert rec["status"] == "failed" and rec["stages"][0]["timed_out"] is True


def test_ctrl_c_is_forwarded_and_nothing_is_stored_as_ok(tmp_path: Path) -> None:
    write_config(tmp_path, f"""\
        [[run.stages]]
        name = "train"
        cmd = {job('''
            import signal, subprocess, time
            child = subprocess.Popen(["sleep", "300"])
            open("grandchild.pid", "w").write(str(child.pid))
            def on_int(signum, frame):
                open("job-got-sigint", "w").write("yes")
                raise SystemExit(130)
            signal.signal(signal.SIGINT, on_int)
            open("started", "w").write("")
            time.sleep(300)
        ''')}
        [performance]
        file = "metrics.json"
        key = "acc"
        """)
    runner = subprocess.Popen([PY, "-m", "pepr_gate", "run", "--meter", "process"],
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "started").exists():
            assert runner.poll() is None, runner.communicate()
            assert time.monotonic() < deadline, "the job never started"
            time.sleep(0.05)
        runner.send_signal(signal.SIGINT)
        out, err = runner.communicate(timeout=30)
    finally:
        if runner.poll() is None:
            runner.kill()
    assert runner.returncode == 130, out + err
    assert "interrupted" in err and "Traceback" not in err
    assert (tmp_path / "job-got-sigint").read_text() == "yes"
    grandchild = int((tmp_path / "grandchild.pid").read_text())
    deadline = time.monotonic() + 5
    while not _gone(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(grandchild), "the job's group did not get the signal"
    assert [r for r in stored(tmp_path) if r.status == "ok"] == []
    assert [r for r in records_in(tmp_path) if r["status"] == "ok"] == []


# ---------------------------------------------------------------- internal error: exit 4


def test_internal_error_exits_4_and_names_a_log_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import pepr_gate.services.run

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("deliberate bug for the test")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(pepr_gate.services.run, "execute", broken)
    code = main(["run", "--no-store", "--", "true"])
    assert code == 4
    err = capsys.readouterr().err
    assert "internal error" in err and "Traceback (most recent call last)" not in err
    log = Path(err.split("Traceback written to ")[1].split()[0])
    assert log.is_file()
    text = log.read_text()
    assert "RuntimeError: deliberate bug for the test" in text
    assert "Traceback" in text and "'run'" in text


def test_the_store_keeps_runs_across_invocations(tmp_path: Path) -> None:
    for _ in range(2):
        proc = pepr_gate("run", "--meter", "process", "--", "true", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
    rows = stored(tmp_path)
    assert len(rows) == 2
    assert rows[0].created_at >= rows[1].created_at  # newest first
    con = sqlite3.connect(tmp_path / ".pepr" / "history.db")
    try:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        con.close()


def test_carbon_counts_the_pue_and_the_record_names_its_config_keys(tmp_path: Path) -> None:
    write_config(tmp_path, perf_config('{"test": {"accuracy": 0.9}}')
                 + "[carbon]\nintensity_g_per_kwh = 400.0\npue = 1.5\n")
    proc = pepr_gate("run", "--meter", "process", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    [rec] = records_in(tmp_path)
    res = rec["resources"]
    assert res["pue"] == 1.5 and res["energy_kwh"] > 0
    # The data centre's overhead multiplies the carbon, not the energy the job used.
    assert res["carbon_kg"] == pytest.approx(res["energy_kwh"] * 1.5 * 400.0 / 1000)
    keys = rec["config_keys"]
    assert {"carbon.pue", "carbon.intensity_g_per_kwh", "score.scale.energy"} <= set(keys)


def test_a_failed_run_still_names_its_configured_metric(tmp_path: Path) -> None:
    """The job failed, so P is missing; the record and table must not say 'not configured'."""
    write_config(tmp_path, f'[[run.stages]]\nname = "train"\ncmd = {job("raise SystemExit(1)")}\n'
                 '\n[performance]\nfile = "metrics.json"\nkey = "test.accuracy"\n'
                 'name = "dice"\n')
    proc = pepr_gate("run", "--no-store", cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    (rec,) = records_in(tmp_path)
    assert rec["status"] == "failed"
    assert rec["performance"]["name"] == "dice" and rec["performance"]["file"] == "metrics.json"
    assert rec["performance"]["value"] is None
    assert "not configured" not in proc.stdout
