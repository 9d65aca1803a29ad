"""Publishing to a workflow run: job summary, step outputs, annotations, the sticky comment.

Each writer takes the environment mapping explicitly so tests (and `pepr-gate ci`) can
point it at files they choose. Values that a PR author controls are escaped for the
channel they go to: workflow-command escaping for annotations, a random heredoc
delimiter for outputs, and the comment body is rendered (escaped) Markdown.
"""

from __future__ import annotations

import re
import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TextIO

from pepr_gate.publish.github import COMMENT_MODES, MAX_COMMENT_CHARS, MAX_SUMMARY_BYTES

if TYPE_CHECKING:
    from pepr_gate.publish.github.api import Comment, GitHubClient

TRIM_NOTE = (
    "\n\n_… trimmed to fit GitHub's size limit; the full report is in the job's artifact._\n"
)
_SHA = re.compile(r"[0-9a-fA-F]{7,64}")
_HEAD_SHA_MARK = re.compile(r"<!-- pepr-gate:head-sha=([0-9a-fA-F]{7,64}) -->")
_VERDICT_MARK = re.compile(r"<!-- pepr-gate:verdict=([a-z]+) -->")


# -- workflow commands -----------------------------------------------------------------
def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(
    level: str, message: str, *, title: str = "pepr-gate", stream: TextIO | None = None
) -> None:
    """Print one `::error`/`::warning`/`::notice` workflow command."""
    if level not in ("error", "warning", "notice"):
        raise ValueError(level)
    out = stream or sys.stdout
    out.write(f"::{level} title={escape_property(title)}::{escape_data(message)}\n")
    out.flush()


def level_for(verdict: str) -> str:
    return {"fail": "error", "error": "error", "warn": "warning"}.get(verdict, "notice")


# -- job summary and outputs -----------------------------------------------------------
def write_summary(markdown: str, env: Mapping[str, str]) -> Path | None:
    """Append to $GITHUB_STEP_SUMMARY, trimmed so the step's summary stays under 1 MiB."""
    target = env.get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    path = Path(target)
    try:
        used = path.stat().st_size if path.is_file() else 0
    except OSError:
        used = 0
    room = MAX_SUMMARY_BYTES - used - 1
    data = markdown.encode("utf-8")
    if len(data) > room:
        note = TRIM_NOTE.encode("utf-8")
        data = data[: max(0, room - len(note))].decode("utf-8", errors="ignore").encode() + note
    return path if _append("GITHUB_STEP_SUMMARY", target, data + b"\n") else None


def set_outputs(outputs: Mapping[str, str | None], env: Mapping[str, str]) -> None:
    """Append step outputs with the `name<<DELIMITER` form, safe for any value."""
    target = env.get("GITHUB_OUTPUT")
    if not target:
        return
    lines: list[str] = []
    for name, value in outputs.items():
        text = "" if value is None else str(value)
        delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
        while delimiter in text or delimiter in name:  # pragma: no cover - 2**-128
            delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
        lines.append(f"{name}<<{delimiter}\n{text}\n{delimiter}\n")
    _append("GITHUB_OUTPUT", target, "".join(lines).encode("utf-8"))


def _append(variable: str, target: str, data: bytes) -> bool:
    """Append to a runner file; one that cannot be written (a folder, a full disk) is a
    warning on stderr, never a crash that would lose the verdict's exit code."""
    try:
        with open(target, "ab") as fh:
            fh.write(data)
    except OSError as exc:
        print(f"pepr-gate: warning: cannot write {variable}={target}: "
              f"{exc.strerror or exc}; the verdict and its exit code stand (see the log "
              "above and .pepr/ci/)", file=sys.stderr)
        return False
    return True


# -- the sticky comment ----------------------------------------------------------------
@dataclass(frozen=True)
class CommentOutcome:
    action: Literal["created", "updated", "skipped"]
    url: str | None
    reason: str


def compose_body(markdown: str, *, marker: str, head_sha: str | None, verdict: str) -> str:
    """The comment body: marker first, hidden head-sha and verdict, under GitHub's limit."""
    body = markdown if markdown.lstrip().startswith(marker) else f"{marker}\n{markdown}"
    tail = ""
    if head_sha and _SHA.fullmatch(head_sha) and not _HEAD_SHA_MARK.search(body):
        tail += f"\n<!-- pepr-gate:head-sha={head_sha} -->"
    if verdict.isalpha() and not _VERDICT_MARK.search(body):
        tail += f"\n<!-- pepr-gate:verdict={verdict} -->"
    if len(body) + len(tail) > MAX_COMMENT_CHARS:
        keep = MAX_COMMENT_CHARS - len(tail) - len(TRIM_NOTE)
        # Cut at a line end so no Markdown construct (or escape) is left half-written.
        cut = body.rfind("\n", 0, keep)
        body = body[: cut if cut > len(marker) else keep] + TRIM_NOTE
        if head_sha and _HEAD_SHA_MARK.search(markdown) and not _HEAD_SHA_MARK.search(body):
            tail = f"\n<!-- pepr-gate:head-sha={head_sha} -->" + tail
    return body + tail


def recorded_head_sha(body: str) -> str | None:
    match = _HEAD_SHA_MARK.search(body)
    return match.group(1) if match else None


def recorded_verdict(body: str) -> str | None:
    match = _VERDICT_MARK.search(body)
    return match.group(1) if match else None


def find_comment(client: GitHubClient, repo: str, pr: int, marker: str) -> Comment | None:
    """The oldest comment that starts with `marker`, searched over every page."""
    for comment in client.iter_comments(repo, pr):
        if comment.body.lstrip().startswith(marker):
            return comment
    return None


def upsert_comment(
    client: GitHubClient,
    repo: str,
    pr: int,
    body: str,
    *,
    marker: str,
    mode: str,
    verdict: str,
    head_sha: str | None,
    created_at: str | None = None,
) -> CommentOutcome:
    """Create or update the one comment for this PR and config, as `mode` allows."""
    if mode not in COMMENT_MODES:
        raise ValueError(mode)
    if mode == "never":
        return CommentOutcome("skipped", None, "comment mode is 'never'")
    existing = find_comment(client, repo, pr, marker)
    if existing is None:
        # As documented: `on-regression` speaks up for fail and warn only (an accepted
        # regression was already reviewed; an existing comment is still kept current).
        if mode == "on-regression" and verdict not in ("fail", "warn"):
            return CommentOutcome("skipped", None, f"verdict {verdict}: no regression to report")
        made = client.create_comment(repo, pr, body)
        return CommentOutcome("created", made.html_url, "no comment yet")
    if mode == "on-change" and recorded_verdict(existing.body) == verdict:
        return CommentOutcome("skipped", existing.html_url, f"verdict unchanged ({verdict})")
    # on-regression still updates an existing comment, so it never keeps showing a
    # regression that the latest commit fixed.
    old_sha = recorded_head_sha(existing.body)
    if (
        old_sha
        and head_sha
        and old_sha != head_sha
        and not _is_newer(client, repo, pr, old_sha, head_sha, existing.updated_at, created_at)
    ):
        return CommentOutcome(
            "skipped",
            existing.html_url,
            f"the comment already reports a newer commit ({old_sha[:12]})",
        )
    if existing.body == body:
        return CommentOutcome("updated", existing.html_url, "comment already up to date")
    made = client.update_comment(repo, existing.id, body)
    return CommentOutcome("updated", made.html_url or existing.html_url, "updated in place")


def _is_newer(
    client: GitHubClient,
    repo: str,
    pr: int,
    old_sha: str,
    new_sha: str,
    old_time: str,
    new_time: str | None,
) -> bool:
    from pepr_gate.publish.github.api import GitHubError

    try:
        head = ((client.get_pull(repo, pr).get("head") or {}).get("sha")) or ""
        if head.lower() == new_sha.lower():
            return True
        if head.lower() == old_sha.lower():
            return False
        status = client.compare_status(repo, old_sha, new_sha)
        if status in ("ahead", "identical"):
            return True
        if status == "behind":
            return False
    except GitHubError:
        pass
    # Diverged (a force push) or unknown: the later run wins.
    new_at, old_at = _parse_time(new_time), _parse_time(old_time)
    return new_at is not None and (old_at is None or new_at > old_at)


def _parse_time(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    try:
        parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
