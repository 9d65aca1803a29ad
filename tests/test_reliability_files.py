"""A hostile tester's findings: odd output paths, odd input files and a closed stderr.
The real CLI in a subprocess on real files, links, FIFOs and pipes."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import threading
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

DEEP = "[" * 100000


def _metrics_job(tmp_path: Path, text: str, extra: str = "") -> None:
    """A config whose job copies `text` into metrics.json (the job writes it each run)."""
    (tmp_path / "src.json").write_text(text, encoding="utf-8")
    copy = "import shutil; shutil.copy('src.json', 'metrics.json')"
    write_config(tmp_path, perf_config(copy, extra))


def _record(tmp_path: Path, name: str) -> Path:
    write_config(tmp_path, perf_config(WRITE_METRICS))
    assert_exit(pepr_gate("run", "--no-store", "--quiet", "--out", name, cwd=tmp_path), 0)
    return tmp_path / name


# --- run --out onto links, FIFOs and devices ---------------------------------------------

def test_out_through_a_symlink_writes_the_target_and_keeps_the_link(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link.json").symlink_to("real/rec.json")
    _record(tmp_path, "link.json")
    assert (tmp_path / "link.json").is_symlink()
    record = json.loads((tmp_path / "real" / "rec.json").read_text())
    assert record["schema"] == "pepr-gate/run/1"
    assert not [p for p in (tmp_path / "real").iterdir() if p.name.endswith(".tmp")]


def test_out_onto_a_fifo_writes_into_it_and_leaves_it_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "rec.fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    _record(tmp_path, "rec.fifo")
    reader.join(timeout=30)
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert json.loads(got[0])["schema"] == "pepr-gate/run/1"


def test_out_onto_a_character_device_leaves_the_device(tmp_path: Path) -> None:
    dev = tmp_path / "null"
    try:
        os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # what /dev/null is
    except (PermissionError, OSError) as exc:
        pytest.skip(f"cannot make a device node here: {exc}")
    _record(tmp_path, "null")
    assert stat.S_ISCHR(dev.lstat().st_mode)


def test_a_replaced_record_keeps_its_file_mode(tmp_path: Path) -> None:
    (tmp_path / "rec.json").write_text("{}")
    (tmp_path / "rec.json").chmod(0o644)
    _record(tmp_path, "rec.json")
    assert stat.S_IMODE((tmp_path / "rec.json").stat().st_mode) == 0o644


# --- exit codes with stderr on a pipe nobody reads ---------------------------------------

def _closed_pipe_run(tmp_path: Path, *args: str) -> int:
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run([PY, "-m", "pepr_gate", *args], cwd=tmp_path, stdout=write_end,
                              stderr=write_end, timeout=60, check=False)
    finally:
        os.close(write_end)
    return proc.returncode


def test_a_failed_command_exits_3_when_stderr_is_a_closed_pipe(tmp_path: Path) -> None:
    assert _closed_pipe_run(tmp_path, "run", "--no-store", "--", PY, "-c", "exit(1)") == 3


def test_bad_input_exits_2_when_stderr_is_a_closed_pipe(tmp_path: Path) -> None:
    assert _closed_pipe_run(tmp_path, "check", "--candidate", "/nonexistent.json") == 2


# --- JSON nested too deeply --------------------------------------------------------------

def test_deeply_nested_metrics_file_is_bad_input(tmp_path: Path) -> None:
    _metrics_job(tmp_path, DEEP)
    proc = pepr_gate("run", "--no-store", cwd=tmp_path)
    assert_exit(proc, 2, "metrics.json", "nested too deeply")


@pytest.mark.parametrize("args", [("check", "--candidate", "deep.json"),
                                  ("history", "--import", "deep.json"),
                                  ("report", "deep.json")])
def test_deeply_nested_record_files_are_bad_input(tmp_path: Path, args: tuple[str, ...]) -> None:
    write_config(tmp_path, perf_config(WRITE_METRICS))
    (tmp_path / "deep.json").write_text(DEEP)
    assert_exit(pepr_gate(*args, cwd=tmp_path), 2, "deep.json", "nested too deeply")


# --- config shapes -----------------------------------------------------------------------

@pytest.mark.parametrize("command", ["run", "history", "check", "dashboard"])
def test_tool_pepr_gate_as_a_string_is_a_config_error(tmp_path: Path, command: str) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool]\npepr-gate = "x"\n')
    assert_exit(pepr_gate(command, cwd=tmp_path), 2, "[tool.pepr-gate] must be a table")


@pytest.mark.parametrize("env", ['{ "A=B" = "x" }', '{ "" = "x" }', '{ "A\\u0000" = "x" }'])
def test_bad_environment_names_are_refused_before_the_job(tmp_path: Path, env: str) -> None:
    write_config(tmp_path, perf_config(WRITE_METRICS, f"\n[run]\nenv = {env}\n"))
    proc = pepr_gate("run", "--no-store", cwd=tmp_path)
    assert_exit(proc, 2, "run.env", "not an environment variable name")
    assert not (tmp_path / "metrics.json").exists()


def test_a_huge_progress_interval_is_a_config_error(tmp_path: Path) -> None:
    write_config(tmp_path, perf_config(WRITE_METRICS, "\n[run]\nprogress_interval_s = 1e308\n"))
    proc = pepr_gate("run", "--no-store", cwd=tmp_path)
    assert_exit(proc, 2, "run.progress_interval_s", "86400")
    assert "Exception in thread" not in proc.stderr


@pytest.mark.parametrize("how", [("--repeats", "auto"), ()])
def test_auto_repeats_without_a_store_is_refused_before_the_job(
    tmp_path: Path, how: tuple[str, ...]
) -> None:
    write_config(tmp_path, perf_config(WRITE_METRICS, '\n[run]\nrepeats = "auto"\n'))
    proc = pepr_gate("run", "--no-store", *how, cwd=tmp_path)
    assert_exit(proc, 2, "--no-store", "drop --no-store")
    assert not (tmp_path / "metrics.json").exists()


# --- metrics files -----------------------------------------------------------------------

def test_a_fifo_left_as_metrics_file_is_refused_not_waited_on(tmp_path: Path) -> None:
    make_fifo = "import os; os.mkfifo('metrics.json')"
    write_config(tmp_path, perf_config(make_fifo))
    proc = pepr_gate("run", "--no-store", cwd=tmp_path, timeout=30)
    assert_exit(proc, 2, "metrics.json", "not a regular file")


def test_a_value_a_rounding_error_above_1_counts_as_1(tmp_path: Path) -> None:
    _metrics_job(tmp_path, '{"acc": 1.0000000000000002}')
    assert_exit(pepr_gate("run", "--no-store", "--out", "r.json", cwd=tmp_path), 0)
    assert json.loads((tmp_path / "r.json").read_text())["performance"]["value"] == 1.0


def test_a_value_just_above_1_gets_no_percentage_hint(tmp_path: Path) -> None:
    _metrics_job(tmp_path, '{"acc": 1.2}')
    proc = pepr_gate("run", "--no-store", cwd=tmp_path)
    # Both cases are named (issue 19: a percentage, or a lower-is-better metric), but 1.2
    # is not said to look like a percentage.
    assert_exit(proc, 2, "outside [0, 1]", 'better = "lower"')
    assert "looks like" not in proc.stderr
    _metrics_job(tmp_path, '{"acc": 93.5}')
    assert_exit(pepr_gate("run", "--no-store", cwd=tmp_path), 2, "scale = 100")


def test_a_5000_digit_metric_names_the_key(tmp_path: Path) -> None:
    _metrics_job(tmp_path, '{"acc": ' + "7" * 5000 + "}")
    proc = pepr_gate("run", "--no-store", cwd=tmp_path)
    assert_exit(proc, 2, "'acc' is an integer of 5000 digits")
    assert "set_int_max_str_digits" not in proc.stderr


# --- duplicate records -------------------------------------------------------------------

def test_the_same_candidate_file_three_times_is_one_run(tmp_path: Path) -> None:
    cand, base = _record(tmp_path, "c.json"), _record(tmp_path, "b.json")
    proc = pepr_gate("check", "--candidate", cand.name, cand.name, cand.name,
                     "--baseline", base.name, "--json", "out.json", cwd=tmp_path)
    assert proc.returncode in (0, 1), proc.stderr
    result = json.loads((tmp_path / "out.json").read_text())
    assert result["candidate"]["run_ids"] == [json.loads(cand.read_text())["id"]]
    assert any("2 duplicate candidate" in n for n in result["notes"])
