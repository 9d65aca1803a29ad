"""One GET to Prometheus's HTTP API, bounded: a total deadline, a body cap, no foreign redirects.

`timeout_s` bounds the whole request (connecting, the headers and the body together), not
each read: a server trickling a byte every 2 s is cut off at the deadline. The request runs
in a daemon thread the caller waits on, so not even a trickled header line can hold the run.
A body over `MAX_BODY_BYTES` is refused as it streams in (a 3 GB answer never reaches
memory). A redirect is followed only to the same scheme, host and port (a proxy's trailing
slash fix); elsewhere it is refused, since the URL's credentials would go with it.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

MAX_BODY_BYTES = 128 * 1024 * 1024
MAX_REDIRECTS = 3


class HttpFailure(Exception):
    """What went wrong, in kinds the meter words: unreachable, timeout, status, body, shape."""

    def __init__(self, kind: str, detail: str, status: int = 0, body: Any = None) -> None:
        super().__init__(detail)
        self.kind, self.detail, self.status, self.body = kind, detail, status, body


@dataclass
class _Outcome:
    value: Any = None
    error: BaseException | None = None


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.rpartition("@")[2].lower()


class BoundedGet:
    """GETs against one base URL, each within `timeout_s` in total."""

    def __init__(self, base: str, timeout_s: float) -> None:
        import httpx

        self.base, self.timeout_s = base, timeout_s
        self._client = httpx.Client(timeout=httpx.Timeout(timeout_s), follow_redirects=False)
        self._cancelled = threading.Event()

    def close(self) -> None:
        self._cancelled.set()
        self._client.close()

    def json(self, path: str, params: dict[str, str]) -> Any:
        """The decoded JSON of GET base+path, whatever its status (HttpFailure for the rest)."""
        out = _Outcome()
        deadline = time.monotonic() + self.timeout_s
        done = threading.Event()

        def work() -> None:
            try:
                out.value = self._get(self.base + path, params, deadline)
            except BaseException as exc:  # handed to the waiting thread
                out.error = exc
            finally:
                done.set()

        threading.Thread(target=work, daemon=True, name="pepr-prometheus-get").start()
        if not done.wait(max(0.0, deadline - time.monotonic()) + 0.5):
            raise HttpFailure("timeout", f"no whole answer within {self.timeout_s:g} s")
        if out.error is not None:
            raise out.error
        return out.value

    def _get(self, url: str, params: dict[str, str] | None, deadline: float) -> Any:
        import httpx

        for _ in range(MAX_REDIRECTS + 1):
            try:
                with self._client.stream("GET", url, params=params) as resp:
                    if resp.is_redirect:
                        url, params = self._follow(url, resp.headers.get("location", "")), None
                        continue
                    body = self._body(resp, deadline)
                    status = resp.status_code
            except httpx.TimeoutException as exc:
                kind = "unreachable" if isinstance(exc, httpx.ConnectTimeout) else "timeout"
                raise HttpFailure(kind, type(exc).__name__) from None
            except httpx.ProtocolError as exc:  # it answered, but not in HTTP
                raise HttpFailure("shape", str(exc) or type(exc).__name__) from None
            except (httpx.TransportError, httpx.InvalidURL) as exc:
                raise HttpFailure("unreachable", str(exc) or type(exc).__name__) from None
            except httpx.HTTPError as exc:  # a broken answer (bad chunking, bad encoding)
                raise HttpFailure("shape", str(exc) or type(exc).__name__) from None
            return self._decode(body, status)
        raise HttpFailure("redirect", f"more than {MAX_REDIRECTS} redirects")

    def _follow(self, url: str, location: str) -> str:
        target = urljoin(url, location)
        if _origin(target) != _origin(url):
            shown = urlsplit(target)
            raise HttpFailure("redirect", f"redirected to another host "
                              f"({shown.scheme}://{shown.netloc.rpartition('@')[2]}); "
                              "refused, so the URL's credentials do not follow it")
        return target

    def _body(self, resp: Any, deadline: float) -> bytes:
        length = resp.headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            raise HttpFailure("body", f"an answer of {int(length):,} bytes (the cap is "
                              f"{MAX_BODY_BYTES:,})")
        chunks, size = [], 0
        for chunk in resp.iter_bytes():
            if self._cancelled.is_set() or time.monotonic() > deadline:
                raise HttpFailure("timeout", "the answer was still arriving at the deadline")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise HttpFailure("body", f"an answer of more than {MAX_BODY_BYTES:,} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    @staticmethod
    def _decode(body: bytes, status: int) -> Any:
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise HttpFailure("shape" if status == 200 else "status",
                              f"HTTP {status}, not JSON", status=status) from None
        if status != 200:
            detail = data.get("error", "") if isinstance(data, dict) else ""
            raise HttpFailure("status", str(detail)[:200], status=status, body=data)
        return data
