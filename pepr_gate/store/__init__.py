"""History stores behind one interface, chosen by URL.

    sqlite:///path/to/history.db   (default: sqlite:///.pepr/history.db)
    postgresql://user@host/db      (needs the `postgres` extra: psycopg 3)
    git:BRANCH                     (an orphan branch of the repository's origin)

`open_store(url, root=...)` resolves relative SQLite paths against `root` (the config's
directory). Every store keeps whole run records; scoring is never done here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING

from pepr_gate.records import RunRecord

if TYPE_CHECKING:
    from pepr_gate.store.summary import RunSummary


class Store(ABC):
    url: str

    @abstractmethod
    def append(self, record: RunRecord) -> None:
        """Store one run record (status ok or failed); never overwrites another id."""

    @abstractmethod
    def runs(
        self,
        branch: str | None = None,
        *,
        limit: int | None = None,
        status: str | None = None,
        fingerprint: str | None = None,
        config_hash: str | None = None,
    ) -> list[RunRecord]:
        """Runs matching the filters, newest first (by created_at)."""

    def summaries(self) -> list[RunSummary]:
        """Every run as the dashboard draws it (store/summary.py), in no set order; each
        store reads just those fields instead of validating whole records."""
        from pepr_gate.store.summary import of_record

        return [of_record(r) for r in self.runs()]

    def check_writable(self) -> None:  # noqa: B027 - most stores find problems at open
        """Raise StoreError now if a record could not be stored later (run before a job)."""

    def latest(self, branch: str | None = None) -> RunRecord | None:
        found = self.runs(branch, limit=1)
        return found[0] if found else None

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_store(url: str, *, root: Path | None = None, must_exist: bool = False) -> Store:
    """Open the store named by `url`; raises StoreError (exit 2) for a bad URL or file."""
    from pepr_gate.store.factory import open_store_url

    return open_store_url(url, root=root, must_exist=must_exist)
