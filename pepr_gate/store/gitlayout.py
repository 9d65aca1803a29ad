"""Where a run lives on the data branch (`safe_name`, `run_path`), which branch names a
git store accepts, where the checkout and its origin are (`locate`), the private
repository's lock (`locked_cache`) and the data branch's marker (`check_marker`)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timezone
from pathlib import Path

from pepr_gate.errors import StoreError
from pepr_gate.records import RunRecord
from pepr_gate.store.codec import check_version
from pepr_gate.store.gitcmd import STALE_KEYS, git
from pepr_gate.store.gittree import MARKER


def safe_name(name: str | None) -> str:
    """A path component for a branch or id; names that had to change get a hash suffix.

    The suffix keeps `feature/x` and `feature_x` apart; the original name stays in the
    record itself.
    """
    if not name:
        return "_no-branch"
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip(".")[:80] or "_"
    if safe != name:
        safe = f"{safe}-{hashlib.sha1(name.encode()).hexdigest()[:8]}"
    return safe


def run_path(record: RunRecord) -> str:
    stamp = record.created_at.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    return f"runs/{safe_name(record.branch)}/{stamp}-{safe_name(record.id)}.json"


def check_branch_name(branch: str, root: Path) -> None:
    """A plain branch name, exactly as written: no ref (`refs/heads/x`), nothing git would
    expand (`@{-1}`), and none that check-ref-format --branch lets through but a ref
    cannot hold (`@`), or a file system cannot (a ref is a file: 255 bytes at most)."""
    full = git("check-ref-format", f"refs/heads/{branch}", cwd=root, check=False)
    # `@` alone passes git's checks, yet means HEAD to every git command that reads it.
    if branch == "@" or (branch and full.returncode != 0):
        raise StoreError(f"store URL 'git:{branch}': {branch!r} is not a valid branch name",
                         hint="write git:BRANCH, for example git:pepr-data")
    if len(branch.encode()) > 200:
        raise StoreError(
            f"store URL 'git:{branch[:40]}...': the branch name is {len(branch.encode())} "
            "bytes long; data branch names have at most 200",
            hint="pick a short name, for example git:pepr-data")

    url = f"git:{branch}"
    ok = git("check-ref-format", "--branch", branch, cwd=root, check=False)
    # check-ref-format accepts `refs/heads/main` (pushed as refs/heads/refs/heads/main)
    # and expands `@{-1}`: the store takes a plain branch name, exactly as written.
    if not branch or ok.returncode != 0 or ok.stdout.decode().strip() != branch:
        raise StoreError(f"store URL {url!r}: {branch!r} is not a valid branch name",
                         hint="write git:BRANCH, for example git:pepr-data")
    if branch.startswith("refs/"):
        raise StoreError(f"store URL {url!r}: write the data branch's name, not a ref",
                         hint="write a plain branch name of its own for the history, "
                         "e.g. git:pepr-data (pepr-gate adds refs/heads/)")


def locate(url: str, root: Path) -> tuple[Path, str]:
    """The checkout's top folder and its `origin` URL (as configured), or a StoreError."""
    top = git("rev-parse", "--show-toplevel", cwd=root, check=False)
    if top.returncode != 0:
        raise StoreError(f"store {url}: {root} is not inside a git repository",
                         hint="run pepr-gate inside your repository's checkout, "
                         "or use a sqlite:/// store")
    path = Path(top.stdout.decode().strip())
    origin = git("config", "--get", "remote.origin.url", cwd=path, check=False)
    if origin.returncode != 0:
        raise StoreError(f"store {url}: the repository {path} has no remote "
                         "'origin' to keep the history on",
                         hint="add one with `git remote add origin URL`, or use a "
                         "sqlite:/// or postgresql:// store")
    return path, origin.stdout.decode().strip()


def tries_text(n: int) -> str:
    return "1 try" if n == 1 else f"{n} tries"


def matches(record: RunRecord, branch: str | None, status: str | None,
             fingerprint: str | None, config_hash: str | None) -> bool:
    """The filters of `Store.runs`: each one given must equal the record's value."""
    wanted = (branch, status, fingerprint, config_hash)
    found = (record.branch, record.status, record.hardware.fingerprint, record.config_hash)
    return all(w is None or w == f for w, f in zip(wanted, found, strict=True))


@contextmanager
def locked_cache(cache: Path) -> Iterator[None]:
    """Create the private repository once and hold a lock on it while using it."""
    folder = cache.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / ".gitignore").write_text("*\n")  # keeps `git status` of the user clean
    except OSError as exc:
        raise StoreError(f"cannot create {folder} for the git store: {exc.strerror}",
                         hint="make .pepr/ in your checkout writable") from None
    with (folder / f"{cache.name}.lock").open("a") as lock:
        try:
            import fcntl

            fcntl.flock(lock, fcntl.LOCK_EX)
        except ImportError:  # Windows: concurrent jobs rely on push retries alone
            pass
        if not (cache / "HEAD").exists():
            git("init", "-q", "--bare", str(cache), cwd=folder)
        _scrub_config(cache)
        yield


def _scrub_config(cache: Path) -> None:
    # Versions before 0.2 copied the checkout's credentials and origin URL here.
    found = git("config", "--local", "--name-only", "--get-regexp", STALE_KEYS,
                cwd=cache, check=False)
    for key in sorted(set(found.stdout.decode().split())):
        git("config", "--local", "--unset-all", key, cwd=cache, check=False)


def check_marker(cache: Path, tip: str, branch: str, shown_origin: str) -> None:
    """The tip holds the store's marker with a version this pepr-gate reads."""
    shown = git("cat-file", "-p", f"{tip}:{MARKER}", cwd=cache, check=False)
    if shown.returncode != 0:
        raise StoreError(
            f"branch {branch!r} of {shown_origin} exists but is not a pepr-gate "
            f"store (no {MARKER}); refusing to read or write it",
            hint="pick another branch for the store, e.g. --store git:pepr-data")
    try:
        version = json.loads(shown.stdout)["schema_version"]
    except (ValueError, KeyError, TypeError, RecursionError):
        version = None
    # Exactly a whole number from 1: "1", 1.5, -1 or true are not versions.
    if type(version) is not int or version < 1:
        found = json.dumps(version)[:40]
        raise StoreError(
            f"branch {branch!r}: {MARKER} is unreadable (schema_version must be a "
            f"whole number from 1; found {found})",
            hint="restore it from the branch's history") from None
    check_version(version, f"git store {branch!r} on {shown_origin}")
