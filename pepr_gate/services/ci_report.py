"""What `pepr-gate ci` tells the user about a check: the PR comment, the job summary, the
step outputs and the annotation's headline."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pepr_gate.errors import PeprError
from pepr_gate.publish.github import MAX_SUMMARY_BYTES
from pepr_gate.publish.github import writers as publish
from pepr_gate.publish.github.context import EventContext
from pepr_gate.publish.text import escape_md as md_text
from pepr_gate.services.ci_options import CiOptions

if TYPE_CHECKING:
    from pepr_gate.publish.github.api import GitHubClient
    from pepr_gate.records import CheckResult


@dataclass
class Published:
    notices: list[str] = field(default_factory=list)
    comment_url: str | None = None
    error: PeprError | None = None  # raised once the result is published (exit 2)


def post_comment(
    ctx: EventContext,
    result: CheckResult,
    opts: CiOptions,
    client: GitHubClient | None,
    out: Published,
) -> None:
    if opts.comment == "never":
        return
    if ctx.fork and ctx.event_name != "pull_request_target":  # _target's token can write
        out.notices.append(
            f"pull request from a fork ({md_text(ctx.head_repo or 'deleted repository')}): its "
            "token is read-only, so no comment was posted. Use the two-workflow pattern "
            "(`pepr-gate comment --from .pepr/ci/check.json`) to comment from the artifact."
        )
        return
    if client is None:
        out.notices.append("no GitHub token (input `github-token`): no comment was posted")
        return
    from pepr_gate.publish.github.api import GitHubAccessError, GitHubError, GitHubReplyError
    from pepr_gate.publish.markdown import comment_marker, render_markdown

    marker = comment_marker(result.config_path or opts.config)
    body = publish.compose_body(
        render_markdown(result, run_url=ctx.run_url),
        marker=marker,
        head_sha=ctx.head_sha,
        verdict=result.verdict,
    )
    try:
        done = publish.upsert_comment(
            client,
            ctx.repo,
            ctx.pr_number or 0,
            body,
            marker=marker,
            mode=opts.comment,
            verdict=result.verdict,
            head_sha=ctx.head_sha,
            created_at=result.created_at.isoformat(),
        )
    except GitHubAccessError as exc:
        out.notices.append(
            f"no comment: GitHub answered {exc.status} (read-only token or missing "
            "`pull-requests: write` permission); the check result stands"
        )
        return
    except GitHubError as exc:
        out.notices.append(f"no comment: {md_text(exc.message)}; the check result stands")
        if isinstance(exc, GitHubReplyError):
            out.error = exc
        return
    if done.action == "skipped":  # the output `comment-url` names a comment posted now
        out.notices.append(f"comment not changed: {md_text(done.reason)}")
    else:
        out.comment_url = done.url


def summary_markdown(ctx: EventContext, result: CheckResult, out: Published) -> str:
    from pepr_gate.publish.markdown import render_markdown

    text = render_markdown(result, max_chars=MAX_SUMMARY_BYTES // 2,
                           candidate="this commit" if ctx.kind == "push" else "this PR")
    # Blocks are separated by blank lines: two `> [!NOTE]` quotes on adjacent lines
    # would merge into one alert. The branch is escaped text, never in a code span
    # (where the escapes would show as backslashes).
    blocks = [text.rstrip()]
    if ctx.kind == "push":
        blocks.append(
            f"_Push to {md_text(ctx.branch or '')}: compared with this branch's own history._"
        )
    if out.comment_url:
        blocks.append(f"[Pull request comment]({out.comment_url})")
    for notice in out.notices:
        blocks.append(f"> [!NOTE]\n> {notice}")
    if ctx.run_url:
        blocks.append(f"[Workflow run]({ctx.run_url})")
    return "\n\n".join(blocks) + "\n"


def headline(result: CheckResult) -> str:
    reasons = "; ".join(r.rstrip(". ") for r in result.reasons) or "no reason given"
    return f"{result.variant} {result.verdict}: {reasons}"


def outputs(
    result: CheckResult, report: Path, records: list[Path], comment_url: str | None
) -> dict[str, str | None]:
    cand, base = result.candidate, result.baseline
    return {
        "verdict": result.verdict,
        "pepr": _num(cand.pepr),
        "baseline-pepr": _num(base.pepr if base else None),
        "pepr-change": _num(result.pepr_change),
        "performance": _num(cand.performance),
        "energy-kwh": _num(cand.energy_kwh),
        "report-path": str(report),
        "record-path": "\n".join(str(p) for p in records),
        "comment-url": comment_url or "",
        "repeats-needed": "" if result.repeats_needed is None else str(result.repeats_needed),
    }


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"
