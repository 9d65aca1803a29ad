"""The git side of `pepr-gate ab`: which commit `--base` names, and its worktree.

A ref this checkout cannot resolve is looked up on origin: an ancestry ref (`HEAD~1`,
`main^2`) in a shallow clone (what `actions/checkout` makes) deepens the clone by as
many commits as it needs; a branch, tag or full SHA is fetched into a private ref. Each
fetch is said on the terminal, and a ref that still does not resolve exits 2 naming it.
`FETCH_HEAD` is never read: it may be left over from any earlier fetch.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pepr_gate.errors import InputError
from pepr_gate.store.gitcmd import git, remote_auth

PRIVATE_REF = "refs/pepr-gate/ab-base"
WORKTREE_PREFIX = "pepr-gate-ab-"
# `NAME~3^2~1`: a name (maybe empty, meaning HEAD) and the steps back from it.
_ANCESTRY = re.compile(r"^(?P<name>.*?)(?P<steps>(?:[~^][0-9]*)*)$")


def repo_top(root: Path) -> Path:
    top = git("rev-parse", "--show-toplevel", cwd=root, check=False)
    if top.returncode != 0:
        raise InputError(f"paired A/B needs a git repository: {root} is not inside one",
                         hint="run `pepr-gate ab` in your repository's checkout")
    return Path(top.stdout.decode().strip())


def _rev(top: Path, name: str) -> str | None:
    # `name` never starts with "-" (resolve_commit refuses that), so it is no option.
    got = git("rev-parse", "--verify", "--quiet", f"{name}^{{commit}}", cwd=top, check=False)
    return got.stdout.decode().strip() if got.returncode == 0 else None


def _depth(steps: str) -> int:
    """How many commits back `~3^2~1` reaches at most (`^N` is one step: a parent)."""
    total = 0
    for op, count in re.findall(r"([~^])([0-9]*)", steps):
        total += int(count or 1) if op == "~" else 1
    return total


def resolve_commit(top: Path, ref: str, announce: Callable[[str], None] = print,
                   flag: str = "--base") -> str:
    """The commit `ref` names, fetched from origin when this checkout lacks it; `flag` is
    the option the user gave it with, named in every message."""
    if ref.startswith("-") or not ref.strip() or "\n" in ref:
        raise InputError(f"{flag} {ref!r}: not a git revision", hint=f"e.g. {flag} main")
    sha = _rev(top, ref)
    if sha is not None:
        return sha
    origin = git("config", "--get", "remote.origin.url", cwd=top, check=False)
    if origin.returncode == 0:
        sha = _from_origin(top, ref, origin.stdout.decode().strip(),
                           lambda line: announce(f"{flag} {line}"))
    if sha is None:
        where = "or on origin" if origin.returncode == 0 else "(and it has no origin)"
        raise InputError(
            f"{flag} {ref!r}: no such commit in {top} {where}",
            hint="name a branch, tag or full SHA that exists there, or fewer commits back "
            "(HEAD~N needs N earlier commits); in Actions, check out with `fetch-depth: 0`")
    return sha


def _from_origin(top: Path, ref: str, url: str, announce: Callable[[str], None]) -> str | None:
    parts = _ANCESTRY.match(ref)
    assert parts is not None  # the pattern matches any text
    name, steps = parts["name"] or "HEAD", parts["steps"]
    depth = _depth(steps)
    shallow = git("rev-parse", "--is-shallow-repository", cwd=top,
                  check=False).stdout.decode().strip() == "true"
    auth = remote_auth(top, url)
    if _rev(top, name) is not None:
        if not (shallow and depth):
            return None  # the whole history is here: the ref does not exist
        git("fetch", "-q", "--no-tags", f"--deepen={depth}", "origin", cwd=top, check=False,
            config=auth)
        sha = _rev(top, ref)
        if sha is not None:
            announce(f"{ref}: this clone is shallow; fetched {depth} more commit(s) "
                     "of history from origin to find it")
        return sha
    got = git("fetch", "-q", "--no-tags", *([f"--depth={depth + 1}"] if shallow else []),
              "--", "origin", f"+{name}:{PRIVATE_REF}", cwd=top, check=False, config=auth)
    sha = _rev(top, PRIVATE_REF + steps) if got.returncode == 0 else None
    git("update-ref", "-d", PRIVATE_REF, cwd=top, check=False)
    if sha is not None:
        announce(f"{ref}: not in this checkout; fetched {name} from origin")
    return sha


def branch_of(top: Path, ref: str) -> str | None:
    """The branch `ref` names (`main`, `origin/main`, `@{-1}`), None for a tag, a SHA or
    `HEAD~1`: base runs are stored under a real branch name or none."""
    got = git("rev-parse", "--symbolic-full-name", ref, cwd=top, check=False)
    full = got.stdout.decode().strip() if got.returncode == 0 else ""
    for prefix in ("refs/heads/", "refs/remotes/origin/"):
        if full.startswith(prefix) and full != f"{prefix}HEAD":
            return full.removeprefix(prefix)
    return None


@contextmanager
def base_worktree(top: Path, sha: str) -> Iterator[Path]:
    """`sha` checked out (detached) in a temporary worktree, removed on any exit.

    The folder's name carries this process's id, so a later `ab` removes what a killed
    one (SIGKILL, a lost runner) left registered."""
    prune_stale(top)
    folder = Path(tempfile.mkdtemp(prefix=f"{WORKTREE_PREFIX}{os.getpid()}-"))
    path = folder / "base"
    try:
        git("worktree", "add", "--detach", "--quiet", str(path), sha, cwd=top)
        yield path
    finally:
        git("worktree", "remove", "--force", "--force", str(path), cwd=top, check=False)
        shutil.rmtree(folder, ignore_errors=True)
        git("worktree", "prune", cwd=top, check=False)


def prune_stale(top: Path) -> list[Path]:
    """Remove the worktrees of `ab` runs whose process is gone; returns their paths."""
    listed = git("worktree", "list", "--porcelain", cwd=top, check=False).stdout.decode()
    gone: list[Path] = []
    for line in listed.splitlines():
        path = Path(line.removeprefix("worktree ")) if line.startswith("worktree ") else None
        if path is None or path.name != "base" or not _dead_owner(path.parent.name):
            continue
        git("worktree", "remove", "--force", "--force", str(path), cwd=top, check=False)
        shutil.rmtree(path.parent, ignore_errors=True)
        gone.append(path)
    if gone:
        git("worktree", "prune", cwd=top, check=False)
    return gone


def _dead_owner(folder: str) -> bool:
    found = re.fullmatch(rf"{WORKTREE_PREFIX}([0-9]+)-\w+", folder)
    if found is None or int(found[1]) == os.getpid():
        return False
    try:
        os.kill(int(found[1]), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, owned by someone else
        return False
    return False
