"""The commit and branch a run measured, read with real `git` (never required)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from pepr_gate.records import GitInfo


def _git(cwd: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def top_folder(cwd: Path) -> Path | None:
    """The repository's top folder (the work tree's root), or None outside a repository."""
    top = _git(cwd, "rev-parse", "--show-toplevel")
    return Path(top) if top else None


def head_branch(cwd: Path) -> str | None:
    """The checked-out branch, also on a new repository's unborn branch; None when detached."""
    head = _git(cwd, "rev-parse", "--abbrev-ref", "HEAD")
    if head is None:
        # No commit yet: `rev-parse HEAD` fails, but HEAD already names the branch.
        head = _git(cwd, "symbolic-ref", "--short", "-q", "HEAD")
    return head if head and head != "HEAD" else None


def git_info(cwd: Path, *, branch: str | None = None, sha: str | None = None) -> GitInfo | None:
    """Explicit branch/sha (from CI) win; else the repository's HEAD; None outside a repo."""
    inside = _git(cwd, "rev-parse", "--is-inside-work-tree") == "true"
    if not inside and branch is None and sha is None:
        return None
    if inside:
        sha = sha or _git(cwd, "rev-parse", "HEAD")
        if branch is None:
            # Detached HEAD (as in most CI checkouts): fall back to the CI's branch name.
            branch = head_branch(cwd) or os.environ.get("GITHUB_HEAD_REF") or (
                os.environ.get("GITHUB_REF_NAME") or None
            )
        status = _git(cwd, "status", "--porcelain", "--untracked-files=no")
        dirty = bool(status) if status is not None else None
    else:
        dirty = None
    return GitInfo(sha=sha, branch=branch, dirty=dirty)


def current_branch(cwd: Path | None = None) -> str | None:
    info = git_info(cwd or Path.cwd())
    return info.branch if info else None
