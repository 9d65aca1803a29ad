"""What the dependencies do for us instead of hand-written code (issue 22): httpx's parsed
`Link` header, both `Retry-After` forms, tenacity's push retry, and `atomic.py` for every
file written for a user. Real local servers and real git, as elsewhere."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from pepr_gate.errors import InputError
from pepr_gate.publish.github.api import GitHubClient
from pepr_gate.records import RunRecord

try:
    from tests.github_server import FakeGitHub
except ImportError:
    from github_server import FakeGitHub  # type: ignore[no-redef]

REPO = "octo/net"
Make = Callable[..., RunRecord]


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    fake = FakeGitHub().start()
    fake.add_pull(REPO, 7, head_sha="c" * 40)
    yield fake
    fake.stop()


def _limited_once(gh: FakeGitHub, retry_after: str) -> None:
    route = gh._route
    done: list[bool] = []

    def once(h: Any, method: str, path: str, query: Any) -> Any:
        if not done:
            done.append(True)
            return 429, {"message": "slow down"}, {"Retry-After": retry_after}
        return route(h, method, path, query)

    gh._route = once  # type: ignore[method-assign]


def test_retry_after_as_an_http_date_is_waited_for(gh: FakeGitHub) -> None:
    when = datetime.now(timezone.utc) + timedelta(seconds=20)
    _limited_once(gh, format_datetime(when, usegmt=True))
    waits: list[float] = []
    with GitHubClient(gh.api_url, gh.token, sleep=waits.append, backoff_s=0.01) as client:
        assert client.get_pull(REPO, 7)["number"] == 7
    assert len(waits) == 1 and 17 <= waits[0] <= 20.5, waits


def test_retry_after_in_seconds_and_in_the_past(gh: FakeGitHub) -> None:
    _limited_once(gh, "7")
    waits: list[float] = []
    with GitHubClient(gh.api_url, gh.token, sleep=waits.append, backoff_s=0.01) as client:
        client.get_pull(REPO, 7)
    assert waits == [7.0]
    gh.log.clear()
    _limited_once(gh, "Wed, 21 Oct 2015 07:28:00 GMT")  # already past: no wait
    waits.clear()
    with GitHubClient(gh.api_url, gh.token, sleep=waits.append, backoff_s=0.01) as client:
        client.get_pull(REPO, 7)
    assert waits == [0.0]


def test_an_unreadable_retry_after_falls_back_to_backoff(gh: FakeGitHub) -> None:
    _limited_once(gh, "soon")
    waits: list[float] = []
    with GitHubClient(gh.api_url, gh.token, sleep=waits.append, backoff_s=0.01) as client:
        client.get_pull(REPO, 7)
    assert waits == [0.01]


def test_pagination_follows_next_wherever_it_stands_in_the_link_header(gh: FakeGitHub) -> None:
    for i in range(150):
        gh.add_comment(REPO, 7, f"comment {i}")
    original = gh._list

    def reordered(repo: str, number: int, query: Any) -> Any:
        status, chunk, headers = original(repo, number, query)
        if "Link" in headers:  # rel="next" last, unquoted, extra spaces: httpx reads them
            parts = [p.strip() for p in headers["Link"].split(",")]
            parts.sort(key=lambda p: 'rel="next"' in p)
            headers = {"Link": " ,  ".join(p.replace('rel="next"', "rel=next") for p in parts)}
        return status, chunk, headers

    gh._list = reordered  # type: ignore[method-assign]
    with GitHubClient(gh.api_url, gh.token, sleep=lambda s: None) as client:
        bodies = [c.body for c in client.iter_comments(REPO, 7)]
    assert bodies == [f"comment {i}" for i in range(150)]


def test_check_markdown_replaces_a_file_whole_and_leaves_no_temporary_file(
    tmp_path: Path, make_record: Make
) -> None:
    (tmp_path / "b.json").write_text(make_record().to_json())
    (tmp_path / "c.json").write_text(make_record(branch="f").to_json())
    out = tmp_path / "out" / "check.md"
    out.parent.mkdir()
    out.write_text("old contents\n")
    os.chmod(out, 0o640)
    done = subprocess.run(
        [sys.executable, "-m", "pepr_gate", "check", "--candidate", "c.json", "--baseline",
         "b.json", "--markdown", str(out)],
        cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "old contents" not in out.read_text() and "PePR" in out.read_text()
    assert os.stat(out).st_mode & 0o777 == 0o640  # the replaced file's mode is kept
    assert sorted(p.name for p in out.parent.iterdir()) == ["check.md"]


def test_an_output_that_cannot_be_written_is_an_input_error_naming_it(tmp_path: Path) -> None:
    from pepr_gate.commands.check import write_output

    folder = tmp_path / "a-folder"
    folder.mkdir()
    with pytest.raises(InputError, match="cannot write") as err:
        write_output(str(folder), "text")  # a folder where the file should go
    assert str(folder) in err.value.message and err.value.exit_code == 2


def test_the_git_store_keeps_a_refused_record_as_a_whole_file(
    tmp_path: Path, git_env: dict[str, str], make_record: Make
) -> None:
    from pepr_gate.errors import StoreError
    from pepr_gate.store.git import GitStore

    def git(*args: str, cwd: Path) -> None:
        subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=True)

    bare, work = tmp_path / "origin.git", tmp_path / "work"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    git("init", "-q", "-b", "main", str(work), cwd=tmp_path)
    (work / "f").write_text("x\n")
    git("add", "f", cwd=work)
    git("commit", "-q", "-m", "one", cwd=work)
    git("remote", "add", "origin", str(bare), cwd=work)
    git("push", "-q", "origin", "main", cwd=work)
    hook = bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\nexit 1\n")
    hook.chmod(0o755)
    record = make_record()
    with pytest.raises(StoreError, match="after 2 tries"):
        GitStore("pepr-data", root=work, tries=2, backoff_s=0.0).append(record)
    kept = work / ".pepr" / "runs"
    assert [p.name for p in kept.iterdir()] == [f"{record.id}.json"]
    assert RunRecord.model_validate_json((kept / f"{record.id}.json").read_text()) == record


def test_an_atomic_write_into_an_unwritable_folder_is_the_callers_error(tmp_path: Path) -> None:
    """The temporary file cannot be made (a read-only or missing folder): the caller's
    error type (exit 2) naming the path, never an OSError (exit 4)."""
    from pepr_gate.errors import InputError
    from pepr_gate.fileio.atomic import write_atomic

    with pytest.raises(InputError, match=r"cannot write .*missing"):
        write_atomic(tmp_path / "missing" / "out.json", "{}", error=InputError)
