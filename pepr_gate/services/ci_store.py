"""Which history store `pepr-gate ci` uses, and a warning when it cannot survive the job.

In CI the default is `git:pepr-data`: the history lives on a data branch of the
repository itself, so it survives `actions/checkout`'s `clean: true` and ephemeral
runners. A SQLite file inside the checkout does not: the next job's checkout deletes it
and every pull request finds no baseline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pepr_gate.config import Config

CI_DEFAULT_STORE = "git:pepr-data"


@dataclass(frozen=True)
class CiStore:
    url: str
    source: str  # where the URL came from, for messages
    warning: str | None = None


def ci_store(config: Config, given: str | None, env: Mapping[str, str]) -> CiStore:
    """The store for this CI run: the input, else the config's [store] url, else git:pepr-data."""
    if given:
        url, source = given, "input `store`"
    elif "url" in config.store.model_fields_set:
        url, source = config.store.url, f"[store] url in {config.source or 'the config'}"
    else:
        url, source = CI_DEFAULT_STORE, "the CI default"
    return CiStore(url, source, _inside_workspace(url, source, config, env))


def sqlite_path(url: str, root: Path) -> Path | None:
    """The file a sqlite:/// URL names, resolved like the store resolves it; else None."""
    if not url.lower().startswith("sqlite:///") or len(url) <= len("sqlite:///"):
        return None
    path = Path(url[len("sqlite:///"):]).expanduser()
    return path if path.is_absolute() else root / path


def _inside_workspace(url: str, source: str, config: Config,
                      env: Mapping[str, str]) -> str | None:
    workspace = env.get("GITHUB_WORKSPACE")
    path = sqlite_path(url, Path(config.root))
    if not workspace or path is None:
        return None
    try:
        shown = path.resolve().relative_to(Path(workspace).resolve())
    except (OSError, ValueError):
        return None
    return (
        f"the history store {url} ({source}) is the file {shown.as_posix()} inside the "
        "checkout: actions/checkout (clean: true, its default) deletes it before every "
        "job, so pull requests will find no baseline. Fix: remove the store setting to "
        f"use {CI_DEFAULT_STORE} (a data branch of this repository; the job that writes "
        "needs `permissions: contents: write`), or use a path outside the workspace "
        "(sqlite:////var/lib/pepr-gate/history.db on a persistent runner) or a "
        "postgresql:// store."
    )
