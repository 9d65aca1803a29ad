"""Argument parsing only: `main(argv) -> int`, one handler for every error.

Each command lives in `pepr_gate/commands/<name>.py` with `register(subparsers)`, which
adds its parser and sets `func`. Command modules import heavy libraries inside their
functions, so `pepr-gate --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from pepr_gate import __version__
from pepr_gate.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, PeprError

COMMANDS = (
    "init", "run", "check", "ci", "ab", "score", "history", "report", "comment", "probe",
    "schema", "dashboard",
)

EPILOG = """\
exit codes:
  0  passed (also warn, and inconclusive unless strict)
  1  the gate failed: regression, budget or guardrail
  2  bad input: usage, config, metrics file, history
  3  the measured command failed: non-zero exit, signal or timeout
  4  internal error: a bug; the traceback is in the log file named
  130 interrupted
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        raise PeprError(f"{self.prog}: {message}", hint=f"see `{self.prog} --help`")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="pepr-gate",
        description="A CI gate on PePR = P / (1 + R), performance per resource unit.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"pepr-gate {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        module = importlib.import_module(f"pepr_gate.commands.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser()
        args = parser.parse_args(args_list)
        if not getattr(args, "func", None):
            parser.print_help()
            return 0
        code: int = args.func(args)
        return code
    except PeprError as exc:
        _print_error(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        print("pepr-gate: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0
    except Exception:  # the one place that turns a bug into exit code 4
        log = _write_crash_log(args_list)
        print(
            f"pepr-gate: internal error (a bug, not your input). Traceback written to {log}\n"
            "  please report it with that file: https://github.com/pepr-gate/pepr-gate/issues",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def _print_error(exc: PeprError) -> None:
    print(f"pepr-gate: error: {exc.message}", file=sys.stderr)
    if exc.hint:
        print(f"  hint: {exc.hint}", file=sys.stderr)


def _write_crash_log(argv: list[str]) -> Path:
    # Imported here: only a crash needs them, and every command pays for top-level imports.
    import os
    import tempfile
    import traceback
    from datetime import datetime, timezone

    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    text = f"pepr-gate {__version__}\nargv: {argv}\n\n{traceback.format_exc()}"
    for folder in (Path(".pepr") / "logs", Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"pepr-gate-crash-{stamp}-{os.getpid()}.log"
            path.write_text(text, encoding="utf-8")
            return path.resolve()
        except OSError:
            continue
    sys.stderr.write(text)
    return Path("<stderr>")


def console_main() -> None:
    raise SystemExit(main())
