"""Issue 11, items 2, 9, 10 and 13: secrets withheld from the job, bad input exits 2 with a
message (never 4, never a silent skip). The real CLI in a subprocess on real files."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

try:
    from tests.harness import (
        PY,
        WRITE_METRICS,
        assert_exit,
        job,
        pepr_gate,
        perf_config,
        write_config,
    )
except ImportError:
    from harness import (  # type: ignore[no-redef]
        PY,
        WRITE_METRICS,
        assert_exit,
        job,
        pepr_gate,
        perf_config,
        write_config,
    )

SECRETS = {
    "GITHUB_TOKEN": "ghs_secret_github_token",
    "GH_TOKEN": "gho_secret_gh_token",
    "ACTIONS_RUNTIME_TOKEN": "runtime-secret",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "oidc-secret",
    "ACTIONS_ID_TOKEN_REQUEST_URL": "https://oidc.example/secret",
    "PEPR_STORE": "postgresql://u:pw-secret@db/pepr",
}
DUMP_ENV = "import json, os; json.dump(dict(os.environ), open('env.json', 'w'))\n" + WRITE_METRICS


def test_the_job_gets_none_of_the_actions_secrets(tmp_path: Path) -> None:
    write_config(tmp_path, perf_config(DUMP_ENV))
    env = {**os.environ, **SECRETS}
    proc = pepr_gate("run", "--no-store", "--out", "rec.json", cwd=tmp_path, env=env)
    assert_exit(proc, 0)
    seen = json.loads((tmp_path / "env.json").read_text())
    assert not set(SECRETS) & set(seen)
    assert not any(v in json.dumps(seen) for v in SECRETS.values())
    assert seen["PATH"] == os.environ["PATH"]  # the rest of the environment is passed on
    notes = " ".join(json.loads((tmp_path / "rec.json").read_text())["notes"])
    assert "GITHUB_TOKEN" in notes and "[run] env" in notes
    assert "ghs_secret" not in (tmp_path / "rec.json").read_text()


def test_run_env_may_set_a_withheld_name_back_on_purpose(tmp_path: Path) -> None:
    write_config(tmp_path, perf_config(DUMP_ENV, '\n[run]\nenv = { GH_TOKEN = "on-purpose" }\n'))
    env = {**os.environ, **SECRETS}
    proc = pepr_gate("run", "--no-store", "--out", "rec.json", cwd=tmp_path, env=env)
    assert_exit(proc, 0)
    seen = json.loads((tmp_path / "env.json").read_text())
    assert seen["GH_TOKEN"] == "on-purpose"
    assert "GITHUB_TOKEN" not in seen


def test_pyproject_with_a_toml_error_is_an_error_with_line_and_column(tmp_path: Path) -> None:
    write_config(tmp_path, '[project]\nname = "x"\n[tool.pepr-gate.run\nrepeats = 2\n',
                 name="pyproject.toml")
    for args in (("run", "--no-store", "--", PY, "-c", "pass"), ("history",), ("check",)):
        proc = pepr_gate(*args, cwd=tmp_path)
        assert_exit(proc, 2, "pyproject.toml", "TOML syntax error at line 3, column 20")
        assert "no config found" not in proc.stderr


def test_toml_error_at_the_end_of_the_file_still_names_a_line(tmp_path: Path) -> None:
    write_config(tmp_path, '[run]\nrepeats = [\n')
    assert_exit(pepr_gate("run", cwd=tmp_path), 2, "pepr.toml", "line 3, column 1")


def test_a_huge_integer_metric_exits_2_naming_the_key(tmp_path: Path) -> None:
    huge = "1" + "0" * 400
    code = f"open('metrics.json', 'w').write('{{\"acc\": {huge}}}')"
    write_config(tmp_path, perf_config(code))
    proc = pepr_gate("run", "--no-store", cwd=tmp_path)
    assert_exit(proc, 2, "metrics.json", "acc")


def test_closing_stdout_early_keeps_the_exit_code(tmp_path: Path) -> None:
    for _ in range(3):  # enough output that `head -1` closes the pipe before the end
        write_config(tmp_path, perf_config(WRITE_METRICS))
        assert_exit(pepr_gate("run", cwd=tmp_path), 0)
    shell = f"{PY} -m pepr_gate history --format json | head -1; echo \"rc=${{PIPESTATUS[0]}}\""
    proc = subprocess.run(["bash", "-c", shell], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.stdout.splitlines()[-1] == "rc=0", proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr
    # A failing command behind a closed pipe still reports its own code.
    shell = (f"{PY} -m pepr_gate history --store sqlite:///missing.db | head -1; "
             "echo \"rc=${PIPESTATUS[0]}\"")
    proc = subprocess.run(["bash", "-c", shell], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.stdout.splitlines()[-1] == "rc=2", proc.stdout + proc.stderr


def test_job_command_helper_is_an_argv_list() -> None:
    assert json.loads(job("pass"))[0] == PY


def test_a_verdict_behind_a_closed_pipe_keeps_its_exit_code(tmp_path: Path) -> None:
    try:
        from tests.factories import make_record
    except ImportError:
        from factories import make_record  # type: ignore[no-redef]

    (tmp_path / "base.json").write_text(make_record(energy_kwh=0.0080).to_json())
    # A hard energy budget decides on one run: over it the gate fails (1), under it not (0).
    (tmp_path / "pepr.toml").write_text("[gate.budgets]\nenergy_kwh = 0.01\n")
    for energy, code in ((0.0080, 0), (0.0200, 1)):
        cand = make_record(energy_kwh=energy, branch="f")
        (tmp_path / "cand.json").write_text(cand.to_json())
        # `true` exits at once: every write pepr-gate makes meets a closed pipe.
        shell = (f"{PY} -m pepr_gate check --config pepr.toml --candidate cand.json "
                 "--baseline base.json | true; echo \"rc=${PIPESTATUS[0]}\"")
        proc = subprocess.run(["bash", "-c", shell], cwd=tmp_path, capture_output=True,
                              text=True, timeout=60, check=False)
        assert proc.stdout.splitlines()[-1] == f"rc={code}", proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr


BAD_FIELDS = [  # (path into the record, value, field named in the message)
    (("performance", "value"), 7.0, "performance.value"),
    (("performance", "value"), float("nan"), "performance.value"),
    (("resources", "energy_kwh"), -0.5, "resources.energy_kwh"),
    (("resources", "duration_s"), float("inf"), "resources.duration_s"),
    (("score", "pepr"), 1.5, "score.pepr"),
    (("created_at",), "yesterday", "created_at"),
    (("created_at",), "2025-03-01T12:00:00", "created_at"),  # no time zone
]


def _bad_record(tmp_path: Path, path: tuple[str, ...], value: object) -> Path:
    try:
        from tests.factories import make_record
    except ImportError:
        from factories import make_record  # type: ignore[no-redef]

    data = json.loads(make_record().to_json())
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    out = tmp_path / "bad.json"
    out.write_text(json.dumps(data))  # NaN and Infinity as Python's json writes them
    return out


def test_out_of_range_records_are_refused_naming_the_field(tmp_path: Path) -> None:
    try:
        from tests.factories import make_record
    except ImportError:
        from factories import make_record  # type: ignore[no-redef]

    (tmp_path / "ok.json").write_text(make_record().to_json())
    store = f"sqlite:///{tmp_path / 'h.db'}"
    assert_exit(pepr_gate("run", "--store", store, "--", "true", cwd=tmp_path), 0)
    for path, value, field in BAD_FIELDS:
        bad = _bad_record(tmp_path, path, value)
        proc = pepr_gate("check", "--candidate", str(bad), "--baseline", "ok.json", cwd=tmp_path)
        assert_exit(proc, 2, "bad.json", f"field '{field}'")
        proc = pepr_gate("history", "--store", store, "--import", str(bad), cwd=tmp_path)
        assert_exit(proc, 2, "bad.json", f"field '{field}'")


def test_an_out_of_range_stored_row_is_skipped_with_a_warning_naming_it(tmp_path: Path) -> None:
    import sqlite3

    store = f"sqlite:///{tmp_path / 'h.db'}"
    assert_exit(pepr_gate("run", "--store", store, "--branch", "main", "--", "true",
                          cwd=tmp_path), 0)
    with sqlite3.connect(tmp_path / "h.db") as conn:
        (text,) = conn.execute("SELECT record FROM pepr_runs").fetchone()
        data = json.loads(text)
        data["id"], data["resources"]["duration_s"] = "tampered", -3.0
        conn.execute("INSERT INTO pepr_runs (id, created_at, branch, status, record) "
                     "VALUES ('tampered', '2030-01-01 00:00:00', 'main', 'ok', ?)",
                     (json.dumps(data),))
    proc = pepr_gate("history", "--store", store, "--branch", "main", "--format", "json",
                     cwd=tmp_path)
    assert_exit(proc, 0, "warning", "tampered", "resources.duration_s")
    assert [r["id"] for r in json.loads(proc.stdout)] != ["tampered"]
    assert len(json.loads(proc.stdout)) == 1


@pytest.mark.parametrize(("argv", "line"), [
    (["check", "--bogus"], "pepr-gate: error: unrecognized arguments: --bogus"),
    (["history", "--format", "xml"], "pepr-gate: error: history: argument --format: invalid"),
])
def test_a_usage_error_names_pepr_gate_once(tmp_path: Path, argv: list[str], line: str) -> None:
    proc = pepr_gate(*argv, cwd=tmp_path)
    assert_exit(proc, 2, line)
    assert proc.stderr.count("pepr-gate:") == 1, proc.stderr
