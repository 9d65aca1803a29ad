"""Pick the store for a URL: sqlite, postgresql or git."""

from __future__ import annotations

from pathlib import Path

from pepr_gate.errors import StoreError
from pepr_gate.store.base import Store

SUPPORTED = (
    "sqlite:///relative/path.db",
    "sqlite:////absolute/path.db",
    "postgresql://user@host:port/db",
    "postgresql+psycopg://user@host:port/db",
    "git:BRANCH",
)


def open_store_url(url: str, *, root: Path | None = None, must_exist: bool = False) -> Store:
    """Open the store named by `url`; relative SQLite paths resolve against `root` (or cwd).

    `must_exist` (for commands that only read) refuses a SQLite file that is not there
    instead of creating an empty one, and a git data branch that origin does not have.
    """
    url = url.strip()
    base = Path(root) if root is not None else Path.cwd()
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme == "sqlite":
        from pepr_gate.store.sqlite import open_sqlite

        return open_sqlite(url, base, must_exist=must_exist)
    if scheme in {"postgresql", "postgres"} or scheme.startswith("postgresql+"):
        from pepr_gate.store.sql import open_postgres

        return open_postgres(url)
    if scheme == "git":
        from pepr_gate.store.git import GitStore

        return GitStore(url[len("git:"):], root=base, must_exist=must_exist)
    raise StoreError(
        f"unsupported store URL {url!r}"
        + (f" (scheme {scheme!r})" if scheme else " (no scheme)"),
        hint="use one of: " + ", ".join(SUPPORTED)
        + "; set it with --store or [store] url in pepr.toml",
    )
