"""What the live line costs: CPU of `pepr-gate run` around a sleeping job, line on vs off.

    .venv/bin/python benchmarks/live_cost.py [--seconds 20] [--repeats 3]

(`benchmarks/overhead.py` prints the same table at its end.) Each round runs, one after
another, `pepr-gate run --no-store -- sleep S` three ways: on a pseudo-terminal with the
live line, on the same pseudo-terminal with `--quiet`, and through a pipe with the plain
line every second (`[run] progress_interval_s = 1`, far more often than the default 60).
The CPU time of the whole pepr-gate process tree comes from `wait4` (the sleeping job
adds nothing); the line's cost is the difference to `--quiet`, per second of the job, as
a share of one core. Target (issue 16): <= 1% of one core.
"""

from __future__ import annotations

import argparse
import os
import pty
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

TARGET_SHARE = 0.01


def _cpu_on_pty(argv: list[str], cwd: Path) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of argv run with a pseudo-terminal as stdout/stderr."""
    master, slave = pty.openpty()
    os.set_inheritable(slave, True)
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=slave,
                            stderr=slave, close_fds=True)
    os.close(slave)

    def drain() -> None:
        while True:
            try:
                if not os.read(master, 65536):
                    return
            except OSError:  # EIO once the last writer is gone
                return

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    _, _, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - t0
    reader.join(timeout=2)
    os.close(master)
    return usage.ru_utime + usage.ru_stime, wall


def _cpu_on_pipe(argv: list[str], cwd: Path) -> tuple[float, float]:
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    readers = [threading.Thread(target=stream.read, daemon=True)
               for stream in (proc.stdout, proc.stderr) if stream is not None]
    for r in readers:
        r.start()
    _, _, usage = os.wait4(proc.pid, 0)  # reaped here, so Popen.wait is never called
    wall = time.monotonic() - t0
    for r in readers:
        r.join(timeout=2)
    return usage.ru_utime + usage.ru_stime, wall


def measure(seconds: float, repeats: int) -> dict[str, float]:
    """Median extra share of one core for the terminal line and the 1 s plain line."""
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        (cwd / "pepr.toml").write_text(
            '[run]\nprogress_interval_s = 1\nstages = [{name = "sleep", cmd = '
            f'["sleep", "{seconds:g}"]}}]\n', encoding="utf-8")
        base = [sys.executable, "-m", "pepr_gate", "run", "--no-store", "--meter", "process"]
        rows: dict[str, list[float]] = {"terminal": [], "plain": [], "quiet": []}
        for _ in range(repeats):
            rows["terminal"].append(_cpu_on_pty(base, cwd)[0])
            rows["quiet"].append(_cpu_on_pty([*base, "--quiet"], cwd)[0])
            rows["plain"].append(_cpu_on_pipe(base, cwd)[0])
    quiet = statistics.median(rows["quiet"])
    return {
        "quiet_cpu_s": quiet,
        "terminal_share": (statistics.median(rows["terminal"]) - quiet) / seconds,
        "plain_1s_share": (statistics.median(rows["plain"]) - quiet) / seconds,
    }


def report(seconds: float, repeats: int) -> bool:
    fig = measure(seconds, repeats)
    ok = all(fig[k] <= TARGET_SHARE for k in ("terminal_share", "plain_1s_share"))
    print(f"live line, sleeping {seconds:g} s job, median of {repeats} rounds "
          f"(pepr-gate with --quiet used {fig['quiet_cpu_s']:.2f} CPU s in all):")
    print(f"  terminal line (1 s redraw)   {fig['terminal_share']:+.3%} of one core")
    print(f"  plain line every 1 s (pipe)  {fig['plain_1s_share']:+.3%} of one core")
    print(f"  target <= {TARGET_SHARE:.0%} of one core: {'met' if ok else 'NOT met'}")
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="the job's sleep (default 20)")
    ap.add_argument("--repeats", type=int, default=3, help="rounds (default 3)")
    args = ap.parse_args(argv)
    report(args.seconds, args.repeats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
