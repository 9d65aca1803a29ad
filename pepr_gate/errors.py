"""One root exception, one exit code per kind of failure.

Every error a user can cause is a `PeprError` whose message names the file, field or
value at fault and says what to do next; `cli.main` prints it and returns `exit_code`.
Anything else is a bug: `cli.main` writes the traceback to a log file and returns 4.
"""

from __future__ import annotations

import signal

from pepr_gate.redact import redact

EXIT_OK = 0
EXIT_GATE_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_COMMAND_FAILED = 3
EXIT_INTERNAL = 4
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_TERMINATED = 143  # 128 + SIGTERM: the runner cancelled the job


class PeprError(Exception):
    """An error the user can fix; the message is printed without a traceback."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        # Redacted here, once: every path to a message or a file starts from these fields.
        message = redact(message)
        super().__init__(message)
        self.message = message
        self.hint = None if hint is None else redact(hint)

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class ConfigError(PeprError):
    """The config file is missing, unreadable or invalid."""


class InputError(PeprError):
    """A file or value given on the command line is wrong."""


class MetricsError(PeprError):
    """The metrics file the job should have written is missing or wrong."""


class StoreError(PeprError):
    """The history store cannot be opened, read or written."""


class CommandFailed(PeprError):
    """The measured command failed: non-zero exit, signal, timeout or not found."""

    exit_code = EXIT_COMMAND_FAILED


class Interrupted(PeprError):
    """The user pressed Ctrl-C (130), or the runner cancelled the job with SIGTERM (143)."""

    exit_code = EXIT_INTERRUPTED

    def __init__(self, message: str, *, hint: str | None = None,
                 signum: int = signal.SIGINT) -> None:
        super().__init__(message, hint=hint)
        self.signum = int(signum)
        self.exit_code = 128 + self.signum

    @property
    def signal_name(self) -> str:
        try:
            return signal.Signals(self.signum).name
        except ValueError:
            return f"signal {self.signum}"


class SignalReceived(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived outside a stage: raised by `cli`'s signal handler.

    A KeyboardInterrupt (not an Exception), so that no `except Exception` on the way can
    swallow a cancelled job; `cli.main` turns it into exit 130 or 143 with a message.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = int(signum)


def signal_of(exc: BaseException) -> int:
    """The signal behind an interrupt: SIGTERM or SIGINT (a plain Ctrl-C)."""
    return int(getattr(exc, "signum", signal.SIGINT))
