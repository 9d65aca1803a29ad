"""One MLflow export kept inside its time and out of pepr-gate's output.

MLflow's client retries for minutes when its backend is unreachable (its SQLAlchemy store
retries opening the database with backoff, its HTTP client a dead server), and logs each
try through `mlflow`, `sqlalchemy` and `alembic` loggers. `within_deadline` runs the
export in a daemon thread and stops waiting at a wall-clock deadline; `quiet` keeps the
client's logging, warnings, stdout and stderr out of the command's own output meanwhile.
A thread still running at the deadline is abandoned (it dies with the process) and its
loggers stay silenced, so nothing it says later lands among pepr-gate's lines.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import TypeVar

T = TypeVar("T")
LOGGERS = ("mlflow", "alembic", "sqlalchemy", "urllib3", "git")
_SILENT = logging.CRITICAL + 1


def deadline_s(timeout_s: float) -> float:
    """The whole export's wall-clock limit: three request timeouts (a request and its one
    retry, plus the rest of the export) and 15 s to import the client and open its store."""
    return 3 * timeout_s + 15


@contextlib.contextmanager
def bounded(timeout_s: float) -> Iterator[None]:
    """MLflow's HTTP timeout and retries for the length of one export; restored after."""
    wanted = {"MLFLOW_HTTP_REQUEST_TIMEOUT": str(max(1, math.ceil(timeout_s))),
              "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
              "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
              "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0"}
    before = {k: os.environ.get(k) for k in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def quiet() -> Iterator[Callable[[bool], None]]:
    """Silence the client's loggers, warnings, stdout and stderr; the yielded function is
    called with True when the export thread may still be running (its loggers stay off)."""
    loggers = [logging.getLogger(name) for name in LOGGERS]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(_SILENT)
    abandoned = [False]

    def mark(still_running: bool) -> None:
        abandoned[0] = still_running

    try:
        # MLflow's "View run at" lines on stdout are not ours to show either: stdout is the
        # run's table (and JSON for some commands).
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            yield mark
    finally:
        if not abandoned[0]:
            for lg, level in zip(loggers, levels, strict=True):
                lg.setLevel(level)


def within_deadline(fn: Callable[[], T], seconds: float) -> T:
    """`fn()` in a daemon thread, quietly; TimeoutError when it has not ended in `seconds`."""
    box: dict[str, object] = {}

    def work() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller's thread below
            box["error"] = exc

    with quiet() as mark:
        thread = threading.Thread(target=work, name="pepr-gate-mlflow", daemon=True)
        thread.start()
        thread.join(seconds)
        mark(thread.is_alive())
        if thread.is_alive():
            raise TimeoutError(f"no answer within {seconds:g} s")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]
