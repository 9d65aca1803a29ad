"""Commenting on a pull request from a check result (`pepr-gate comment`).

The second half of the fork-safe pattern: a `workflow_run` job comments from the result
an unprivileged job uploaded. The result is re-rendered, never posted as stored text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pepr_gate.publish.github.writers import CommentOutcome
from pepr_gate.records import CheckResult


@dataclass(frozen=True)
class Moved:
    """The pull request's head is no longer the commit the result is for: nothing posted."""

    head: str


def comment_from_result(result: CheckResult, repo: str, number: int, *, mode: str,
                        expect_head: str | None, env: Mapping[str, str]) -> CommentOutcome | Moved:
    """Create or update the PR's one pepr-gate comment (GITHUB_TOKEN, GITHUB_API_URL from
    `env`); with `expect_head`, only while the PR still points at that commit. The comment
    links the run that measured (a `workflow_run` event names it)."""
    from pepr_gate.publish.github.api import GitHubClient
    from pepr_gate.publish.github.context import default_api_url, measuring_run_url
    from pepr_gate.publish.github.writers import compose_body, upsert_comment
    from pepr_gate.publish.markdown import comment_marker, render_markdown

    api_url = env.get("GITHUB_API_URL") or default_api_url(env.get("GITHUB_SERVER_URL", ""))
    marker = comment_marker(result.config_path or "pepr.toml")
    body = compose_body(render_markdown(result, run_url=measuring_run_url(env)), marker=marker,
                        head_sha=result.head_sha, verdict=result.verdict)
    with GitHubClient(api_url, env.get("GITHUB_TOKEN", "")) as client:
        if expect_head:
            head = ((client.get_pull(repo, number).get("head") or {}).get("sha") or "").lower()
            if head != expect_head:
                return Moved(head)
        return upsert_comment(client, repo, number, body, marker=marker, mode=mode,
                              verdict=result.verdict, head_sha=result.head_sha,
                              created_at=result.created_at.isoformat())
