"""The few GitHub REST calls pepr-gate makes, with retries, and the token kept secret.

Only issue comments (list, create, update), one pull request and one comparison are
used. Server errors and secondary rate limits are retried with backoff; 403 and 404
become `GitHubAccessError`, which callers turn into a notice (a fork PR's read-only token
is the usual cause). The token is sent only to the API host and scrubbed from every
message this module produces.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from pepr_gate import __version__
from pepr_gate.errors import PeprError

_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


class GitHubError(PeprError):
    """A GitHub API call failed after retries."""


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
    def from_api(cls, data: dict[str, Any]) -> Comment:
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


class GitHubClient:
    def __init__(
        self,
        api_url: str,
        token: str,
        *,
        timeout_s: float = 30.0,
        max_attempts: int = 4,
        backoff_s: float = 1.0,
        max_wait_s: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self._token = token
        self._origin = _origin(self.api_url)
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.max_wait_s = max_wait_s
        self._sleep = sleep
        self._http = httpx.Client(
            timeout=timeout_s,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": f"pepr-gate/{__version__}",
            },
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GitHubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- endpoints -------------------------------------------------------------------
    def iter_comments(self, repo: str, number: int) -> Iterator[Comment]:
        url: str | None = f"{self.api_url}/repos/{repo}/issues/{number}/comments?per_page=100"
        while url:
            response = self._request("GET", url)
            for item in response.json():
                yield Comment.from_api(item)
            url = self._next_link(response)

    def create_comment(self, repo: str, number: int, body: str) -> Comment:
        url = f"{self.api_url}/repos/{repo}/issues/{number}/comments"
        return Comment.from_api(self._request("POST", url, json={"body": body}).json())

    def update_comment(self, repo: str, comment_id: int, body: str) -> Comment:
        url = f"{self.api_url}/repos/{repo}/issues/comments/{comment_id}"
        return Comment.from_api(self._request("PATCH", url, json={"body": body}).json())

    def get_pull(self, repo: str, number: int) -> dict[str, Any]:
        data: dict[str, Any] = self._request(
            "GET", f"{self.api_url}/repos/{repo}/pulls/{number}"
        ).json()
        return data

    def compare_status(self, repo: str, base: str, head: str) -> str:
        """'ahead' when `head` descends from `base`, else 'behind', 'identical' or 'diverged'."""
        url = f"{self.api_url}/repos/{repo}/compare/{base}...{head}?per_page=1"
        status: str = self._request("GET", url).json().get("status", "")
        return status

    # -- transport -------------------------------------------------------------------
    def _next_link(self, response: httpx.Response) -> str | None:
        match = _LINK_NEXT.search(response.headers.get("link", ""))
        if not match:
            return None
        url = match.group(1)
        # The token goes only to the API host it was given for.
        if _origin(url) != self._origin:
            raise GitHubError(f"GitHub pagination pointed at another host: {_origin(url)}")
        return url

    def _request(self, method: str, url: str, json: Any = None) -> httpx.Response:
        last = ""
        for attempt in range(1, self.max_attempts + 1):
            try:
                response = self._http.request(method, url, json=json)
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}"
                if attempt < self.max_attempts:
                    self._sleep(self._backoff(attempt))
                    continue
                break
            status = response.status_code
            if status < 400:
                return response
            message = _api_message(response)
            last = f"HTTP {status}: {message}"
            wait = self._rate_limit_wait(response, message)
            if wait is not None:
                if wait > self.max_wait_s or attempt == self.max_attempts:
                    raise GitHubError(
                        self._scrub(f"GitHub rate limit on {method} {_path(url)}: {message}"),
                        hint="wait and re-run the job; many jobs commenting at once trip "
                        "GitHub's secondary rate limit",
                    )
                self._sleep(wait)
                continue
            if status >= 500 and attempt < self.max_attempts:
                self._sleep(self._backoff(attempt))
                continue
            if status in (403, 404):
                raise GitHubAccessError(
                    self._scrub(f"GitHub answered {status} to {method} {_path(url)}: {message}"),
                    status=status,
                    hint="a pull request from a fork gets a read-only token; otherwise give "
                    "the workflow `permissions: pull-requests: write`",
                )
            break
        raise GitHubError(self._scrub(f"GitHub API {method} {_path(url)} failed: {last}"))

    def _backoff(self, attempt: int) -> float:
        return float(min(self.backoff_s * 2 ** (attempt - 1), self.max_wait_s))

    def _rate_limit_wait(self, response: httpx.Response, message: str) -> float | None:
        if response.status_code not in (403, 429):
            return None
        retry_after = response.headers.get("retry-after")
        if retry_after is not None:
            try:
                return max(0.0, float(retry_after))
            except ValueError:
                return self.max_wait_s
        if response.headers.get("x-ratelimit-remaining") == "0":
            reset = response.headers.get("x-ratelimit-reset", "")
            if reset.isdigit():
                return max(0.0, int(reset) - time.time())
        if "secondary rate limit" in message.lower() or response.status_code == 429:
            # GitHub asks for at least a minute when it gives no Retry-After.
            return min(60.0, self.max_wait_s)
        return None

    def _scrub(self, text: str) -> str:
        return redact(text, self._token)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _path(url: str) -> str:
    return urlsplit(url).path


def _api_message(response: httpx.Response) -> str:
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
