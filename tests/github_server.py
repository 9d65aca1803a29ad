"""A real local HTTP server that answers like GitHub's REST API for what pepr-gate calls.

Endpoints (under a configurable prefix, `/api/v3` by default, as on GitHub Enterprise
Server): list/create issue comments (with `per_page`/`page` and `Link` headers), update a
comment, list/create/update issues, get a pull request, compare two commits. Switches
reproduce GitHub's failure modes: a read-only token (403 on writes), a body over 65,536
characters (422), a 5xx once, a secondary rate limit once (403 + Retry-After), or one
fixed answer to everything.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

MAX_BODY = 65_536


@dataclass
class FakeGitHub:
    prefix: str = "/api/v3"
    token: str = "ghs_testtoken0123456789"
    read_only: bool = False
    fail_once: set[str] = field(default_factory=set)  # "GET" / "POST" / "PATCH": one 502 each
    rate_limit_once: set[str] = field(default_factory=set)  # one secondary rate limit each
    # (status, JSON body, headers) for every request: an outage, a proxy, a redirect.
    answer_always: tuple[int, Any, dict[str, str]] | None = None
    comments: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)
    pulls: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    history: list[str] = field(default_factory=list)  # commit shas, oldest first
    issues: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # repo -> issues
    log: list[tuple[str, str, int]] = field(default_factory=list)  # method, path+query, status
    _next_id: int = 1000
    _clock: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> FakeGitHub:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

            def do_PATCH(self) -> None:
                fake._handle(self, "PATCH")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def origin(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        return self.origin + self.prefix

    # -- seeding -----------------------------------------------------------------------
    def add_comment(
        self, repo: str, number: int, body: str, user: str = "someone"
    ) -> dict[str, Any]:
        with self._lock:
            return self._add(repo, number, body, user)

    def add_pull(
        self,
        repo: str,
        number: int,
        *,
        head_sha: str,
        head_ref: str = "feature",
        base_ref: str = "main",
        head_repo: str | None = None,
    ) -> None:
        self.pulls[(repo, number)] = {
            "number": number,
            "head": {
                "ref": head_ref,
                "sha": head_sha,
                "label": f"{(head_repo or repo).split('/')[0]}:{head_ref}",
                "repo": {"full_name": head_repo or repo},
            },
            "base": {"ref": base_ref, "sha": "b" * 40, "repo": {"full_name": repo}},
        }

    def _add(self, repo: str, number: int, body: str, user: str) -> dict[str, Any]:
        self._next_id += 1
        self._clock += 1
        stamp = f"2024-05-01T10:{self._clock // 60:02d}:{self._clock % 60:02d}Z"
        item = {
            "id": self._next_id,
            "body": body,
            "user": {"login": user},
            "created_at": stamp,
            "updated_at": stamp,
            "html_url": f"https://github.example/{repo}/pull/{number}#issuecomment-{self._next_id}",
        }
        self.comments.setdefault((repo, number), []).append(item)
        return item

    # -- request handling --------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(h.path)
        status, payload, headers = self._route(h, method, parts.path, parse_qs(parts.query))
        self.log.append((method, h.path, status))
        data = json.dumps(payload).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json; charset=utf-8")
        h.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            h.send_header(key, value)
        h.end_headers()
        h.wfile.write(data)

    def _route(
        self, h: BaseHTTPRequestHandler, method: str, path: str, query: dict[str, list[str]]
    ) -> tuple[int, Any, dict[str, str]]:
        if h.headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {"message": "Bad credentials"}, {}
        if self.answer_always is not None:
            return self.answer_always
        if method in self.fail_once:
            self.fail_once.discard(method)
            return 502, {"message": "Server Error"}, {}
        if method in self.rate_limit_once:
            self.rate_limit_once.discard(method)
            return (
                403,
                {"message": "You have exceeded a secondary rate limit."},
                {"Retry-After": "0"},
            )
        if not path.startswith(self.prefix):
            return 404, {"message": "Not Found"}, {}
        path = path[len(self.prefix) :]
        body: dict[str, Any] = {}
        if method in ("POST", "PATCH"):
            length = int(h.headers.get("Content-Length", "0"))
            body = json.loads(h.rfile.read(length) or b"{}")
            if self.read_only:
                return 403, {"message": "Resource not accessible by integration"}, {}
        with self._lock:
            return self._dispatch(method, path, query, body)

    def _dispatch(
        self, method: str, path: str, query: dict[str, list[str]], body: dict[str, Any]
    ) -> tuple[int, Any, dict[str, str]]:
        m = re.fullmatch(r"/repos/([^/]+/[^/]+)/issues/(\d+)/comments", path)
        if m and method == "GET":
            return self._list(m.group(1), int(m.group(2)), query)
        if m and method == "POST":
            if len(body.get("body", "")) > MAX_BODY:
                return 422, _too_long(), {}
            return (
                201,
                self._add(m.group(1), int(m.group(2)), body["body"], "github-actions[bot]"),
                {},
            )
        m = re.fullmatch(r"/repos/([^/]+/[^/]+)/issues/comments/(\d+)", path)
        if m and method == "PATCH":
            if len(body.get("body", "")) > MAX_BODY:
                return 422, _too_long(), {}
            for items in self.comments.values():
                for item in items:
                    if item["id"] == int(m.group(2)):
                        self._clock += 1
                        item["body"] = body["body"]
                        item["updated_at"] = (
                            f"2024-05-01T11:{self._clock // 60:02d}:{self._clock % 60:02d}Z"
                        )
                        return 200, item, {}
            return 404, {"message": "Not Found"}, {}
        answer = self._issues(method, path, query, body)
        if answer is not None:
            return answer
        m = re.fullmatch(r"/repos/([^/]+/[^/]+)/pulls/(\d+)", path)
        if m and method == "GET":
            pull = self.pulls.get((m.group(1), int(m.group(2))))
            return (200, pull, {}) if pull else (404, {"message": "Not Found"}, {})
        m = re.fullmatch(r"/repos/([^/]+/[^/]+)/compare/([0-9a-f]+)\.\.\.([0-9a-f]+)", path)
        if m and method == "GET":
            base, head = m.group(2), m.group(3)
            if base not in self.history or head not in self.history:
                return 404, {"message": "Not Found"}, {}
            i, j = self.history.index(base), self.history.index(head)
            status = "identical" if i == j else ("ahead" if j > i else "behind")
            return 200, {"status": status}, {}
        return 404, {"message": "Not Found"}, {}

    def _issues(
        self, method: str, path: str, query: dict[str, list[str]], body: dict[str, Any]
    ) -> tuple[int, Any, dict[str, str]] | None:
        return _issue_routes(self, method, path, query, body)

    def _list(
        self, repo: str, number: int, query: dict[str, list[str]]
    ) -> tuple[int, Any, dict[str, str]]:
        per_page = min(int(query.get("per_page", ["30"])[0]), 100)
        page = int(query.get("page", ["1"])[0])
        items = self.comments.get((repo, number), [])
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        base = f"{self.api_url}/repos/{repo}/issues/{number}/comments"
        links = []
        if page < last:
            links.append(f'<{base}?per_page={per_page}&page={page + 1}>; rel="next"')
            links.append(f'<{base}?per_page={per_page}&page={last}>; rel="last"')
        if page > 1:
            links.append(f'<{base}?per_page={per_page}&page=1>; rel="first"')
        return 200, chunk, ({"Link": ", ".join(links)} if links else {})


def _issue_routes(
    fake: FakeGitHub, method: str, path: str, query: dict[str, list[str]], body: dict[str, Any]
) -> tuple[int, Any, dict[str, str]] | None:
    """Issues: list (labels filter, state=all, pages of `per_page`), create, update."""
    m = re.fullmatch(r"/repos/([^/]+/[^/]+)/issues", path)
    if m and method == "GET":
        wanted = set(filter(None, query.get("labels", [""])[0].split(",")))
        items = [i for i in fake.issues.get(m.group(1), [])
                 if wanted <= {label["name"] for label in i["labels"]}]
        per_page = min(int(query.get("per_page", ["30"])[0]), 100)
        page = int(query.get("page", ["1"])[0])
        chunk = items[(page - 1) * per_page : page * per_page]
        more = page * per_page < len(items)
        base = f"{fake.api_url}/repos/{m.group(1)}/issues"
        link = (f'<{base}?state=all&per_page={per_page}&page={page + 1}>; rel="next"'
                if more else "")
        return 200, chunk, ({"Link": link} if link else {})
    if m and method == "POST":
        items = fake.issues.setdefault(m.group(1), [])
        number = len(items) + 1
        item = {"number": number, "title": body["title"], "body": body.get("body", ""),
                "state": "open", "labels": [{"name": n} for n in body.get("labels", [])],
                "html_url": f"https://github.example/{m.group(1)}/issues/{number}"}
        items.append(item)
        return 201, item, {}
    m = re.fullmatch(r"/repos/([^/]+/[^/]+)/issues/(\d+)", path)
    if m and method == "PATCH":
        for item in fake.issues.get(m.group(1), []):
            if item["number"] == int(m.group(2)):
                item.update({k: v for k, v in body.items() if k in ("title", "body", "state")})
                return 200, item, {}
        return 404, {"message": "Not Found"}, {}
    return None


def _too_long() -> dict[str, Any]:
    return {
        "message": "Validation Failed",
        "errors": [
            {
                "resource": "IssueComment",
                "code": "custom",
                "field": "body",
                "message": "body is too long (maximum is 65536 characters)",
            }
        ],
    }
