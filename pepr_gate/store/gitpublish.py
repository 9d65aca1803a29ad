"""The one commit `GitStore.publish` makes: new runs, their summaries and a built folder
(the dashboard's `site/`), on top of the data branch's tip."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pepr_gate.records import RunRecord
from pepr_gate.store.gitcmd import git
from pepr_gate.store.gitlayout import run_path
from pepr_gate.store.gitsummary import all_entries, updated
from pepr_gate.store.gittree import commit_files
from pepr_gate.store.summary import RunSummary

# Builds a folder's files from every run at the tip (new ones included) and a reader of
# the tip's files (path -> bytes, None when absent): see GitStore.publish.
FolderBuilder = Callable[[list["RunSummary | RunRecord"], Callable[[str], "bytes | None"]],
                         dict[str, bytes]]


def folder_commit(cache: Path, parent: str | None, records: list[RunRecord], *,
                  folder: str, build: FolderBuilder, label: str) -> str:
    """Commit `records` and what `build` makes of every run into `folder/` on `parent`."""
    files = {run_path(r): (r.to_json() + "\n").encode() for r in records}
    found = {} if parent is None else all_entries(cache, parent, label)
    stored = [s for entries in found.values() for _, s in entries.values()]
    made = build([*stored, *records], _reader(cache, parent, folder))
    files.update(updated(cache, parent, [
        (path, files[path], r) for path, r in zip(map(run_path, records), records,
                                                  strict=True)], label, found))
    files.update({f"{folder}/{name}": data for name, data in made.items()})
    # Other files in the folder (a CNAME for GitHub Pages, a 404 page) are kept.
    return commit_files(cache, parent, files, message=_message(records, folder))


def _message(records: list[RunRecord], folder: str) -> str:
    runs = ", ".join(f"{r.id} on {r.branch or '(no branch)'}" for r in records)
    return f"pepr-gate: run {runs}; {folder}/ rebuilt" if runs else f"pepr-gate: {folder}/"


def _reader(cache: Path, tip: str | None, folder: str) -> Callable[[str], bytes | None]:
    def read(name: str) -> bytes | None:
        if tip is None:
            return None
        shown = git("cat-file", "blob", f"{tip}:{folder}/{name}", cwd=cache, check=False)
        return shown.stdout if shown.returncode == 0 else None

    return read
