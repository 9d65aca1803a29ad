"""History stores behind one interface, chosen by URL.

    sqlite:///path/to/history.db   (default: sqlite:///.pepr/history.db)
    postgresql://user@host/db      (needs the `postgres` extra: psycopg 3)
    git:BRANCH                     (an orphan branch of the repository's origin)

`open_store(url, root=...)` resolves relative SQLite paths against `root` (the config's
directory). Every store keeps whole run records; scoring is never done here.
"""

from __future__ import annotations

from pathlib import Path

from pepr_gate.store.base import Store

__all__ = ["Store", "open_store"]


def open_store(url: str, *, root: Path | None = None, must_exist: bool = False) -> Store:
    """Open the store named by `url`; raises StoreError (exit 2) for a bad URL or file."""
    from pepr_gate.store.factory import open_store_url

    return open_store_url(url, root=root, must_exist=must_exist)
