"""The few GitHub REST calls pepr-gate makes, with retries, and the token kept secret.

Only issue comments (list, create, update), one pull request and one comparison are
used. Server errors, timeouts and rate limits are retried with backoff (tenacity), within
a retry budget of 60 s per client over all its calls; 403 and 404 become
`GitHubAccessError`, which callers turn into a notice (a fork PR's read-only token is the
usual cause). The token is sent only to the API host and scrubbed from every
message this module produces.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from pepr_gate import __version__
from pepr_gate.errors import PeprError

RETRY_BUDGET_S = 60.0


class GitHubError(PeprError):
    """A GitHub API call failed after retries."""


class GitHubReplyError(GitHubError):
    """GitHub (or what answers at GITHUB_API_URL) sent a redirect or a malformed reply: a
    setup problem, not an outage, so `ci` exits 2 for it (after publishing the result)."""


class _Retry(Exception):
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
        if not isinstance(data, dict) or not _is_id(data.get("id")):
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
        retry_budget_s: float = RETRY_BUDGET_S,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self._token = token
        self._origin = _origin(self.api_url)
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.max_wait_s = max_wait_s
        # Seconds this client may lose to failing calls (their time and the waits between
        # retries), over all its calls together: one `ci` step uses one client.
        self.retry_budget_s = retry_budget_s
        self._spent = 0.0
        self._last = "no failure yet"
        self._timeout_s = timeout_s
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
            for item in _json(response, list, "GET", url):
                yield Comment.from_api(item)
            url = self._next_link(response)

    def create_comment(self, repo: str, number: int, body: str) -> Comment:
        url = f"{self.api_url}/repos/{repo}/issues/{number}/comments"
        response = self._request("POST", url, json={"body": body})
        return Comment.from_api(_json(response, dict, "POST", url))

    def update_comment(self, repo: str, comment_id: int, body: str) -> Comment:
        url = f"{self.api_url}/repos/{repo}/issues/comments/{comment_id}"
        response = self._request("PATCH", url, json={"body": body})
        return Comment.from_api(_json(response, dict, "PATCH", url))

    def get_pull(self, repo: str, number: int) -> dict[str, Any]:
        url = f"{self.api_url}/repos/{repo}/pulls/{number}"
        data: dict[str, Any] = _json(self._request("GET", url), dict, "GET", url)
        return data

    def compare_status(self, repo: str, base: str, head: str) -> str:
        """'ahead' when `head` descends from `base`, else 'behind', 'identical' or 'diverged'."""
        url = f"{self.api_url}/repos/{repo}/compare/{base}...{head}?per_page=1"
        status = _json(self._request("GET", url), dict, "GET", url).get("status", "")
        return str(status)

    def iter_issues(self, repo: str, label: str) -> Iterator[dict[str, Any]]:
        """Open and closed issues with `label` (pull requests, which the API mixes in, left
        out), every page."""
        url: str | None = (f"{self.api_url}/repos/{repo}/issues?state=all&per_page=100"
                           f"&labels={quote(label)}")
        while url:
            response = self._request("GET", url)
            for item in _json(response, list, "GET", url):
                if isinstance(item, dict) and "pull_request" not in item:
                    yield item
            url = self._next_link(response)

    def create_issue(self, repo: str, title: str, body: str,
                     labels: list[str]) -> dict[str, Any]:
        url = f"{self.api_url}/repos/{repo}/issues"
        payload = {"title": title, "body": body, "labels": labels}
        data: dict[str, Any] = _json(self._request("POST", url, json=payload), dict, "POST", url)
        return data

    def update_issue(self, repo: str, number: int, title: str, body: str) -> dict[str, Any]:
        url = f"{self.api_url}/repos/{repo}/issues/{number}"
        payload = {"title": title, "body": body}
        data: dict[str, Any] = _json(self._request("PATCH", url, json=payload), dict, "PATCH",
                                     url)
        return data

    # -- transport -------------------------------------------------------------------
    def _next_link(self, response: httpx.Response) -> str | None:
        url = response.links.get("next", {}).get("url")
        if not url:
            return None
        # The token goes only to the API host it was given for.
        if _origin(url) != self._origin:
            raise GitHubError(f"GitHub pagination pointed at another host: {_origin(url)}")
        return url

    def _request(self, method: str, url: str, json: Any = None) -> httpx.Response:
        """One API call; server errors, timeouts and rate limits are retried (tenacity)
        while this client's retry budget lasts: an API that is down costs a `ci` step at
        most `retry_budget_s` in all, however many calls it makes."""
        from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, stop_any

        if self._budget_left() <= 0:
            raise GitHubError(
                self._scrub(f"GitHub API {method} {_path(url)} not tried: earlier calls used "
                            f"the {self.retry_budget_s:g} s allowed for retries ({self._last})"),
                hint="GitHub's API was down or rate-limited; re-run the job later")

        from tenacity.stop import stop_base

        client = self

        class _OverBudget(stop_base):
            def __call__(self, state: Any) -> bool:
                return bool(client._spent + (state.upcoming_sleep or 0.0)
                            > client.retry_budget_s)

        retrying = Retrying(
            retry=retry_if_exception_type(_Retry),
            stop=stop_any(stop_after_attempt(self.max_attempts), _OverBudget()),
            wait=self._wait_for,
            sleep=self._sleep_counted,
            reraise=True,
        )
        try:
            response: httpx.Response = retrying(self._attempt, method, url, json)
        except _Retry as exc:
            if exc.rate_limited:
                raise GitHubError(
                    self._scrub(f"GitHub rate limit on {method} {_path(url)}: {exc.detail}"),
                    hint="wait and re-run the job; many jobs commenting at once trip "
                    "GitHub's secondary rate limit",
                ) from None
            raise GitHubError(
                self._scrub(f"GitHub API {method} {_path(url)} failed: {exc.detail}")
            ) from None
        return response

    def _attempt(self, method: str, url: str, json: Any) -> httpx.Response:
        t0 = time.monotonic()
        try:
            response = self._http.request(
                method, url, json=json, timeout=min(self._timeout_s, self._budget_left())
            )
        except httpx.TransportError as exc:
            self._spent += time.monotonic() - t0
            self._last = f"{type(exc).__name__}: {exc}"
            raise _Retry(self._last, None) from None
        status = response.status_code
        if status < 300:
            return response
        if status < 400:
            where = response.headers.get("location", "")
            raise GitHubReplyError(
                self._scrub(f"GitHub answered {status} (a redirect"
                            f"{' to ' + _origin(where)[1] if where else ''}) to {method} "
                            f"{_path(url)}; pepr-gate does not follow redirects with its token"),
                hint="set GITHUB_API_URL to the REST API's own address (for GitHub "
                "Enterprise Server: https://HOST/api/v3)")
        message = _api_message(response)
        limited, wait = self._rate_limit(response, message)
        if limited or status >= 500:
            self._spent += time.monotonic() - t0
            self._last = f"HTTP {status}: {message}"
            if wait is not None and wait > self._budget_left():
                raise GitHubError(
                    self._scrub(f"GitHub rate limit on {method} {_path(url)}: {message} "
                                f"(GitHub asks to wait {wait:.0f} s)"),
                    hint="wait and re-run the job; many jobs commenting at once trip "
                    "GitHub's secondary rate limit",
                )
            raise _Retry(self._last, wait, rate_limited=limited)
        if status in (403, 404):
            raise GitHubAccessError(
                self._scrub(f"GitHub answered {status} to {method} {_path(url)}: {message}"),
                status=status,
                hint="a pull request from a fork gets a read-only token; otherwise give "
                "the workflow `permissions: pull-requests: write`",
            )
        raise GitHubError(self._scrub(f"GitHub API {method} {_path(url)} failed: "
                                      f"HTTP {status}: {message}"))

    def _wait_for(self, state: Any) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        asked = exc.wait if isinstance(exc, _Retry) else None
        if asked is not None:
            return float(asked)
        return float(min(self.backoff_s * 2 ** (state.attempt_number - 1), self.max_wait_s))

    def _sleep_counted(self, seconds: float) -> None:
        self._spent += seconds
        self._sleep(seconds)

    def _budget_left(self) -> float:
        return self.retry_budget_s - self._spent

    def _rate_limit(self, response: httpx.Response, message: str) -> tuple[bool, float | None]:
        """(rate limited?, the seconds GitHub asks to wait or None when it names none)."""
        if response.status_code not in (403, 429):
            return False, None
        retry_after = response.headers.get("retry-after")
        if retry_after is not None:
            return True, _retry_after_s(retry_after)
        if response.headers.get("x-ratelimit-remaining") == "0":
            reset = response.headers.get("x-ratelimit-reset", "")
            if reset.isdigit():
                return True, max(0.0, int(reset) - time.time())
        limited = "secondary rate limit" in message.lower() or response.status_code == 429
        return limited, None

    def _scrub(self, text: str) -> str:
        return redact(text, self._token)


def _retry_after_s(value: str) -> float | None:
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


def _is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _json(response: httpx.Response, kind: type, method: str, url: str) -> Any:
    """The reply's JSON when it has the shape GitHub documents; else a GitHubError (exit 2)."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, kind):
        what = "a list" if kind is list else "an object"
        got = type(data).__name__ if data is not None else "no JSON"
        raise GitHubReplyError(
            f"GitHub answered {response.status_code} to {method} {_path(url)} with {got}, "
            f"not {what}",
            hint="check GITHUB_API_URL (a proxy or a web page answers differently from "
            "the REST API); re-run if GitHub had an outage")
    return data


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
