"""The stage runner: real subprocesses, process groups, timeouts, signals, wait4 figures."""

from __future__ import annotations

import os
import signal
import sys
import textwrap
import threading
import time
from pathlib import Path

import psutil
import pytest

from pepr_gate.errors import EXIT_COMMAND_FAILED, EXIT_INTERRUPTED, CommandFailed, Interrupted
from pepr_gate.measure.stages import (
    KILL_GRACE_S,
    StageOutcome,
    StageSpec,
    describe_failure,
    raise_for_interrupt,
    run_stage,
)

PY = sys.executable


def py(code: str) -> list[str]:
    return [PY, "-c", textwrap.dedent(code)]


def run(
    tmp_path: Path,
    argv: list[str],
    *,
    shell: bool = False,
    timeout_s: float | None = None,
    grace_s: float = KILL_GRACE_S,
) -> StageOutcome:
    spec = StageSpec(name="train", argv=argv, shell=shell, timeout_s=timeout_s)
    return run_stage(spec, cwd=tmp_path, env=dict(os.environ), grace_s=grace_s)


def wait_for(path: Path, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def gone(pid: int) -> bool:
    try:  # a zombie left for an absent init to reap is dead all the same
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_success_reports_duration_cpu_and_memory(tmp_path: Path) -> None:
    started: list[int] = []
    out = run_stage(
        StageSpec("train", py("""
            x = bytearray(64 * 1024 * 1024)
            s = 0
            for i in range(3_000_000):
                s += i
        """)),
        cwd=tmp_path, env=dict(os.environ), on_start=started.append,
    )
    assert out.stage.exit_code == 0 and out.stage.signal is None
    assert not out.stage.timed_out and not out.interrupted
    assert out.cpu_user_s > 0.05
    assert out.stage.duration_s >= out.cpu_user_s * 0.5
    assert out.max_rss_bytes > 64 * 1024 * 1024
    assert len(started) == 1 and started[0] > 0
    assert describe_failure(out.stage, "") is None


def test_cpu_time_includes_waited_for_children(tmp_path: Path) -> None:
    out = run(tmp_path, py(f"""
        import subprocess
        subprocess.run([{PY!r}, "-c", "s = 0\\nfor i in range(3_000_000): s += i"], check=True)
    """))
    assert out.cpu_user_s > 0.05


def test_output_streams_through_and_env_and_cwd_reach_the_job(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    spec = StageSpec("t", py("import os; print('hello', os.environ['PEPR_T'], os.getcwd())"))
    run_stage(spec, cwd=tmp_path, env={**os.environ, "PEPR_T": "42"})
    assert f"hello 42 {tmp_path}" in capfd.readouterr().out


def test_non_zero_exit(tmp_path: Path) -> None:
    out = run(tmp_path, py("raise SystemExit(3)"))
    stage = out.stage
    assert stage.exit_code == 3 and stage.signal is None
    assert describe_failure(stage, "") == "stage 'train' exited with code 3"


def test_killed_by_signal(tmp_path: Path) -> None:
    out = run(tmp_path, py("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"))
    stage = out.stage
    assert stage.exit_code is None and stage.signal == signal.SIGSEGV
    assert describe_failure(stage, "") == "stage 'train' was killed by SIGSEGV"


def test_shell_only_when_asked(tmp_path: Path) -> None:
    run(tmp_path, ["echo $HOME > out.txt"], shell=True)
    assert (tmp_path / "out.txt").read_text().strip() == os.environ["HOME"]
    with pytest.raises(CommandFailed):  # as argv, the whole string is the program name
        run(tmp_path, ["echo $HOME > out2.txt"])
    assert not (tmp_path / "out2.txt").exists()


def test_command_not_found(tmp_path: Path) -> None:
    with pytest.raises(CommandFailed) as exc:
        run(tmp_path, ["no-such-program-xyz", "--flag"])
    assert exc.value.exit_code == EXIT_COMMAND_FAILED
    assert "command not found" in exc.value.message and "no-such-program-xyz" in exc.value.message
    assert exc.value.hint and "PATH" in exc.value.hint


def test_file_that_is_not_executable(tmp_path: Path) -> None:
    script = tmp_path / "train.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)  # no execute bit: refused even for root
    with pytest.raises(CommandFailed) as exc:
        run(tmp_path, [str(script)])
    assert "permission denied" in exc.value.message


def test_timeout_kills_the_group_including_grandchildren(tmp_path: Path) -> None:
    out = run(tmp_path, py("""
        import subprocess
        child = subprocess.Popen(["sleep", "300"])
        open("child.pid", "w").write(str(child.pid))
        child.wait()
    """), timeout_s=1.0)
    stage = out.stage
    assert stage.timed_out and stage.signal == signal.SIGTERM
    assert 0.9 < stage.duration_s < 10
    pid = int((tmp_path / "child.pid").read_text())
    deadline = time.monotonic() + 5
    while not gone(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert gone(pid)
    why = describe_failure(stage, "[run] timeout_s = 1 s")
    assert why and "timed out" in why and "[run] timeout_s = 1 s" in why and "SIGKILL" in why


def test_a_job_ignoring_sigterm_gets_sigkill_after_the_grace(tmp_path: Path) -> None:
    t0 = time.monotonic()
    out = run(tmp_path, py("""
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        open("ready", "w").write("")
        time.sleep(300)
    """), timeout_s=0.5, grace_s=0.5)
    took = time.monotonic() - t0
    stage = out.stage
    assert stage.timed_out and stage.signal == signal.SIGKILL
    assert took < 10


def _send_sigint_when(path: Path, times: int = 1) -> threading.Thread:
    def go() -> None:
        wait_for(path)
        for _ in range(times):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.3)

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    return thread


def test_ctrl_c_is_forwarded_to_the_job_group(tmp_path: Path) -> None:
    before = signal.getsignal(signal.SIGINT)
    sender = _send_sigint_when(tmp_path / "ready")
    out = run(tmp_path, py("""
        import signal, time
        def stop(signum, frame):
            open("got", "w").write(signal.Signals(signum).name)
            raise SystemExit(1)
        signal.signal(signal.SIGINT, stop)
        open("ready", "w").write("")
        time.sleep(300)
    """))
    sender.join()
    assert out.interrupted
    assert (tmp_path / "got").read_text() == "SIGINT"
    assert signal.getsignal(signal.SIGINT) is before  # the runner's handler is gone again
    with pytest.raises(Interrupted) as exc:
        raise_for_interrupt(out)
    assert exc.value.exit_code == EXIT_INTERRUPTED and "nothing was stored as ok" in str(exc.value)


def test_a_second_ctrl_c_kills_a_job_that_ignores_the_first(tmp_path: Path) -> None:
    sender = _send_sigint_when(tmp_path / "ready", times=2)
    t0 = time.monotonic()
    out = run(tmp_path, py("""
        import signal, time
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        open("ready", "w").write("")
        time.sleep(300)
    """), grace_s=60.0)
    sender.join()
    assert out.interrupted and out.stage.signal == signal.SIGKILL
    assert time.monotonic() - t0 < 20


def test_ctrl_c_before_the_job_has_started_still_stops_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Ctrl-C between installing the handler and Popen returning must not orphan the job."""
    import pepr_gate.measure.stages as runner

    real_start = runner._start

    def start_after_a_ctrl_c(*args: object) -> object:
        os.kill(os.getpid(), signal.SIGINT)  # arrives while no job exists yet
        return real_start(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(runner, "_start", start_after_a_ctrl_c)
    t0 = time.monotonic()
    out = run(tmp_path, ["sleep", "30"])
    assert out.interrupted
    assert out.stage.signal == signal.SIGINT
    assert time.monotonic() - t0 < 10
