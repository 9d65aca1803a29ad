"""Storing run-record files in a history store (`pepr-gate history --import`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pepr_gate.records import load_run_record
from pepr_gate.store import Store
from pepr_gate.store.codec import DuplicateRun


@dataclass
class Imported:
    total: int
    stored: int = 0
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # (file, run id) already stored


def import_records(store: Store, files: list[Path]) -> Imported:
    """Append each file's run; every file is validated before the first is stored, and
    a run the store already holds is skipped (stored runs are never overwritten)."""
    records = [load_run_record(f) for f in files]
    out = Imported(total=len(records))
    for path, record in zip(files, records, strict=True):
        try:
            store.append(record)
            out.stored += 1
        except DuplicateRun:
            out.skipped.append((path, record.id))
    return out
