"""Writing a file so that it is either whole or absent: temp file, fsync, rename.

A run record half-written when the disk filled up (a 0-byte `.json`) would later read as
a corrupted run; with the rename it never exists at all, and the error says where it
should have gone and how much room the disk had.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tempfile
from pathlib import Path

from pepr_gate.errors import PeprError, StoreError

_HINT = "free some space (or make the folder writable), or pass --out to another place"


def write_atomic(path: Path, text: str | bytes, *, error: type[PeprError] = StoreError,
                 hint: str = _HINT) -> None:
    """Write `text` (str as UTF-8, or bytes) to `path` atomically; raises `error` (exit 2,
    StoreError unless the caller names its own) naming the path and the disk's free space.

    A symlink is followed (its target is replaced, in the target's folder, and the link
    stays); an existing path that is not a regular file (a device such as /dev/stdout, a
    FIFO, a socket) is written to directly, since renaming onto it would replace it.
    """
    data = text.encode("utf-8") if isinstance(text, str) else text
    path = Path(os.path.realpath(path))
    try:
        mode = os.stat(path).st_mode
    except OSError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        _write_direct(path, data, error)
        return
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:  # the folder is missing, read-only or not a folder
        raise error(f"cannot write {path}: {_why(exc, path.parent, len(data))}",
                    hint=hint) from None
    try:
        try:
            try:
                # mkstemp makes the file private (0600); give it the mode a plain open()
                # would: the replaced file's, or 0666 less the umask for a new one.
                os.fchmod(fd, stat.S_IMODE(mode) if mode is not None else 0o666 & ~_umask())
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _sync_folder(path.parent)
    except OSError as exc:
        raise error(f"cannot write {path}: {_why(exc, path.parent, len(data))}",
                    hint=hint) from None


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _write_direct(path: Path, data: bytes, error: type[PeprError]) -> None:
    try:
        with open(path, "wb") as out:
            out.write(data)
    except OSError as exc:
        raise error(f"cannot write {path}: {_why(exc, path.parent, len(data))}",
                    hint="pass --out a regular file or a writable device") from None


def _why(exc: OSError, folder: Path, size: int) -> str:
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        try:
            free = shutil.disk_usage(folder).free
            reason += f" ({free:,} bytes free on that disk, {size:,} needed)"
        except OSError:
            pass
    return reason


def _sync_folder(folder: Path) -> None:
    # The rename itself reaches the disk only when the folder is synced (POSIX).
    with contextlib.suppress(OSError):
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
