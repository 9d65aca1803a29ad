"""The interface every history store implements (the `Store` that `pepr_gate.store`
exports). Its own module so that the stores (git, SQL) and the factory that opens them
import it without importing the package that imports them."""

from __future__ import annotations

from abc import ABC, abstractmethod
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
