"""Why runs were flagged (their noise is widened): low confidence, with the meter's own
reason, or a GPU shared with another process. Each said apart, and the GPU only where a
GPU was metered (`exclusive` is None on a machine without one), so a CPU-only runner never
reads about a GPU."""

from __future__ import annotations

import re
from collections.abc import Sequence

from pepr_gate.records import RunRecord

# Words of the meters' notes that explain a low-confidence flag (`measure.meter`).
WHY_MARKERS = ("low-confidence", "low confidence", "shorter than", "sampling fell behind",
               "only some", "not counted", "not in the total", "no scrape", "no sample",
               "unreadable", "coverage", "between reads")


def low_confidence_reason(run: RunRecord) -> str:
    """The note that says why `run` is low-confidence; its first note otherwise."""
    why = next((n for n in run.notes if any(m in n for m in WHY_MARKERS)), None)
    return why or (run.notes[0] if run.notes else "no reason recorded in the run")


def describe(runs: Sequence[RunRecord]) -> str | None:
    """`3 run(s) were low-confidence (the run took 0.27 s, ...); 1 run(s) shared the GPU
    with another process (exclusive: false)`, or None when no run was flagged."""
    low = [r for r in runs if r.low_confidence]
    shared = [r for r in runs if r.exclusive is False]
    parts = []
    if low:
        parts.append(f"{len(low)} run(s) were flagged low_confidence ({_reasons(low)})")
    if shared:
        parts.append(f"{len(shared)} run(s) shared the GPU with another process "
                     "(exclusive: false)")
    return "; ".join(parts) or None


def _reasons(low: Sequence[RunRecord]) -> str:
    """The reasons, one of each kind (`the run took 0.27 s` and `... 0.31 s` are one kind,
    said with "e.g."), at most two kinds and a count of the others."""
    kinds: dict[str, list[str]] = {}
    for run in low:
        why = low_confidence_reason(run)
        kinds.setdefault(re.sub(r"[0-9][0-9.,]*", "#", why), []).append(why)
    said = [("e.g. " if len(set(texts)) > 1 else "") + texts[0]
            for texts in list(kinds.values())[:2]]
    more = f"; {len(kinds) - 2} other reason(s)" if len(kinds) > 2 else ""
    return "; ".join(said) + more
