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
from typing import Any
from urllib.parse import quote

import httpx

from pepr_gate import __version__
from pepr_gate.publish.github.replies import (
    Comment as Comment,
)
from pepr_gate.publish.github.replies import (
    GitHubAccessError as GitHubAccessError,
)
from pepr_gate.publish.github.replies import (
    GitHubError as GitHubError,
)
from pepr_gate.publish.github.replies import (
    GitHubReplyError as GitHubReplyError,
)
from pepr_gate.publish.github.replies import (
    RetryableFailure,
    api_message,
    reply_json,
    retry_after_s,
    url_origin,
    url_path,
)
from pepr_gate.publish.github.replies import (
    redact as redact,
)

RETRY_BUDGET_S = 60.0


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
        self._origin = url_origin(self.api_url)
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
            for item in reply_json(response, list, "GET", url):
                yield Comment.from_api(item)
            url = self._next_link(response)

    def create_comment(self, repo: str, number: int, body: str) -> Comment:
        url = f"{self.api_url}/repos/{repo}/issues/{number}/comments"
        response = self._request("POST", url, json={"body": body})
        return Comment.from_api(reply_json(response, dict, "POST", url))

    def update_comment(self, repo: str, comment_id: int, body: str) -> Comment:
        url = f"{self.api_url}/repos/{repo}/issues/comments/{comment_id}"
        response = self._request("PATCH", url, json={"body": body})
        return Comment.from_api(reply_json(response, dict, "PATCH", url))

    def get_pull(self, repo: str, number: int) -> dict[str, Any]:
        url = f"{self.api_url}/repos/{repo}/pulls/{number}"
        data: dict[str, Any] = reply_json(self._request("GET", url), dict, "GET", url)
        return data

    def compare_status(self, repo: str, base: str, head: str) -> str:
        """'ahead' when `head` descends from `base`, else 'behind', 'identical' or 'diverged'."""
        url = f"{self.api_url}/repos/{repo}/compare/{base}...{head}?per_page=1"
        status = reply_json(self._request("GET", url), dict, "GET", url).get("status", "")
        return str(status)

    def iter_issues(self, repo: str, label: str) -> Iterator[dict[str, Any]]:
        """Open and closed issues with `label` (pull requests, which the API mixes in, left
        out), every page."""
        url: str | None = (f"{self.api_url}/repos/{repo}/issues?state=all&per_page=100"
                           f"&labels={quote(label)}")
        while url:
            response = self._request("GET", url)
            for item in reply_json(response, list, "GET", url):
                if isinstance(item, dict) and "pull_request" not in item:
                    yield item
            url = self._next_link(response)

    def create_issue(self, repo: str, title: str, body: str,
                     labels: list[str]) -> dict[str, Any]:
        url = f"{self.api_url}/repos/{repo}/issues"
        payload = {"title": title, "body": body, "labels": labels}
        data: dict[str, Any] = reply_json(self._request("POST", url, json=payload), dict,
                                          "POST", url)
        return data

    def update_issue(self, repo: str, number: int, title: str, body: str) -> dict[str, Any]:
        url = f"{self.api_url}/repos/{repo}/issues/{number}"
        payload = {"title": title, "body": body}
        data: dict[str, Any] = reply_json(self._request("PATCH", url, json=payload), dict, "PATCH",
                                     url)
        return data

    # -- transport -------------------------------------------------------------------
    def _next_link(self, response: httpx.Response) -> str | None:
        url = response.links.get("next", {}).get("url")
        if not url:
            return None
        # The token goes only to the API host it was given for.
        if url_origin(url) != self._origin:
            raise GitHubError(f"GitHub pagination pointed at another host: {url_origin(url)}")
        return url

    def _request(self, method: str, url: str, json: Any = None) -> httpx.Response:
        """One API call; server errors, timeouts and rate limits are retried (tenacity)
        while this client's retry budget lasts: an API that is down costs a `ci` step at
        most `retry_budget_s` in all, however many calls it makes."""
        from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, stop_any

        if self._budget_left() <= 0:
            raise GitHubError(
                self._scrub(f"GitHub API {method} {url_path(url)} not tried: earlier calls used "
                            f"the {self.retry_budget_s:g} s allowed for retries ({self._last})"),
                hint="GitHub's API was down or rate-limited; re-run the job later")

        from tenacity.stop import stop_base

        client = self

        class _OverBudget(stop_base):
            def __call__(self, state: Any) -> bool:
                return bool(client._spent + (state.upcoming_sleep or 0.0)
                            > client.retry_budget_s)

        retrying = Retrying(
            retry=retry_if_exception_type(RetryableFailure),
            stop=stop_any(stop_after_attempt(self.max_attempts), _OverBudget()),
            wait=self._wait_for,
            sleep=self._sleep_counted,
            reraise=True,
        )
        try:
            response: httpx.Response = retrying(self._attempt, method, url, json)
        except RetryableFailure as exc:
            if exc.rate_limited:
                raise GitHubError(
                    self._scrub(f"GitHub rate limit on {method} {url_path(url)}: {exc.detail}"),
                    hint="wait and re-run the job; many jobs commenting at once trip "
                    "GitHub's secondary rate limit",
                ) from None
            raise GitHubError(
                self._scrub(f"GitHub API {method} {url_path(url)} failed: {exc.detail}")
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
            raise RetryableFailure(self._last, None) from None
        status = response.status_code
        if status < 300:
            return response
        if status < 400:
            where = response.headers.get("location", "")
            raise GitHubReplyError(
                self._scrub(f"GitHub answered {status} (a redirect"
                            f"{' to ' + url_origin(where)[1] if where else ''}) to {method} "
                            f"{url_path(url)}; pepr-gate does not follow redirects with its token"),
                hint="set GITHUB_API_URL to the REST API's own address (for GitHub "
                "Enterprise Server: https://HOST/api/v3)")
        message = api_message(response)
        limited, wait = self._rate_limit(response, message)
        if limited or status >= 500:
            self._spent += time.monotonic() - t0
            self._last = f"HTTP {status}: {message}"
            if wait is not None and wait > self._budget_left():
                raise GitHubError(
                    self._scrub(f"GitHub rate limit on {method} {url_path(url)}: {message} "
                                f"(GitHub asks to wait {wait:.0f} s)"),
                    hint="wait and re-run the job; many jobs commenting at once trip "
                    "GitHub's secondary rate limit",
                )
            raise RetryableFailure(self._last, wait, rate_limited=limited)
        if status in (403, 404):
            raise GitHubAccessError(
                self._scrub(f"GitHub answered {status} to {method} {url_path(url)}: {message}"),
                status=status,
                hint="a pull request from a fork gets a read-only token; otherwise give "
                "the workflow `permissions: pull-requests: write`",
            )
        raise GitHubError(self._scrub(f"GitHub API {method} {url_path(url)} failed: "
                                      f"HTTP {status}: {message}"))

    def _wait_for(self, state: Any) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        asked = exc.wait if isinstance(exc, RetryableFailure) else None
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
            return True, retry_after_s(retry_after)
        if response.headers.get("x-ratelimit-remaining") == "0":
            reset = response.headers.get("x-ratelimit-reset", "")
            if reset.isdigit():
                return True, max(0.0, int(reset) - time.time())
        limited = "secondary rate limit" in message.lower() or response.status_code == 429
        return limited, None

    def _scrub(self, text: str) -> str:
        return redact(text, self._token)
