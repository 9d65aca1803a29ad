"""The git store's credentials: a real smart-HTTP remote that demands a token, real git.

Checks what a user relies on: the action's token reaches git through the environment
only (persist-credentials: false works), nothing with a secret is left in any file, and
no secret appears in any message, annotation, summary, error.json or report.md.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pepr_gate.errors import StoreError
from pepr_gate.records import RunRecord
from pepr_gate.redact import redact
from pepr_gate.store import open_store
from pepr_gate.store.git import GitStore

try:
    from tests.git_http_server import GitHttpServer
except ImportError:
    from git_http_server import GitHttpServer  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "ghs_S3cretT0kenForTheTests"
BASIC = base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
Make = Callable[..., RunRecord]


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture
def server(tmp_path: Path, git_env: dict[str, str]) -> Iterator[GitHttpServer]:
    srv_root = tmp_path / "srv"
    bare = srv_root / "octo" / "net.git"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    git("config", "http.receivepack", "true", cwd=bare)
    seed = tmp_path / "seed"
    git("init", "-q", "-b", "main", str(seed), cwd=tmp_path)
    (seed / "train.py").write_text("print('training')\n")
    git("add", "train.py", cwd=seed)
    git("commit", "-q", "-m", "initial", cwd=seed)
    git("push", "-q", str(bare), "main", cwd=seed)
    srv = GitHttpServer(srv_root, TOKEN).start()
    yield srv
    srv.stop()


def checkout(server: GitHttpServer, where: Path, *, persist: bool = False) -> Path:
    """Clone the way actions/checkout does: the token as an extra header on the command."""
    url = f"{server.url}/octo/net.git"
    header = f"http.{server.url}/.extraheader=AUTHORIZATION: basic {BASIC}"
    git("-c", header, "clone", "-q", url, str(where), cwd=where.parent)
    if persist:  # persist-credentials: true writes the header into .git/config
        git("config", "--local", f"http.{server.url}/.extraheader",
            f"AUTHORIZATION: basic {BASIC}", cwd=where)
    return where


def in_actions(monkeypatch: pytest.MonkeyPatch, server: GitHttpServer, token: str) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_SERVER_URL", server.url)
    monkeypatch.setenv("GITHUB_TOKEN", token)


def files_holding(folder: Path, *secrets: str) -> list[Path]:
    found = []
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if any(s.encode() in data for s in secrets):
                found.append(path)
    return found


def test_the_action_token_pushes_through_the_environment_only(
    tmp_path: Path, server: GitHttpServer, make_record: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = checkout(server, tmp_path / "work")  # persist-credentials: false
    in_actions(monkeypatch, server, TOKEN)
    record = make_record(branch="feature/x")
    with open_store("git:pepr-data", root=work) as store:
        store.append(record)
        assert store.runs("feature/x") == [record]
    assert f"basic {BASIC}" in server.seen_auth
    # A second clone sees the run: it is on the server, not only in a local cache.
    reader = checkout(server, tmp_path / "reader")
    assert [r.id for r in GitStore("pepr-data", root=reader).runs()] == [record.id]
    # No file anywhere (checkouts, private store repositories, the server) holds the token.
    assert files_holding(tmp_path, TOKEN, BASIC) == []
    cache = work / ".pepr" / "git-store" / "pepr-data.git"
    listed = git("config", "--local", "--list", cwd=cache)
    assert "extraheader" not in listed and "remote.origin" not in listed


def test_without_the_token_the_push_is_refused_and_the_record_kept(
    tmp_path: Path, server: GitHttpServer, make_record: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = checkout(server, tmp_path / "work")
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    server.seen_auth.clear()
    record = make_record()
    with pytest.raises(StoreError, match="could not store") as err:
        GitStore("pepr-data", root=work, tries=1, backoff_s=0.0).append(record)
    assert "nothing is lost" in (err.value.hint or "")
    assert (work / ".pepr" / "runs" / f"{record.id}.json").is_file()
    # The token is scoped to the server's host: another host never receives it.
    in_actions(monkeypatch, server, TOKEN)
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    with pytest.raises(StoreError):
        GitStore("pepr-data", root=work, tries=1, backoff_s=0.0).append(record)
    assert all(a is None for a in server.seen_auth)


def test_a_persisted_checkout_header_is_used_but_never_copied(
    tmp_path: Path, server: GitHttpServer, make_record: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = checkout(server, tmp_path / "work", persist=True)
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    cache = work / ".pepr" / "git-store" / "pepr-data.git"
    # What an older pepr-gate left behind: the header and the origin copied into the cache.
    git("init", "-q", "--bare", str(cache), cwd=work)
    git("config", f"http.{server.url}/.extraheader", f"AUTHORIZATION: basic {BASIC}", cwd=cache)
    git("config", "remote.origin.url", f"{server.url}/octo/net.git", cwd=cache)
    record = make_record()
    with open_store("git:pepr-data", root=work) as store:
        store.append(record)
    assert "extraheader" not in git("config", "--local", "--list", cwd=cache)
    # Only the user's own checkout config keeps what the user (checkout) put there.
    assert files_holding(work, BASIC) == [work / ".git" / "config"]


def test_credentials_in_the_origin_url_never_reach_a_message_or_a_file(
    tmp_path: Path, server: GitHttpServer, git_env: dict[str, str]
) -> None:
    """Issue 11: `origin` with a wrong token in it, refused, and `pepr-gate ci` publishing."""
    secret = "WrongS3cretInTheUrl"
    work = checkout(server, tmp_path / "work")
    host = server.url.removeprefix("http://")
    git("remote", "set-url", "origin", f"http://x-access-token:{secret}@{host}/octo/net.git",
        cwd=work)
    shutil_copy(ROOT / "action" / "selftest" / "train.py", work / "train.py")
    trace = ROOT / "examples" / "traces" / "a100-train.json"
    (work / "pepr.toml").write_text(
        '[run]\nstages = [{ name = "train", cmd = ["python3", "train.py"] }]\n'
        '[performance]\nfile = "metrics.json"\nkey = "accuracy"\n'
        f'[meter]\nkind = {json.dumps(f"replay:{trace}")}\n'
    )
    event = tmp_path / "push.json"
    head = git("rev-parse", "HEAD", cwd=work)  # the commit checked out is the one pushed
    event.write_text(json.dumps({"ref": "refs/heads/main", "before": "1" * 40,
                                 "after": head, "repository": {"full_name": "octo/net"}}))
    summary, output = tmp_path / "summary.md", tmp_path / "output"
    env = {**os.environ, "GITHUB_EVENT_NAME": "push", "GITHUB_EVENT_PATH": str(event),
           "GITHUB_REPOSITORY": "octo/net", "GITHUB_REF": "refs/heads/main",
           "GITHUB_SHA": head, "GITHUB_STEP_SUMMARY": str(summary),
           "GITHUB_OUTPUT": str(output), "GITHUB_WORKSPACE": str(work),
           "PEPR_CONFIG": "pepr.toml", "SELFTEST_ACCURACY": "0.9"}
    env.pop("PEPR_STORE", None)
    proc = subprocess.run([sys.executable, "-m", "pepr_gate", "ci"], cwd=work, env=env,
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 2, proc.stderr
    shown = proc.stdout + proc.stderr
    # The wrong token is found before the job runs (issue 11, item 12), redacted.
    assert "cannot fetch branch 'pepr-data'" in shown and "nothing was run" in shown
    assert "http://***@" in shown
    error = json.loads((work / ".pepr" / "ci" / "error.json").read_text())
    assert "http://***@" in error["message"]
    for text in (shown, summary.read_text(), output.read_text(),
                 (work / ".pepr" / "ci" / "report.md").read_text(), json.dumps(error)):
        assert secret not in text
    # Only the user's own .git/config (where they put it) holds the secret.
    assert files_holding(tmp_path, secret) == [work / ".git" / "config"]


def shutil_copy(src: Path, dst: Path) -> None:
    dst.write_bytes(src.read_bytes())


@pytest.mark.parametrize("raw", [
    "fatal: unable to access 'https://x-access-token:ghs_abc123@github.com/o/r.git/': 403",
    "http.https://github.com/.extraheader AUTHORIZATION: basic eC1hY2Nlc3MtdG9rZW46YQ==",
    "postgresql://pepr:hunter22@db.internal:5432/history",
    "credential.helper=store --file /home/me/.git-credentials",
])
def test_redact_masks_userinfo_headers_and_credential_settings(raw: str) -> None:
    shown = redact(raw)
    for secret in ("ghs_abc123", "eC1hY2Nlc3MtdG9rZW46YQ==", "hunter22", ".git-credentials"):
        assert secret not in shown
    assert "***" in shown


def test_redact_keeps_urls_without_credentials() -> None:
    text = "cannot fetch https://github.com/octo/net.git and git@github.com:octo/net.git"
    assert redact(text) == text
