"""Storing run-record files in a history store (`pepr-gate history --import`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pepr_gate.errors import InputError
from pepr_gate.records import RunRecord, load_run_record
from pepr_gate.store import Store
from pepr_gate.store.codec import DuplicateRun


@dataclass
class Imported:
    total: int
    stored: int = 0
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # (file, run id) already stored


def _consistent(record: RunRecord, path: Path) -> RunRecord:
    """An imported file enters the history for good: one whose PePR is not P / (1 + R),
    or dated in the future (it would head every baseline window), is refused."""
    from pepr_gate.records.consistency import run_problem

    problem = run_problem(record)
    if problem is not None:
        raise InputError(f"{path}: invalid run record at field '{problem[0]}': {problem[1]}",
                         hint="import the file `pepr-gate run` wrote, unedited")
    return record


def import_records(store: Store, files: list[Path]) -> Imported:
    """Append each file's run; every file is validated before the first is stored, and
    a run the store already holds is skipped (stored runs are never overwritten)."""
    records = [_consistent(load_run_record(f), f) for f in files]
    out = Imported(total=len(records))
    for path, record in zip(files, records, strict=True):
        try:
            store.append(record)
            out.stored += 1
        except DuplicateRun:
            out.skipped.append((path, record.id))
    return out
