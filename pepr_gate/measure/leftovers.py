"""Processes a stage leaves behind: found, stopped and named after every stage.

A job that starts a server or a data loader in the background (`sleep 999 &`, a
`setsid` daemon, a double fork) would otherwise keep running after the stage ended,
unmetered, loading the runner and skewing the next measurement. Two nets catch them:

- the stage's process group (every stage runs in a session of its own), and
- pepr-gate as the "child subreaper" (Linux `prctl(PR_SET_CHILD_SUBREAPER)`): a process
  that left the group with `setsid` and lost its parent is re-parented to pepr-gate
  instead of init, so it still shows up among pepr-gate's descendants.

Each one gets SIGTERM, then SIGKILL after a grace period, and is reaped. Where the
subreaper cannot be set (not Linux), only the process group is swept.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from dataclasses import dataclass

PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37


@dataclass(frozen=True)
class Leftover:
    pid: int
    name: str
    escaped: bool  # it had left the stage's process group

    def describe(self) -> str:
        where = ", had left the job's process group" if self.escaped else ""
        return f"{self.name} (pid {self.pid}{where})"


def _prctl(option: int, value: int = 0) -> int | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if option == PR_GET_CHILD_SUBREAPER:
            out = ctypes.c_int(0)
            ok = libc.prctl(option, ctypes.byref(out), 0, 0, 0)
            return int(out.value) if ok == 0 else None
        ok = libc.prctl(option, value, 0, 0, 0)
        return 0 if ok == 0 else None
    except (OSError, AttributeError):
        return None


class Subreaper:
    """Makes this process the subreaper while a stage runs; restores the old setting."""

    def __init__(self) -> None:
        self._before = _prctl(PR_GET_CHILD_SUBREAPER)
        self.active = self._before is not None and _prctl(PR_SET_CHILD_SUBREAPER, 1) == 0

    def close(self) -> None:
        if self.active and not self._before:
            _prctl(PR_SET_CHILD_SUBREAPER, 0)


def own_descendants() -> set[int]:
    import psutil

    with contextlib.suppress(psutil.Error):
        return {p.pid for p in psutil.Process().children(recursive=True)}
    return set()


def sweep(pgid: int, before: set[int], grace_s: float) -> list[Leftover]:
    """Stop every process left in group `pgid` or among our new descendants; name them."""
    import psutil

    found: dict[int, psutil.Process] = {}
    escaped: set[int] = set()
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error, OSError):
            if os.getpgid(proc.pid) == pgid:
                found[proc.pid] = proc
    with contextlib.suppress(psutil.Error):
        for proc in psutil.Process().children(recursive=True):
            if proc.pid not in before and proc.pid not in found:
                found[proc.pid] = proc
                escaped.add(proc.pid)
    alive: list[psutil.Process] = []
    out: list[Leftover] = []
    for pid, proc in sorted(found.items()):
        with contextlib.suppress(psutil.Error):
            if proc.status() == psutil.STATUS_ZOMBIE:
                _reap(proc)  # already dead: only its exit status was left to collect
                continue
            out.append(Leftover(pid, proc.name(), pid in escaped))
            alive.append(proc)
    if not alive:
        return out
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.send_signal(signal.SIGTERM)
    _, still = psutil.wait_procs(alive, timeout=grace_s)
    for proc in still:
        with contextlib.suppress(psutil.Error):
            proc.send_signal(signal.SIGKILL)
    psutil.wait_procs(still, timeout=grace_s)
    return out


def _reap(proc: object) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(proc.pid, os.WNOHANG)  # type: ignore[attr-defined]
