"""The Prometheus client against misbehaving servers (real sockets, real subprocesses): a
server trickling its answer, one never answering, a huge answer, redirects, bad URLs, and
the probe's "s ago" column."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from pepr_gate.measure.meter import promhttp
from pepr_gate.measure.meter.promql import PromClient, PromFailure
from pepr_gate.publish.probe_table import _ago

OK = b'{"status": "success", "data": {"resultType": "vector", "result": []}}'


def serve(handle: Callable[[BaseHTTPRequestHandler], None]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with contextlib.suppress(OSError):  # the client gave up: the point of most tests
                handle(self)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[str]:
    srv = serve(request.param)
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def trickle(h: BaseHTTPRequestHandler) -> None:
    h.send_response(200)
    h.send_header("Content-Length", str(len(OK)))
    h.end_headers()
    for byte in OK:
        h.wfile.write(bytes([byte]))
        h.wfile.flush()
        time.sleep(0.3)


def silent(h: BaseHTTPRequestHandler) -> None:
    time.sleep(30)


def huge(h: BaseHTTPRequestHandler) -> None:
    h.send_response(200)
    h.send_header("Transfer-Encoding", "chunked")
    h.end_headers()
    block = b"x" * 65536
    for _ in range(64):
        h.wfile.write(b"%x\r\n%s\r\n" % (len(block), block))


def claims_3gb(h: BaseHTTPRequestHandler) -> None:
    h.send_response(200)
    h.send_header("Content-Length", str(3 * 1024**3))
    h.end_headers()
    h.wfile.write(b"{")


def elsewhere(h: BaseHTTPRequestHandler) -> None:
    h.send_response(302)
    h.send_header("Location", "http://127.0.0.2:9/api/v1/query")
    h.send_header("Content-Length", "0")
    h.end_headers()


def same_host(h: BaseHTTPRequestHandler) -> None:
    if h.path.startswith("/moved/"):
        h.send_response(200)
        h.send_header("Content-Length", str(len(OK)))
        h.end_headers()
        h.wfile.write(OK)
        return
    h.send_response(307)
    h.send_header("Location", "/moved" + h.path)
    h.send_header("Content-Length", "0")
    h.end_headers()


@pytest.mark.parametrize("server", [trickle], indirect=True)
def test_a_trickling_server_is_cut_off_at_timeout_s_in_total(server: str) -> None:
    client = PromClient(server, 2.0)
    t0 = time.monotonic()
    with pytest.raises(PromFailure, match="did not answer within timeout_s = 2 s") as exc:
        client.query("up")
    assert time.monotonic() - t0 < 4.0
    assert "cannot reach" not in exc.value.reason and "slow, not down" in exc.value.hint
    client.close()


@pytest.mark.parametrize("server", [silent], indirect=True)
def test_a_read_timeout_is_not_called_unreachable(server: str) -> None:
    client = PromClient(server, 1.0)
    with pytest.raises(PromFailure, match="did not answer within timeout_s = 1 s"):
        client.query("up")
    client.close()


def test_a_refused_connection_is_unreachable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(PromFailure, match="cannot reach Prometheus"):
        PromClient(f"http://127.0.0.1:{port}", 1.0).query("up")


@pytest.mark.parametrize("server", [huge, claims_3gb], indirect=True)
def test_a_huge_answer_is_refused_not_buffered(server: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(promhttp, "MAX_BODY_BYTES", 1024 * 1024)
    client = PromClient(server, 5.0)
    with pytest.raises(PromFailure, match=r"sent an answer of (more than )?[\d,]+ bytes"):
        client.query("up")
    client.close()


@pytest.mark.parametrize("server", [elsewhere], indirect=True)
def test_a_redirect_to_another_host_is_refused(server: str) -> None:
    client = PromClient(server.replace("http://", "http://user:hunter2@"), 2.0)
    with pytest.raises(PromFailure, match="redirected to another host") as exc:
        client.query("up")
    assert "127.0.0.2:9" in exc.value.reason and "hunter2" not in exc.value.reason
    client.close()


@pytest.mark.parametrize("server", [same_host], indirect=True)
def test_a_redirect_on_the_same_server_is_followed(server: str) -> None:
    client = PromClient(server, 2.0)
    assert client.query("up") == []
    client.close()


@pytest.mark.parametrize("server", [trickle], indirect=True)
def test_probe_against_a_trickling_server_ends_with_the_reason(server: str,
                                                               tmp_path: Path) -> None:
    write_config(tmp_path, server)
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "pepr_gate", "probe", "--prometheus"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert time.monotonic() - t0 < 20, "held past timeout_s"
    assert "did not answer within timeout_s = 2 s" in proc.stdout + proc.stderr


def write_config(folder: Path, url: str) -> None:
    (folder / "pepr.toml").write_text(textwrap.dedent(f"""\
        [meter]
        kind = "prometheus"

        [meter.prometheus]
        url = "{url}"
        nodes = ["gpu-a1"]
        timeout_s = 2
        """), encoding="utf-8")


@pytest.mark.parametrize(("url", "said"), [
    ("http://[::1", "not a URL"),
    ("http://prometheus:9090/?x=1#frag", "no ?query or #fragment"),
    ("http://prometheus:9090#frag", "no ?query or #fragment"),
    ("http://prometheus:notaport", "not a URL"),
    ("http://", "no host"),
])
def test_a_malformed_url_is_bad_input(tmp_path: Path, url: str, said: str) -> None:
    write_config(tmp_path, url)
    proc = subprocess.run(
        [sys.executable, "-m", "pepr_gate", "run", "--no-store", "--", sys.executable, "-c", "0"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2, proc.stderr
    assert said in proc.stderr and "url" in proc.stderr and "Traceback" not in proc.stderr


def test_an_age_is_never_minus_zero() -> None:
    assert _ago(-0.0) == "0 s ago"
    assert _ago(-0.04) == "0 s ago"
    assert _ago(1.5) == "1.5 s ago"
