"""What `pepr-gate ci` publishes when it stops early, whatever stopped it.

A bad input, a config error, a bad event payload, a failed training command, a cancelled
job or a bug: each still leaves the job summary, the step outputs (`verdict=error`), one
error annotation, `.pepr/ci/error.json` and `.pepr/ci/report.md` behind, so the workflow
and the artifact say what happened.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
from collections.abc import Mapping
from pathlib import Path

from pepr_gate.errors import EXIT_COMMAND_FAILED, EXIT_INTERNAL, PeprError, signal_of
from pepr_gate.fileio.atomic import write_atomic
from pepr_gate.publish.github import writers as publish
from pepr_gate.publish.github.context import EventContext
from pepr_gate.publish.text import code_block

CI_DIR = Path(".pepr") / "ci"
PUBLISHED = "_pepr_published"  # set on an exception once it has been published


def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text)
    return path


def _failure(exc: BaseException) -> tuple[int, str, str | None, str]:
    """(exit code, message, hint, title) for any way `ci` can stop early."""
    if isinstance(exc, PeprError):
        code, message, hint = exc.exit_code, exc.message, exc.hint
    elif isinstance(exc, KeyboardInterrupt):
        signum = signal_of(exc)
        code, message, hint = 128 + signum, f"interrupted by {signal.Signals(signum).name}", None
    else:
        code, hint = EXIT_INTERNAL, "see the log file named on stderr; please report it"
        message = f"internal error (a bug): {type(exc).__name__}: {str(exc)[:300]}"
    titles = {EXIT_COMMAND_FAILED: "the measured command failed", EXIT_INTERNAL:
              "internal error", 130: "interrupted", 143: "the job was cancelled"}
    return code, message, hint, titles.get(code, "could not check this run")


def publish_failure(
    ctx: EventContext | None, exc: BaseException, paths: list[Path], env: Mapping[str, str]
) -> None:
    """Summary, outputs (verdict=error), one annotation, error.json and report.md."""
    if getattr(exc, PUBLISHED, False):
        return
    with contextlib.suppress(AttributeError, TypeError):
        setattr(exc, PUBLISHED, True)
    code, message, hint, title = _failure(exc)
    text = message + (f"\n  hint: {hint}" if hint else "")
    report = f"## pepr-gate: {title}\n\n{code_block(text)}\n"
    if ctx is not None and ctx.run_url:
        report += f"\n[Workflow run]({ctx.run_url})\n"
    report_path = CI_DIR / "report.md"
    try:
        write_text(report_path, report)
        write_text(CI_DIR / "error.json",
                   json.dumps({"exit_code": code, "message": message, "hint": hint}))
        publish.write_summary(report, env)
        publish.set_outputs(
            {
                "verdict": "error",
                "report-path": str(report_path),
                "record-path": "\n".join(str(p) for p in paths),
                "comment-url": "",
            },
            env,
        )
    except (OSError, PeprError) as err:  # a full disk must not hide the failure reported
        print(f"pepr-gate: warning: could not write the failure report: {err}",
              file=sys.stderr)
    publish.annotation("error", f"pepr-gate: {title}: {message}")
