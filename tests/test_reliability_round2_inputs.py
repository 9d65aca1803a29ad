"""Issue 20, hostile round two: user mistakes that exited 4 or were taken as good input.

Stage names and commands, scripts the kernel cannot start, `init` with an emoji, an
ASCII-only terminal, devices and FIFOs as input files, records and check results that
contradict themselves. The real CLI in a subprocess on real files, FIFOs and devices."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

try:
    from tests.harness import PY, WRITE_METRICS, assert_exit, pepr_gate, perf_config, write_config
except ImportError:
    from harness import (  # type: ignore[no-redef]
        PY,
        WRITE_METRICS,
        assert_exit,
        pepr_gate,
        perf_config,
        write_config,
    )

MARK = "import pathlib; pathlib.Path('ran').write_text('1')\n"


def no_workflow_commands(*texts: str) -> None:
    for text in texts:
        assert not any(line.startswith("::") for line in text.splitlines()), text


@pytest.mark.parametrize("name", ["train\n::error::forged", "train\n::add-mask::x", "a\x1b[2Jb"])
def test_a_stage_name_with_a_control_character_is_refused(tmp_path: Path, name: str) -> None:
    write_config(tmp_path, perf_config(MARK + WRITE_METRICS).replace(
        'name = "train"', f"name = {json.dumps(name)}"))
    proc = pepr_gate("run", "--no-store", cwd=tmp_path)
    assert_exit(proc, 2, "field 'run.stages.0.name'", "stage names must be printable")
    no_workflow_commands(proc.stdout, proc.stderr)
    assert not (tmp_path / "ran").exists()


def test_a_nul_in_a_stage_command_is_refused_in_the_config(tmp_path: Path) -> None:
    write_config(tmp_path, perf_config(WRITE_METRICS).replace(
        f'cmd = ["{PY}"', f'cmd = ["{PY}\\u0000"'))
    proc = pepr_gate("run", "--no-store", cwd=tmp_path)
    assert_exit(proc, 2, "field 'run.stages.0'", "cmd contains a NUL character")


def test_a_script_without_a_shebang_is_exit_3_with_the_reason(tmp_path: Path) -> None:
    script = tmp_path / "train.sh"
    script.write_text("echo training\n")
    script.chmod(0o755)
    write_config(tmp_path, '[[run.stages]]\nname = "train"\ncmd = ["./train.sh"]\n'
                 '[performance]\nfile = "m.json"\nkey = "acc"\n')
    proc = pepr_gate("run", "--no-store", cwd=tmp_path)
    assert_exit(proc, 3, "stage 'train': cannot start './train.sh': Exec format error",
                "a script needs a first line like `#!/usr/bin/env python3`")


def test_a_program_name_over_the_file_name_limit_is_exit_3(tmp_path: Path) -> None:
    write_config(tmp_path, '[performance]\nfile = "m.json"\nkey = "acc"\n')
    proc = pepr_gate("run", "--no-store", "--", "x" * 300, cwd=tmp_path)
    assert_exit(proc, 3, "File name too long", "the program's name is longer than the system")


def test_init_with_an_emoji_writes_a_config_it_reads_back(tmp_path: Path) -> None:
    proc = pepr_gate("init", "--cmd", "python train.py --tag 🚀 --note 'a\x7fb'", cwd=tmp_path)
    assert_exit(proc, 0)
    from pepr_gate.config import tomllib

    data = tomllib.loads((tmp_path / "pepr.toml").read_text(encoding="utf-8"))
    assert data["run"]["stages"][0]["cmd"] == ["python", "train.py", "--tag", "🚀",
                                               "--note", "a\x7fb"]


def test_init_refuses_an_empty_part_of_the_key(tmp_path: Path) -> None:
    proc = pepr_gate("init", "--key", "a..b", cwd=tmp_path)
    assert_exit(proc, 2, "--key 'a..b': an empty part between dots")
    assert not (tmp_path / "pepr.toml").exists()


def test_an_ascii_only_terminal_still_gets_the_runs_exit_code(tmp_path: Path) -> None:
    write_config(tmp_path, perf_config(WRITE_METRICS))
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    proc = pepr_gate("run", "--store", "sqlite:///h.db", cwd=tmp_path, env=env)
    assert_exit(proc, 0)
    assert "record:" in proc.stdout
    shown = pepr_gate("history", "--store", "sqlite:///h.db", "--format", "json",
                      cwd=tmp_path, env=env)
    assert_exit(shown, 0)
    assert len(json.loads(shown.stdout)) == 1


def test_no_command_is_exit_2_with_the_usage(tmp_path: Path) -> None:
    proc = pepr_gate(cwd=tmp_path)
    assert_exit(proc, 2, "usage: pepr-gate", "name a command")


def test_run_out_a_folder_is_refused_before_the_job(tmp_path: Path) -> None:
    write_config(tmp_path, perf_config(MARK + WRITE_METRICS))
    proc = pepr_gate("run", "--no-store", "--out", "/", cwd=tmp_path)
    assert_exit(proc, 2, "--out /: is a folder; --out names the run record's file")
    assert not (tmp_path / "ran").exists()


def test_duplicate_keys_in_the_metrics_file_are_refused(tmp_path: Path) -> None:
    write_config(tmp_path, perf_config(
        "open('metrics.json', 'w').write('{\"acc\": 0.1, \"acc\": 0.9}')"))
    proc = pepr_gate("run", "--no-store", cwd=tmp_path)
    assert proc.returncode in (2, 3), proc.stderr
    assert "the key 'acc' appears twice in one object" in proc.stderr
    assert "Traceback" not in proc.stderr


# --- devices and FIFOs as input files -------------------------------------------------

@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "input.fifo"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("kind", ["device", "fifo"])
@pytest.mark.parametrize("command", [
    ("run", "--no-store", "--config", "{}"),
    ("history", "--store", "sqlite:///h.db", "--import", "{}"),
    ("check", "--candidate", "{}", "--baseline", "{}"),
    ("report", "{}"),
])
def test_a_device_or_fifo_as_an_input_file_is_refused_at_once(
        tmp_path: Path, fifo: Path, kind: str, command: tuple[str, ...]) -> None:
    path = "/dev/zero" if kind == "device" else str(fifo)
    write_config(tmp_path, perf_config(WRITE_METRICS))
    proc = pepr_gate(*(a.format(path) for a in command), cwd=tmp_path, timeout=30)
    what = "a device" if kind == "device" else "a FIFO"
    assert_exit(proc, 2, f"{path}: cannot read", f"not a regular file ({what})")


# --- records and check results that contradict themselves ------------------------------

@pytest.fixture
def record(tmp_path: Path) -> dict:  # type: ignore[type-arg]
    write_config(tmp_path, perf_config(WRITE_METRICS, "\n[score]\nresource = \"time\"\n"))
    assert_exit(pepr_gate("run", "--no-store", "--out", "rec.json", cwd=tmp_path), 0)
    data: dict = json.loads((tmp_path / "rec.json").read_text())  # type: ignore[type-arg]
    return data


@pytest.mark.parametrize(("change", "field", "said"), [
    ({"performance": {"value": True}}, "performance.value", "valid number"),
    ({"performance": {"value": "0.9"}}, "performance.value", "valid number"),
    ({"repeat_index": "12"}, "repeat_index", "valid integer"),
    ({"score": {"pepr": 0.99}}, "score.pepr", "is not P / (1 + R)"),
    ({"created_at": "2999-01-01T00:00:00Z"}, "created_at", "is in the future"),
])
def test_import_refuses_coerced_types_and_contradictions(
        tmp_path: Path, record: dict, change: dict, field: str, said: str) -> None:  # type: ignore[type-arg]
    for key, value in change.items():
        if isinstance(value, dict):
            record[key].update(value)
        else:
            record[key] = value
    (tmp_path / "bad.json").write_text(json.dumps(record))
    proc = pepr_gate("history", "--store", "sqlite:///h.db", "--import", "bad.json",
                     cwd=tmp_path)
    assert_exit(proc, 2, f"invalid run record at field '{field}'", said)


def forged(tmp_path: Path, **fields: object) -> Path:
    from pepr_gate.records import CheckResult, Side, utcnow

    side = Side(run_ids=["r1"], pepr=0.45, performance=0.9, resource_value=0.5, R=1.0)
    base = Side(run_ids=["r0"], pepr=0.9, performance=0.9, resource_value=0.0, R=0.0)
    result = CheckResult(created_at=utcnow(), verdict="fail", reasons=["x"], variant="PePR-E",
                         resource="energy", performance_name="acc", candidate=side,
                         baseline=base, pepr_change=-0.5, threshold=0.05)
    data = json.loads(result.to_json())
    data.update(fields)
    path = tmp_path / "check.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(("fields", "said"), [
    ({"verdict": "pass"}, "'pass' with a PePR change of -50.0%, a drop past the 5.0% threshold"),
    ({"verdict": "accepted", "accepted_by": "perf-ok"}, "needs the accept label among the"),
])
def test_a_forged_check_result_is_never_rendered_or_posted(
        tmp_path: Path, fields: dict, said: str) -> None:  # type: ignore[type-arg]
    path = forged(tmp_path, **fields)
    assert_exit(pepr_gate("report", str(path), cwd=tmp_path), 2, said)
    env = {**os.environ, "GITHUB_TOKEN": "t", "GITHUB_API_URL": "http://127.0.0.1:9"}
    proc = pepr_gate("comment", "--from", str(path), "--pr", "2", "--repo", "o/r",
                     cwd=tmp_path, env=env)
    assert_exit(proc, 2, "invalid check result", said)
    assert_exit(pepr_gate("report", str(forged(tmp_path)), cwd=tmp_path), 0)  # the real one


def test_a_narrow_terminal_keeps_the_clock_and_a_figure() -> None:
    import re

    from pepr_gate.config import BudgetConfig
    from pepr_gate.publish.live import LiveLine, LiveReading, summarise

    fig = summarise([LiveReading("gpu", "measured", 100.0, 3.6e6 * 0.85)], 10.0, g_per_kwh=0,
                    pue=1.0, budgets=BudgetConfig(energy_kwh=1.0))
    live = LiveLine("terminal", interval_s=1, budgets=BudgetConfig(), g_per_kwh=0, pue=1)
    live.stage("train", 1, 2, ", repeat 2/3")
    shown = {cols: re.sub(r"\x1b\[[0-9;]*m", "", live._render(fig, cols)) for cols in (20, 40)}
    assert shown[20].startswith("0:00:10 · energy bu")
    assert shown[40].startswith("train 1/2") and "0:00:10 · energy budget" in shown[40]
    assert all(len(text) <= max(20, cols - 1) for cols, text in shown.items())


@pytest.mark.parametrize(("field", "value", "said"), [
    ("load_start", 1e308, "less than or equal to 1000000"),  # was shown as "load inf"
    ("load_end", -1.0, "greater than or equal to 0"),
    ("other_cpu_share", 1.5, "less than or equal to 1"),
    ("wall_cpu_ratio", 0.0, "greater than 0"),
    ("wall_cpu_ratio", 1e300, "less than or equal to"),
    ("gpu_temperature_c", 1e308, "less than or equal to 200"),
    ("cpu_count", 10**18, "less than or equal to"),
])
def test_import_refuses_run_conditions_no_machine_has(
        tmp_path: Path, record: dict, field: str, value: float, said: str) -> None:  # type: ignore[type-arg]
    record["conditions"] = {**(record.get("conditions") or {}), field: value}
    (tmp_path / "bad.json").write_text(json.dumps(record))
    proc = pepr_gate("history", "--store", "sqlite:///h.db", "--import", "bad.json",
                     cwd=tmp_path)
    assert_exit(proc, 2, f"invalid run record at field 'conditions.{field}'", said)
    assert "inf" not in proc.stdout


@pytest.mark.parametrize("separator", ["\u2028", "\u2029"])
def test_import_refuses_a_branch_with_a_unicode_line_separator(
        tmp_path: Path, record: dict, separator: str) -> None:  # type: ignore[type-arg]
    record["git"] = {"sha": "a" * 40, "branch": f"feature{separator}::error::x"}
    (tmp_path / "bad.json").write_text(json.dumps(record))
    proc = pepr_gate("history", "--store", "sqlite:///h.db", "--import", "bad.json",
                     cwd=tmp_path)
    assert_exit(proc, 2, "field 'git.branch'", f"the line break {separator!a}")
    no_workflow_commands(proc.stdout, proc.stderr)
