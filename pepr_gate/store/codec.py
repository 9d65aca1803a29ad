"""What every store shares: the schema version and reading one stored record safely."""

from __future__ import annotations

import json
import sys

from pepr_gate.errors import PeprError, StoreError
from pepr_gate.records import RunRecord, parse_run_record

# Bumped whenever a store's layout changes; a store written by a newer pepr-gate is
# refused rather than rewritten, so an older runner can never damage shared history.
SCHEMA_VERSION = 1


class DuplicateRun(StoreError):
    """A run with this id is already stored; stores never overwrite one."""


def decode_record(text: str | bytes, where: str) -> RunRecord | None:
    """Parse one stored record; a corrupted one is skipped with a warning naming it.

    A single bad row must not hide the rest of the history (or fail a gate that only
    needs the other runs), so this warns on stderr and returns None instead of raising.
    """
    try:
        return parse_run_record(json.loads(text), where)
    except (ValueError, RecursionError, PeprError) as exc:  # JSONDecodeError, UnicodeDecodeError
        reason = (exc.message if isinstance(exc, PeprError)
                  else "JSON nested too deeply to read" if isinstance(exc, RecursionError)
                  else f"not valid JSON ({exc})")
        reason = reason.removeprefix(f"{where}: ")
        print(f"pepr-gate: warning: skipping corrupted {where}: {reason}", file=sys.stderr)
        return None


def check_version(found: int, where: str) -> None:
    if found > SCHEMA_VERSION:
        raise StoreError(
            f"{where} has store schema version {found}, newer than this pepr-gate reads "
            f"(version {SCHEMA_VERSION}); refusing to read or write it",
            hint="upgrade pepr-gate (pip install -U pepr-gate) on this runner; "
            "the store was left untouched",
        )
