"""What a run says when it is stopped early: interrupted, or processes left behind."""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from pepr_gate.errors import Interrupted

if TYPE_CHECKING:
    from pepr_gate.measure.leftovers import Leftover
    from pepr_gate.measure.stages import StageOutcome
    from pepr_gate.store import Store


def stage_interrupted(res: StageOutcome) -> Interrupted:
    signum = res.interrupt_signal or signal.SIGINT
    name = signal.Signals(signum).name
    return Interrupted(
        f"interrupted by {name} during stage '{res.stage.name}'; the job's processes "
        "were stopped", signum=signum)


def kept_after_interrupt(
    exc: Interrupted, kept: Sequence[Path], store: Store | None
) -> Interrupted:
    """`exc`, its message naming the record files kept so far and how to store them."""
    code = f"exit {exc.exit_code}"
    if not kept:
        return Interrupted(f"{exc.message} ({code}); no run record was written",
                           hint=exc.hint, signum=exc.signum)
    files = " ".join(str(p) for p in kept)
    target = f" --store {store.url}" if store is not None else ""
    return Interrupted(
        f"{exc.message} ({code}); the record so far is kept in {files} (status failed, "
        "not stored)",
        hint=f"to keep it in the history anyway: pepr-gate history{target} --import {files}",
        signum=exc.signum)


def report_leftovers(stage: str, leftovers: Sequence[Leftover]) -> list[str]:
    """Say on stderr what a stage left running (and was stopped); the notes for the record."""
    if not leftovers:
        return []
    shown = ", ".join(p.describe() for p in leftovers[:10])
    more = f" and {len(leftovers) - 10} more" if len(leftovers) > 10 else ""
    note = (f"stage '{stage}' left {len(leftovers)} process(es) running after it ended; "
            f"stopped: {shown}{more}")
    print(f"pepr-gate: {note}", file=sys.stderr)
    return [note]


@contextmanager
def sigterm_interrupts(message: str) -> Iterator[None]:
    """SIGTERM (a cancelled CI job) unwinds like Ctrl-C while the block runs, raising
    `Interrupted(message)`, so what the block set up (worktrees, bisect state) is removed
    by its own clean-up. Outside the main thread it changes nothing."""
    def _raise(signum: int, _frame: object) -> None:
        raise Interrupted(message, signum=signum)

    try:
        previous = signal.signal(signal.SIGTERM, _raise)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
