"""Issue 11, items 7 and 8: nothing a job starts outlives its stage, and a cancelled job
(SIGTERM) or Ctrl-C exits 143 or 130 keeping the record written so far. The real CLI in
a subprocess, real processes and real signals."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

try:
    from tests.harness import PY, WRITE_METRICS, assert_exit, job, pepr_gate, write_config
except ImportError:
    from harness import (  # type: ignore[no-redef]
        PY,
        WRITE_METRICS,
        assert_exit,
        job,
        pepr_gate,
        write_config,
    )


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait_gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return _gone(pid)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="setsid and subreaper: Linux")
def test_background_and_setsid_processes_are_stopped_and_reported(tmp_path: Path) -> None:
    # `sleep 999 &` stays in the job's process group; `setsid sleep 998` leaves it, and its
    # parent shell exits at once, so only the subreaper can still find it.
    script = ("sleep 999 & echo $! > bg.pid; setsid sleep 998 & echo $! > escaped.pid; "
              "sleep 0.3; exit 0")
    write_config(tmp_path, f'[[run.stages]]\nname = "train"\ncmd = ["sh", "-c", {script!r}]\n'
                 '[meter]\nkind = "process"\n'.replace("'", '"'))
    proc = pepr_gate("run", "--no-store", "--out", "rec.json", cwd=tmp_path)
    assert_exit(proc, 0, "left 2 process(es) running", "sleep")
    background = int((tmp_path / "bg.pid").read_text())
    escaped = int((tmp_path / "escaped.pid").read_text())
    assert _wait_gone(background), "the background sleep survived the stage"
    assert _wait_gone(escaped), "the setsid sleep survived the stage"
    notes = " ".join(json.loads((tmp_path / "rec.json").read_text())["notes"])
    assert f"pid {background}" in notes
    assert f"pid {escaped}, had left the job's process group" in notes


def test_a_clean_job_reports_nothing_left(tmp_path: Path) -> None:
    write_config(tmp_path, f'[[run.stages]]\nname = "train"\ncmd = {job(WRITE_METRICS)}\n')
    proc = pepr_gate("run", "--no-store", "--out", "rec.json", cwd=tmp_path)
    assert_exit(proc, 0)
    assert "left" not in proc.stderr
    assert not any("left" in n for n in json.loads((tmp_path / "rec.json").read_text())["notes"])


def _start_run(tmp_path: Path, store: str) -> subprocess.Popen[str]:
    write_config(tmp_path, f"""\
[[run.stages]]
name = "train"
cmd = {job("import signal, sys, time; signal.signal(signal.SIGINT, lambda *a: sys.exit(1)); "
           "open('started', 'w').close(); time.sleep(300)")}
[meter]
kind = "process"
""")
    return subprocess.Popen([PY, "-m", "pepr_gate", "run", "--store", store], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(path: Path, runner: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while not path.exists():
        assert runner.poll() is None, runner.communicate()
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.05)


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_during_the_job_keeps_the_record_and_says_how_to_import_it(
    tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    store = f"sqlite:///{tmp_path / 'h.db'}"
    runner = _start_run(tmp_path, store)
    try:
        _wait_for(tmp_path / "started", runner)
        runner.send_signal(sig)
        _, err = runner.communicate(timeout=30)
    finally:
        if runner.poll() is None:
            runner.kill()
    assert runner.returncode == code, err
    assert f"interrupted by {sig.name} during stage 'train'" in err and "Traceback" not in err
    (kept,) = (tmp_path / ".pepr" / "runs").glob("*.json")
    record = json.loads(kept.read_text())
    assert record["status"] == "failed" and sig.name in record["failure"]
    assert str(kept) in err and "--import" in err
    # The command in the message works: the record lands in the store.
    hint = err.split("pepr-gate history", 1)[1].split("\n", 1)[0]
    imported = pepr_gate("history", *hint.split(), cwd=tmp_path)
    assert_exit(imported, 0)
    listed = pepr_gate("history", "--store", store, "--all-branches", "--format", "json",
                       cwd=tmp_path)
    assert [r["id"] for r in json.loads(listed.stdout)] == [record["id"]]


def test_sigterm_outside_a_stage_exits_143_with_a_message(tmp_path: Path) -> None:
    # `history` on a store of many runs: the signal lands while pepr-gate itself works.
    write_config(tmp_path, '[[run.stages]]\nname = "t"\ncmd = ["true"]\n')
    code = "import time\nwhile True: time.sleep(0.01)"
    runner = subprocess.Popen(
        [PY, "-c", "import sys; from pepr_gate.cli import main; "
         f"import pepr_gate.commands.history as h; h.run = lambda a: exec({code!r}); "
         "sys.exit(main(['history']))"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    runner.send_signal(signal.SIGTERM)
    _, err = runner.communicate(timeout=30)
    assert runner.returncode == 143, err
    assert "interrupted by SIGTERM" in err and "Traceback" not in err


def test_the_grace_a_leftover_gets_is_not_metered(tmp_path: Path) -> None:
    """A job leaves a child that ignores SIGTERM: pepr-gate waits the 5 s grace before it
    kills it, and that wait is not part of the run's window (issue 20, Low)."""
    code = (
        "import json, subprocess\n"
        "subprocess.Popen(['sh', '-c', 'trap \"\" TERM; exec sleep 60'])\n"
        "json.dump({'acc': 0.9}, open('metrics.json', 'w'))\n"
    )
    write_config(tmp_path, f"""\
        [[run.stages]]
        name = "train"
        cmd = {job(code)}

        [performance]
        file = "metrics.json"
        key = "acc"

        [meter]
        kind = "process"
        """)
    started = time.monotonic()
    proc = pepr_gate("run", "--no-store", "--out", "run.json", cwd=tmp_path)
    took = time.monotonic() - started
    assert_exit(proc, 0)
    record = json.loads((tmp_path / "run.json").read_text())
    assert took >= 5.0  # the grace was waited for ...
    assert record["resources"]["duration_s"] < 3.0, record["resources"]  # ... not metered
    assert any("sleep" in note for note in record["notes"]), record["notes"]
