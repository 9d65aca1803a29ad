"""One commit from a set of files, on a bare repository's private index (no work tree).

`GitStore.publish` uses it to put new run records and a rebuilt folder (the dashboard's
`site/`) into a single commit.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pepr_gate.store.codec import SCHEMA_VERSION
from pepr_gate.store.gitcmd import git

MARKER = "pepr-store.json"  # the file that makes a branch a pepr-gate store


def commit_files(cache: Path, parent: str | None, files: dict[str, bytes], *,
                 replace: str | None, message: str) -> str:
    """A commit on `parent` with `files` added and every other file under `replace` gone
    (None: nothing else is removed).

    Without a parent (a new data branch) the store's marker file is added too.
    """
    index = cache / f"pepr-index-{os.getpid()}"
    try:
        if parent is None:
            marker = json.dumps({"schema_version": SCHEMA_VERSION}).encode() + b"\n"
            files = {MARKER: marker, **files}
            git("read-tree", "--empty", cwd=cache, index=index)
            old: list[str] = []
        else:
            git("read-tree", parent, cwd=cache, index=index)
            old = [] if replace is None else git(
                "ls-tree", "-r", "--name-only", parent, replace, cwd=cache,
            ).stdout.decode().splitlines()
        # Mode 0 removes a path from the index; the new files are added after.
        entries = [f"0 {'0' * 40}\t{path}\n" for path in old if path not in files]
        for path, data in files.items():
            blob = git("hash-object", "-w", "--stdin", cwd=cache, stdin=data)
            entries.append(f"100644 {blob.stdout.decode().strip()}\t{path}\n")
        git("update-index", "--index-info", cwd=cache, index=index,
            stdin="".join(entries).encode())
        tree = git("write-tree", cwd=cache, index=index).stdout.decode().strip()
    finally:
        index.unlink(missing_ok=True)
    parents = ["-p", parent] if parent else []
    return git("commit-tree", tree, *parents, "-m", message, cwd=cache).stdout.decode().strip()
