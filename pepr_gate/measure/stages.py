"""Running the user's stages: argv lists, live output, process groups, timeouts, signals.

Each stage runs in a new session (its own process group) so that a timeout or Ctrl-C
reaches every process the job started. The child is reaped with `os.wait4`, which also
gives the CPU time of the whole waited-for tree. Output is not captured: the job writes
straight to pepr-gate's stdout and stderr, so logs stream live at no cost.
"""

from __future__ import annotations

import contextlib
import errno
import os
import resource
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pepr_gate.errors import CommandFailed, Interrupted
from pepr_gate.measure.leftovers import Leftover, Subreaper, own_descendants, sweep
from pepr_gate.records import Stage
from pepr_gate.records.ranges import printable

if TYPE_CHECKING:
    import resource

KILL_GRACE_S = 5.0


@dataclass
class StageSpec:
    name: str
    argv: list[str]
    shell: bool = False
    timeout_s: float | None = None


@dataclass
class StageOutcome:
    stage: Stage
    cpu_user_s: float
    cpu_sys_s: float
    max_rss_bytes: int
    interrupted: bool = False
    interrupt_signal: int | None = None  # SIGINT or SIGTERM, when interrupted
    leftovers: list[Leftover] = field(default_factory=list)  # stopped after the stage


class _GroupKiller:
    """Sends SIGTERM to a process group, then SIGKILL after a grace period."""

    def __init__(self, pgid: int, grace_s: float) -> None:
        self.pgid = pgid
        self.grace_s = grace_s
        self._timer: threading.Timer | None = None

    def terminate(self, sig: int = signal.SIGTERM) -> None:
        _signal_group(self.pgid, sig)
        if self._timer is None:
            self._timer = threading.Timer(self.grace_s, _signal_group, (self.pgid, signal.SIGKILL))
            self._timer.daemon = True
            self._timer.start()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def run_stage(
    spec: StageSpec,
    *,
    cwd: Path,
    env: Mapping[str, str],
    on_start: Callable[[int], None] | None = None,
    grace_s: float = KILL_GRACE_S,
    on_exit: Callable[[], None] | None = None,
) -> StageOutcome:
    """Run one stage to completion; raises CommandFailed only when it cannot start.
    `on_exit` is called right after the job's process is reaped, before what it left
    running is stopped (the meter ends its window there)."""
    argv = ["/bin/sh", "-c", spec.argv[0]] if spec.shell else spec.argv
    timed_out = threading.Event()
    interrupted = threading.Event()
    pending: list[int] = []  # a signal that arrived before the job existed
    received: list[int] = []
    killer: _GroupKiller | None = None

    def _forward(signum: int, _frame: object) -> None:
        if killer is None:
            pending.append(signum)
        elif interrupted.is_set():
            _signal_group(killer.pgid, signal.SIGKILL)  # a second Ctrl-C: stop now
        else:
            _interrupt(killer, signum, interrupted, received)

    # Handlers go in before Popen, so a Ctrl-C at any moment reaches the job's group.
    previous = _install_handlers(_forward)
    timer: threading.Timer | None = None
    t0 = time.monotonic()
    reaper = Subreaper()
    before = own_descendants()
    try:
        proc = _start(spec, argv, cwd, env)
        killer = _GroupKiller(proc.pid, grace_s)
        if on_start is not None:
            on_start(proc.pid)
        if pending:  # a signal that came before the job existed stops it now
            _interrupt(killer, pending[0], interrupted, received)
        timer = _arm_timer(spec.timeout_s, killer, timed_out)
        _, status, usage = os.wait4(proc.pid, 0)
        duration = time.monotonic() - t0
        if on_exit is not None:
            on_exit()
        # Whatever the job left running (in its group, or escaped with setsid) is stopped
        # now, after a normal exit too, so that nothing outlives the stage unmetered.
        leftovers = sweep(proc.pid, before, grace_s)
    finally:
        _restore_handlers(previous)
        reaper.close()
        if timer is not None:
            timer.cancel()
        if killer is not None:
            killer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)

    return _outcome(spec, proc.returncode, usage, duration, timed_out.is_set(),
                    received[0] if received else None,
                    interrupted.is_set(), leftovers)


def _interrupt(killer: _GroupKiller, signum: int, interrupted: threading.Event,
               received: list[int]) -> None:
    interrupted.set()
    received.append(signum)
    killer.terminate(signum)


def _arm_timer(timeout_s: float | None, killer: _GroupKiller,
               timed_out: threading.Event) -> threading.Timer | None:
    """Stop the job's group once `timeout_s` has passed (None: no limit)."""
    if timeout_s is None:
        return None

    def _expire() -> None:
        timed_out.set()
        killer.terminate()

    timer = threading.Timer(timeout_s, _expire)
    timer.daemon = True
    timer.start()
    return timer


def _outcome(spec: StageSpec, code: int, usage: resource.struct_rusage, duration: float,
             timed_out: bool, signum: int | None, interrupted: bool,
             leftovers: list[Leftover]) -> StageOutcome:
    stage = Stage(
        name=spec.name,
        argv=spec.argv,
        shell=spec.shell,
        exit_code=code if code >= 0 else None,
        signal=-code if code < 0 else None,
        timed_out=timed_out,
        duration_s=duration,
    )
    outcome = StageOutcome(
        stage=stage,
        cpu_user_s=usage.ru_utime,
        cpu_sys_s=usage.ru_stime,
        max_rss_bytes=usage.ru_maxrss * 1024,  # Linux reports KiB
        interrupted=interrupted,
        interrupt_signal=signum,
        leftovers=leftovers,
    )
    return outcome


_START_HINTS = {
    errno.ENOEXEC: "a script needs a first line like `#!/usr/bin/env python3` (or run it "
    "through its interpreter: cmd = [\"python\", \"train.py\"])",
    errno.ENAMETOOLONG: "the program's name is longer than the system allows; use a "
    "shorter path",
    errno.E2BIG: "the command line or environment is larger than the system allows",
}


def _start(
    spec: StageSpec, argv: list[str], cwd: Path, env: Mapping[str, str]
) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(argv, cwd=cwd, env=dict(env), start_new_session=True)
    except FileNotFoundError:
        raise CommandFailed(
            f"stage '{spec.name}': command not found: {argv[0]!r}",
            hint="check the command (the program comes first, in [run] stages cmd or "
            "after `--`) and that it is on PATH",
        ) from None
    except PermissionError:
        raise CommandFailed(
            f"stage '{spec.name}': permission denied running {argv[0]!r}",
            hint="make the file executable or run it through its interpreter",
        ) from None
    except NotADirectoryError:
        raise CommandFailed(
            f"stage '{spec.name}': working directory {cwd} is not a folder"
        ) from None
    except OSError as exc:  # ENOEXEC (a script without `#!`), ENAMETOOLONG, E2BIG, ...
        raise CommandFailed(
            f"stage '{spec.name}': cannot start {printable(argv[0][:200])!r}: "
            f"{exc.strerror or exc}",
            hint=_START_HINTS.get(exc.errno or 0, "check the stage's command in the config"),
        ) from None


def describe_failure(stage: Stage, limit: str) -> str | None:
    """A sentence for a failed stage, or None when it succeeded; `limit` names the timeout."""
    if stage.timed_out:
        return (
            f"stage '{stage.name}' timed out ({limit} reached after {stage.duration_s:.1f} s); "
            f"its process group was sent SIGTERM, then SIGKILL after {KILL_GRACE_S:g} s if needed"
        )
    if stage.signal is not None:
        try:
            name = signal.Signals(stage.signal).name
        except ValueError:
            name = f"signal {stage.signal}"
        return f"stage '{stage.name}' was killed by {name}"
    if stage.exit_code:
        return f"stage '{stage.name}' exited with code {stage.exit_code}"
    return None


def raise_for_interrupt(outcome: StageOutcome) -> None:
    if outcome.interrupted:
        raise Interrupted(
            f"interrupted during stage '{outcome.stage.name}'; the job's process group was "
            "stopped and nothing was stored as ok"
        )


_Handler = Callable[[int, object], None]


def _install_handlers(handler: _Handler) -> dict[int, object] | None:
    if threading.current_thread() is not threading.main_thread():
        return None  # signal handlers can only be set from the main thread
    previous: dict[int, object] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, handler)
    return previous


def _restore_handlers(previous: dict[int, object] | None) -> None:
    if previous is None:
        return
    for sig, old in previous.items():
        signal.signal(sig, old)  # type: ignore[arg-type]
