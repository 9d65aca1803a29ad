"""The git data branch's summary files: what the dashboard draws, one file per branch.

    summaries/<branch folder>.jsonl   a header line, then one line per run of runs/<folder>/:
                                      [path, blob id, the drawn FIELDS of store/summary.py]

Every write (`append`, `publish`) rewrites the summary of the branch it adds runs to, so
the dashboard reads a few files instead of parsing 100,000 records. The run files stay
the truth: a reader keeps a summary line only while its path still holds the same blob,
and reads the record itself for any run the summary lacks (written by an older
pepr-gate, or edited by hand); the next write to that branch heals the file. A summary
rebuilt from the run files alone has the same bytes (`rebuild=True`), which the tests
check.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pepr_gate.records import RunRecord
from pepr_gate.store.gitcmd import git, git_env
from pepr_gate.store.summary import FIELDS, RunSummary, from_text, from_values, of_record
from pepr_gate.store.summary import values_line as _values

SCHEMA = "pepr-gate/summary/1"
FOLDER = "summaries"
HEADER = json.dumps({"schema": SCHEMA, "fields": [".".join(p) for p in FIELDS]},
                    separators=(",", ":")).encode() + b"\n"
BATCH = 2000  # blobs per `git cat-file --batch` call

Entries = dict[str, tuple[str, RunSummary]]  # run file path -> (blob id, summary)


def blob_id(data: bytes) -> str:
    """The id git gives `data` as a blob (what `git hash-object` prints)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def summary_path(folder: str) -> str:
    return f"{FOLDER}/{folder}.jsonl"


def folder_of(run_path: str) -> str:
    return run_path.split("/", 2)[1]


def render(entries: Entries) -> bytes:
    """A summary file: the header, then its runs sorted by path (oldest first)."""
    lines = [HEADER]
    for path in sorted(entries):
        blob, summary = entries[path]
        lines.append(json.dumps([path, blob, *_values(summary)], separators=(",", ":"),
                                ensure_ascii=False, allow_nan=False).encode() + b"\n")
    return b"".join(lines)


def parse(raw: bytes | None) -> Entries:
    """The sound lines of a summary file; another schema or a bad line counts as absent."""
    if not raw or not raw.startswith(HEADER):
        return {}
    found: Entries = {}
    size = len(FIELDS) + 2
    for lines in _chunks(raw, len(HEADER)):
        for row in _rows(lines):
            if row.__class__ is not list or len(row) != size:
                continue
            path, blob = row[0], row[1]
            summary = from_values(row[2:])
            if isinstance(path, str) and isinstance(blob, str) and summary is not None:
                found[path] = (blob, summary)
    return found


def _chunks(raw: bytes, pos: int) -> Iterator[list[bytes]]:
    """The lines of `raw` from `pos`, BATCH at a time (never all of them split at once)."""
    while pos < len(raw):
        end = pos
        for _ in range(BATCH):
            end = raw.find(b"\n", end) + 1
            if end == 0:
                end = len(raw)
                break
        yield raw[pos:end].splitlines()
        pos = end


def _rows(lines: list[bytes]) -> list[Any]:
    """Many lines in one `json.loads` call; line by line when one of them is damaged."""
    try:
        return list(json.loads(b"[" + b",".join(lines) + b"]"))
    except (ValueError, RecursionError):
        rows = []
        for line in lines:
            try:
                rows.append(json.loads(line))
            except (ValueError, RecursionError):
                continue
        return rows


def _batch(cache: Path, objects: list[str]) -> list[bytes | None]:
    """The contents of many objects (`tip:path` or blob ids) in one cat-file call."""
    raw = git("cat-file", "--batch", cwd=cache,
              stdin="".join(f"{name}\n" for name in objects).encode()).stdout
    out: list[bytes | None] = []
    pos = 0
    for _ in objects:
        end = raw.index(b"\n", pos)
        header = raw[pos:end].split()
        pos = end + 1
        if len(header) != 3 or not header[2].isdigit():
            out.append(None)  # "<name> missing": no content follows
            continue
        size = int(header[2])  # every answer with a size is consumed, whatever its type
        out.append(raw[pos:pos + size] if header[1] == b"blob" else None)
        pos += size + 1
    return out


def listing(cache: Path, tip: str, prefix: str = "runs/") -> dict[str, str]:
    """Run file path -> blob id, for every record under `prefix` at `tip`."""
    listed = git("ls-tree", "-r", tip, prefix, cwd=cache).stdout.decode()
    found = {}
    for line in listed.splitlines():
        meta, _, path = line.partition("\t")
        parts = meta.split()
        if len(parts) == 3 and parts[1] == "blob" and path.endswith(".json"):
            found[path] = parts[2]
    return found


class Objects:
    """One `git cat-file --batch` process for many reads, one at a time. Git keeps the
    delta bases it unpacked, so the next summary file (packed as a delta of another, or of
    its own older version) costs little; a process per file unpacked the chain each time."""

    def __init__(self, cache: Path) -> None:
        self._proc = subprocess.Popen(["git", "cat-file", "--batch"], cwd=cache,
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      env=git_env())

    def read(self, name: str) -> bytes | None:
        """The blob `name` (`tip:path` or an id) names, None when absent or not a blob."""
        proc = self._proc
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(name.encode() + b"\n")
        proc.stdin.flush()
        header = proc.stdout.readline().split()
        if len(header) != 3:  # "<name> missing", or git went away
            return None
        data = proc.stdout.read(int(header[1 + 1]))
        proc.stdout.read(1)
        return data if header[1] == b"blob" else None

    def __enter__(self) -> Objects:
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.close()
        self._proc.stdout.close()
        self._proc.wait()


def folder_entries(cache: Path, tip: str, files: dict[str, str], folder: str, label: str,
                   *, rebuild: bool = False, objects: Objects | None = None) -> Entries:
    """The summary of one branch folder at `tip`: the stored file's lines that still match
    their run file, plus every other run read from its record."""
    name = f"{tip}:{summary_path(folder)}"
    if rebuild:
        known: Entries = {}
    else:
        known = parse(objects.read(name) if objects else _batch(cache, [name])[0])
    entries: Entries = {}
    missing = []
    for path, blob in files.items():
        line = known.get(path)
        if line is not None and line[0] == blob:
            entries[path] = line
        else:
            missing.append(path)
    for start in range(0, len(missing), BATCH):
        chunk = missing[start:start + BATCH]
        for path, data in zip(chunk, _batch(cache, [files[p] for p in chunk]), strict=True):
            summary = None if data is None else from_text(data, f"file {path} on {label}")
            if summary is not None:
                entries[path] = (files[path], summary)
    return entries


def folders(cache: Path, tip: str) -> list[str]:
    """The branch folders under runs/ at `tip`."""
    listed = git("ls-tree", "-d", "--name-only", tip, "runs/", cwd=cache).stdout.decode()
    return [name.split("/", 1)[1] for name in listed.splitlines() if "/" in name]


def all_entries(cache: Path, tip: str, label: str, *, rebuild: bool = False
                ) -> dict[str, Entries]:
    """Every branch folder's summary at `tip`, listed and read one folder at a time (the
    memory held is one folder's listing, not the whole branch's)."""
    out = {}
    with Objects(cache) as objects:
        for folder in folders(cache, tip):
            files = listing(cache, tip, f"runs/{folder}/")
            out[folder] = folder_entries(cache, tip, files, folder, label, rebuild=rebuild,
                                         objects=objects)
    return out


def updated(cache: Path, parent: str | None, new: Iterable[tuple[str, bytes, RunRecord]],
            label: str, known: dict[str, Entries] | None = None) -> dict[str, bytes]:
    """The summary files to commit with `new` (path, file bytes, record) runs; `known`:
    `all_entries` at `parent`, when the caller has read it already."""
    added: dict[str, Entries] = {}
    for path, data, record in new:
        added.setdefault(folder_of(path), {})[path] = (blob_id(data), of_record(record))
    out = {}
    for folder, fresh in added.items():
        if parent is None:
            entries: Entries = {}
        elif known is not None:
            entries = dict(known.get(folder, {}))
        else:
            files = listing(cache, parent, f"runs/{folder}/")
            entries = folder_entries(cache, parent, files, folder, label)
        entries.update(fresh)
        out[summary_path(folder)] = render(entries)
    return out
