"""Reading a user's file with bounds: a regular file only, and never more than a limit.

A device (`PEPR_CONFIG=/dev/zero`) would be read until memory runs out and a FIFO would
wait forever for a writer; both are refused before a byte is read. The FIFO is opened
non-blocking for that reason. Each refusal is an `OSError` whose text says why, so the
callers' existing "cannot read ...: {exc}" messages name the file and the reason.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MIB = 1024 * 1024
CONFIG_LIMIT = 4 * MIB  # a pepr.toml or pyproject.toml
JSON_LIMIT = 64 * MIB  # a run record, a check result, a metrics file, an event payload


class FileRefused(OSError):
    """Not a regular file, or larger than allowed; str() is the reason."""

    def __str__(self) -> str:
        return str(self.args[0])


def read_limited(path: str | Path, limit: int = JSON_LIMIT) -> bytes:
    """The bytes of the regular file at `path`; `FileRefused` for anything else, or for
    more than `limit` bytes (checked while reading: a file may grow meanwhile)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise FileRefused(f"not a regular file ({_kind(mode)}); pass a plain file")
        os.set_blocking(fd, True)
        chunks: list[bytes] = []
        total = 0
        while chunk := os.read(fd, min(MIB, limit + 1 - total) or 1):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise FileRefused(f"larger than the {limit // MIB} MiB pepr-gate reads")
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_text_limited(path: str | Path, limit: int = JSON_LIMIT) -> str:
    return read_limited(path, limit).decode("utf-8")


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a plain file"
