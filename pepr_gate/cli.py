"""Argument parsing only: `main(argv) -> int`, one handler for every error.

Each command lives in `pepr_gate/commands/<name>.py` with `register(subparsers)`, which
adds its parser and sets `func`; `COMMAND_MODULES` lists them by explicit import, so the
link from the CLI to each command is a plain import the architecture test can see.
Command modules import heavy libraries inside their functions, so importing them all
keeps `pepr-gate --help` fast.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import signal
import sys
import tempfile
import threading
import traceback
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TextIO

from pepr_gate import __version__
from pepr_gate.commands import (
    ab,
    bisect,
    check,
    ci,
    comment,
    dashboard,
    history,
    init,
    probe,
    report,
    run,
    schema,
    score,
)
from pepr_gate.errors import EXIT_INTERNAL, PeprError, SignalReceived, signal_of

# The commands in `--help` order; a command's name is its module's.
COMMAND_MODULES = (init, run, check, ci, ab, score, history, report, comment, probe, schema,
                   dashboard, bisect)
COMMANDS = tuple(m.__name__.rsplit(".", 1)[-1] for m in COMMAND_MODULES)

EPILOG = """\
exit codes:
  0  passed (also warn, and inconclusive unless strict)
  1  the gate failed: regression, budget or guardrail
  2  bad input: usage, config, metrics file, history
  3  the measured command failed: non-zero exit, signal or timeout
  4  internal error: a bug; the traceback is in the log file named
  130 interrupted (Ctrl-C)
  143 terminated (SIGTERM: the CI job was cancelled)
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        # The handler prefixes "pepr-gate: error: "; a subcommand's parser adds its name.
        where = self.prog.removeprefix("pepr-gate").strip()
        raise PeprError(f"{where}: {message}" if where else message,
                        hint=f"see `{self.prog} --help`")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="pepr-gate",
        description="A CI gate on PePR = P / (1 + R), performance per resource unit.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"pepr-gate {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    with _pipe_safe("stdout"), _pipe_safe("stderr"), _signals_raise():
        return _main(args_list)


def _main(args_list: list[str]) -> int:
    try:
        parser = build_parser()
        args = parser.parse_args(args_list)
        if not getattr(args, "func", None):
            parser.print_help(sys.stderr)
            print("pepr-gate: error: name a command, e.g. `pepr-gate run`", file=sys.stderr)
            return 2
        code: int = args.func(args)
        return code
    except PeprError as exc:
        _print_error(exc)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        signum = signal_of(exc)
        print(f"pepr-gate: interrupted by {signal.Signals(signum).name}; nothing more was "
              "written", file=sys.stderr)
        return 128 + signum
    except Exception:  # the one place that turns a bug into exit code 4
        log = _write_crash_log(args_list)
        print(
            f"pepr-gate: internal error (a bug, not your input). Traceback written to {log}\n"
            "  please report it with that file: https://github.com/pepr-gate/pepr-gate/issues",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


class _PipeSafe(io.TextIOBase):
    """stdout/stderr that outlives its reader: after `| head` closes the pipe, the rest of the
    output is dropped and the command still finishes and returns its real exit code."""

    def __init__(self, inner: TextIO) -> None:
        self._inner = inner
        self._gone = False

    def write(self, text: str) -> int:
        if not self._gone:
            try:
                self._inner.write(text)
            except BrokenPipeError:
                self._drop()
            except UnicodeEncodeError:
                # PYTHONIOENCODING=ascii, a C locale: "µWh" or "·" must not end the job.
                encoding = self._inner.encoding or "ascii"
                self._inner.write(text.encode(encoding, "replace").decode(encoding))
        return len(text)

    def flush(self) -> None:
        if not self._gone:
            try:
                self._inner.flush()
            except BrokenPipeError:
                self._drop()

    def _drop(self) -> None:
        self._gone = True
        # Python flushes stdout once more at exit; pointing the descriptor at /dev/null
        # keeps that flush from failing (it would change the exit code to 120).
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._inner.fileno())
            os.close(devnull)

    def isatty(self) -> bool:
        return self._inner.isatty()

    def fileno(self) -> int:
        return self._inner.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._inner.encoding


def _raise_interrupted(signum: int, _frame: object) -> None:
    raise SignalReceived(signum)


@contextlib.contextmanager
def _signals_raise() -> Iterator[None]:
    """SIGTERM (a cancelled CI job) and SIGINT raise `SignalReceived` wherever they land, so
    every command stops through the one error handler: exit 143 or 130 with a message,
    and whatever was written so far is named (the stage runner forwards them instead)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _raise_interrupted)
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextlib.contextmanager
def _pipe_safe(name: str) -> Iterator[None]:
    """Guard sys.stdout or sys.stderr: a reader that went away never changes the exit code."""
    original = getattr(sys, name)
    if isinstance(original, _PipeSafe):
        yield
        return
    guarded = _PipeSafe(original)
    setattr(sys, name, guarded)
    try:
        yield
        guarded.flush()
    finally:
        setattr(sys, name, original)


def _print_error(exc: PeprError) -> None:
    print(_no_workflow_command(f"pepr-gate: error: {exc.message}"), file=sys.stderr)
    if exc.hint:
        print(_no_workflow_command(f"  hint: {exc.hint}"), file=sys.stderr)


def _no_workflow_command(text: str) -> str:
    """GitHub runs any output line starting with `::` as a workflow command; a message that
    quotes a file or a server must never start one (the line is indented instead)."""
    lines = re.split(r"\r\n|\r|\n", text)
    return "\n".join("  " + ln if ln.lstrip("\x00\x0b\x0c").startswith("::") else ln
                     for ln in lines)


def _write_crash_log(argv: list[str]) -> Path:
    # Imported here: only a crash needs them, and every command pays for top-level imports.
    import os

    from pepr_gate.fileio.atomic import write_atomic

    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    text = f"pepr-gate {__version__}\nargv: {argv}\n\n{traceback.format_exc()}"
    for folder in (Path(".pepr") / "logs", Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"pepr-gate-crash-{stamp}-{os.getpid()}.log"
            write_atomic(path, text)
            return path.resolve()
        except (OSError, PeprError):
            continue
    sys.stderr.write(text)
    return Path("<stderr>")


def console_main() -> None:
    raise SystemExit(main())
