"""Checks made before the job starts: nothing is run that could not be recorded."""

from __future__ import annotations

import os
from pathlib import Path

from pepr_gate.config import Config
from pepr_gate.errors import InputError, StoreError
from pepr_gate.store import Store, open_store


def runs_dir_for(config: Config, out: Path | None) -> Path:
    if out is not None and (out.is_dir() or not out.name):
        # `--out /` or `--out .pepr/`: found before the job, not after it.
        raise InputError(f"--out {out}: is a folder; --out names the run record's file",
                         hint="e.g. --out .pepr/runs/latest.json")
    folder = out.parent if out else Path(config.root) / ".pepr" / "runs"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        probe.write_text("", encoding="utf-8")
        probe.unlink()
    except OSError as exc:
        raise StoreError(
            f"cannot write run records to {folder}: {exc.strerror or exc}",
            hint="make the folder writable, or pass --out to a writable place",
        ) from None
    return folder


def writable_store(url: str, config: Config) -> Store:
    """The store, checked to accept a record now: never find out after an hours-long job."""
    store: Store | None = None
    try:
        store = open_store(url, root=Path(config.root))
        store.check_writable()
    except StoreError as exc:
        if store is not None:
            store.close()
        raise StoreError(f"{exc.message} (checked before running the job; nothing was run)",
                         hint=exc.hint) from None
    return store


def withheld_note(names: list[str]) -> str:
    return (f"withheld from the job's environment (secrets): {', '.join(names)}; "
            "set one in [run] env to pass it on purpose")
