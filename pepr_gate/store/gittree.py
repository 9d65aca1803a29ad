"""One commit from a set of files, on a bare repository's private index (no work tree).

`GitStore.publish` uses it to put new run records and a rebuilt folder (the dashboard's
`site/`) into a single commit.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from pepr_gate.store.codec import SCHEMA_VERSION
from pepr_gate.store.gitcmd import git

MARKER = "pepr-store.json"  # the file that makes a branch a pepr-gate store


def commit_files(cache: Path, parent: str | None, files: dict[str, bytes], *,
                 replace: str | None = None, message: str) -> str:
    """A commit on `parent` with `files` added (and, given `replace`, every other file
    under that folder gone).

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
            listed = git("ls-tree", "-r", "--name-only", parent, replace,
                         cwd=cache).stdout if replace is not None else b""
            old = listed.decode().splitlines()
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


def record_names(cache: Path, tip: str, prefix: str, branch: str) -> list[str]:
    """The `.json` files under `prefix`; any other kind of entry there (a gitlink, a
    symlink) is skipped with a warning naming it, never read as a record."""
    listed = git("ls-tree", "-r", "-z", tip, prefix, cwd=cache).stdout
    names = []
    for entry in listed.decode("utf-8", "surrogateescape").split("\0"):
        meta, _, name = entry.partition("\t")
        if not name.endswith(".json"):
            continue
        mode, kind = [*meta.split(), "", ""][:2]
        if kind == "blob" and mode in ("100644", "100755") and "\n" not in name:
            names.append(name)
        else:
            print(f"pepr-gate: warning: skipping {name!r} on branch {branch!r}: "
                  f"a {kind or 'non-file'} entry (mode {mode}), not a run record file",
                  file=sys.stderr)
    return names


def read_blobs(cache: Path, tip: str, names: list[str]) -> list[tuple[str, bytes]]:
    """Many blobs in one `git cat-file --batch` call.

    Every answer with a size is consumed whatever its type, so one odd entry can
    never shift the reading of the ones after it."""
    request = "".join(f"{tip}:{name}\n" for name in names).encode("utf-8", "surrogateescape")
    raw = git("cat-file", "--batch", cwd=cache, stdin=request).stdout
    found: list[tuple[str, bytes]] = []
    pos = 0
    for name in names:
        end = raw.index(b"\n", pos)
        header = raw[pos:end].split()
        pos = end + 1
        if len(header) != 3 or not header[2].isdigit():
            continue  # "<name> missing" / "ambiguous": no content follows
        size = int(header[2])
        if header[1] == b"blob":
            found.append((name, raw[pos:pos + size]))
        pos += size + 1
    return found
