"""What GitHub answers, read strictly: the error types, a comment, `Retry-After`, the
reply's JSON shape and its message; and `redact`, which keeps the token out of text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from pepr_gate.errors import PeprError


class GitHubError(PeprError):
    """A GitHub API call failed after retries."""


class GitHubReplyError(GitHubError):
    """GitHub (or what answers at GITHUB_API_URL) sent a redirect or a malformed reply: a
    setup problem, not an outage, so `ci` exits 2 for it (after publishing the result)."""


class RetryableFailure(Exception):
    """A failed attempt worth retrying: server error, timeout, rate limit."""

    def __init__(self, detail: str, wait: float | None, *, rate_limited: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.wait = wait
        self.rate_limited = rate_limited


class GitHubAccessError(GitHubError):
    """403 or 404: the token may not read or write here (fork PR, missing permission)."""

    def __init__(self, message: str, *, status: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


@dataclass(frozen=True)
class Comment:
    id: int
    body: str
    html_url: str
    created_at: str
    updated_at: str
    user: str | None = None

    @classmethod
    def from_api(cls, data: Any) -> Comment:
        if not isinstance(data, dict) or not is_id(data.get("id")):
            raise GitHubReplyError(
                f"GitHub sent a comment without a numeric id: {str(data)[:100]!r}",
                hint="check GITHUB_API_URL: it must be the REST API's address")
        return cls(
            id=int(data["id"]),
            body=data.get("body") or "",
            html_url=data.get("html_url") or "",
            created_at=data.get("created_at") or "",
            updated_at=data.get("updated_at") or data.get("created_at") or "",
            user=(data.get("user") or {}).get("login"),
        )


def redact(text: str, token: str | None) -> str:
    if token:
        text = text.replace(token, "***")
    return text


def retry_after_s(value: str) -> float | None:
    """`Retry-After` in either form RFC 9110 allows: delay seconds or an HTTP-date."""
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    when = when.replace(tzinfo=when.tzinfo or timezone.utc)  # "-0000": UTC too
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def reply_json(response: httpx.Response, kind: type, method: str, url: str) -> Any:
    """The reply's JSON when it has the shape GitHub documents; else a GitHubError (exit 2)."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, kind):
        what = "a list" if kind is list else "an object"
        got = type(data).__name__ if data is not None else "no JSON"
        raise GitHubReplyError(
            f"GitHub answered {response.status_code} to {method} {url_path(url)} with {got}, "
            f"not {what}",
            hint="check GITHUB_API_URL (a proxy or a web page answers differently from "
            "the REST API); re-run if GitHub had an outage")
    return data


def url_origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def url_path(url: str) -> str:
    return urlsplit(url).path


def api_message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:200].strip() or response.reason_phrase
    if isinstance(data, dict):
        text = str(data.get("message", ""))
        errors = data.get("errors")
        if errors:
            text += f" ({errors})"
        return text[:500]
    return str(data)[:200]
