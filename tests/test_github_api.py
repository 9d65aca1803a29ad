"""The REST client and sticky-comment logic against a real local HTTP server acting as GitHub."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from pepr_gate.publish.github import MAX_COMMENT_CHARS, MAX_SUMMARY_BYTES
from pepr_gate.publish.github.api import GitHubAccessError, GitHubClient, GitHubError
from pepr_gate.publish.github.writers import (
    annotation,
    compose_body,
    find_comment,
    recorded_head_sha,
    set_outputs,
    upsert_comment,
    write_summary,
)

try:
    from tests.github_server import FakeGitHub
except ImportError:
    from github_server import FakeGitHub  # type: ignore[no-redef]

REPO = "octo/net"
MARKER = "<!-- pepr-gate:comment config=pepr.toml -->"
SHA_A, SHA_B, SHA_C = "a" * 40, "b" * 40, "c" * 40


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    fake = FakeGitHub().start()
    fake.history = [SHA_A, SHA_B, SHA_C]
    fake.add_pull(REPO, 7, head_sha=SHA_C)
    yield fake
    fake.stop()


@pytest.fixture
def client(gh: FakeGitHub) -> Iterator[GitHubClient]:
    waits: list[float] = []
    with GitHubClient(gh.api_url, gh.token, sleep=waits.append, backoff_s=0.01) as c:
        c.waits = waits  # type: ignore[attr-defined]
        yield c


def body(text: str, sha: str = SHA_C, verdict: str = "pass") -> str:
    return compose_body(
        f"{MARKER}\n## PePR-E {text}\n", marker=MARKER, head_sha=sha, verdict=verdict
    )


def upsert(
    client: GitHubClient,
    text: str,
    mode: str = "always",
    sha: str = SHA_C,
    verdict: str = "pass",
    pr: int = 7,
):  # type: ignore[no-untyped-def]
    return upsert_comment(
        client,
        REPO,
        pr,
        body(text, sha, verdict),
        marker=MARKER,
        mode=mode,
        verdict=verdict,
        head_sha=sha,
        created_at="2024-05-02T00:00:00+00:00",
    )


def test_create_then_update_in_place_then_never_leaves_it(
    gh: FakeGitHub, client: GitHubClient
) -> None:
    first = upsert(client, "run 1")
    assert first.action == "created"
    assert len(gh.comments[(REPO, 7)]) == 1
    second = upsert(client, "run 2")
    assert second.action == "updated"
    assert second.url == first.url
    assert len(gh.comments[(REPO, 7)]) == 1
    assert "run 2" in gh.comments[(REPO, 7)][0]["body"]
    calls = len(gh.log)
    third = upsert(client, "run 3", mode="never")
    assert third.action == "skipped"
    assert "run 2" in gh.comments[(REPO, 7)][0]["body"]
    assert len(gh.log) == calls  # `never` does not even read the comments


def test_marker_on_page_three_of_250_comments(gh: FakeGitHub, client: GitHubClient) -> None:
    for i in range(250):
        gh.add_comment(
            REPO, 7, f"comment {i}: quoting {MARKER} is not ours" if i == 5 else f"comment {i}"
        )
        if i == 229:
            gh.add_comment(REPO, 7, body("old"), user="github-actions[bot]")
    done = upsert(client, "new")
    assert done.action == "updated"
    pages = [path for m, path, _ in gh.log if m == "GET" and "/comments" in path]
    assert any("per_page=100" in p and "page=3" in p for p in pages)
    assert len(gh.comments[(REPO, 7)]) == 251
    ours = [c for c in gh.comments[(REPO, 7)] if c["body"].startswith(MARKER)]
    assert len(ours) == 1 and "new" in ours[0]["body"]


def test_server_error_once_is_retried(gh: FakeGitHub, client: GitHubClient) -> None:
    gh.fail_once = {"GET", "POST"}
    assert upsert(client, "x").action == "created"
    statuses = [s for _, _, s in gh.log]
    assert statuses.count(502) == 2
    assert len(gh.comments[(REPO, 7)]) == 1
    assert client.waits == [0.01, 0.01]  # type: ignore[attr-defined]


def test_secondary_rate_limit_waits_retry_after(gh: FakeGitHub, client: GitHubClient) -> None:
    gh.rate_limit_once = {"POST"}
    assert upsert(client, "x").action == "created"
    assert [s for _, _, s in gh.log] == [200, 403, 201]
    assert client.waits == [0.0]  # type: ignore[attr-defined]


def test_read_only_token_is_an_access_error_without_the_token(
    gh: FakeGitHub, client: GitHubClient
) -> None:
    gh.read_only = True
    with pytest.raises(GitHubAccessError) as info:
        upsert(client, "x")
    assert info.value.status == 403
    assert "Resource not accessible" in str(info.value)
    assert gh.token not in str(info.value)
    assert gh.comments.get((REPO, 7), []) == []


def test_missing_pull_request_is_404_access_error(client: GitHubClient) -> None:
    with pytest.raises(GitHubAccessError) as info:
        client.get_pull(REPO, 99)
    assert info.value.status == 404


def test_bad_token_error_never_shows_the_token(gh: FakeGitHub) -> None:
    secret = "ghp_SECRETsecret1234567890"
    with (
        GitHubClient(gh.api_url + f"/{secret}", secret, sleep=lambda s: None) as c,
        pytest.raises(GitHubError) as info,
    ):
        c.create_comment(REPO, 7, "x")
    assert secret not in str(info.value)
    assert "***" in str(info.value)


def test_server_refuses_over_65536_and_compose_body_trims(
    gh: FakeGitHub, client: GitHubClient
) -> None:
    huge = "x" * 70_000
    with pytest.raises(GitHubError, match="too long"):
        client.create_comment(REPO, 7, huge)
    lines = "\n".join(f"| row {i} | {'y' * 80} |" for i in range(1200))
    trimmed = compose_body(f"{MARKER}\n{lines}\n", marker=MARKER, head_sha=SHA_C, verdict="fail")
    assert len(trimmed) <= MAX_COMMENT_CHARS
    assert trimmed.startswith(MARKER)
    assert "trimmed to fit" in trimmed
    assert recorded_head_sha(trimmed) == SHA_C
    made = client.create_comment(REPO, 7, trimmed)
    assert find_comment(client, REPO, 7, MARKER) == made


def test_older_run_never_overwrites_a_newer_commit(gh: FakeGitHub, client: GitHubClient) -> None:
    upsert(client, "from C", sha=SHA_C)
    stale = upsert(client, "from A", sha=SHA_A)  # a slow job for an earlier push
    assert stale.action == "skipped"
    assert "newer commit" in stale.reason
    assert "from C" in gh.comments[(REPO, 7)][0]["body"]


def test_newer_run_replaces_an_older_commit(gh: FakeGitHub, client: GitHubClient) -> None:
    gh.pulls[(REPO, 7)]["head"]["sha"] = "d" * 40  # PR moved on again: decided by compare
    upsert(client, "from A", sha=SHA_A)
    assert upsert(client, "from B", sha=SHA_B).action == "updated"
    assert "from B" in gh.comments[(REPO, 7)][0]["body"]
    assert any("/compare/" in path for _, path, _ in gh.log)


def test_on_change_updates_only_when_the_verdict_changes(
    gh: FakeGitHub, client: GitHubClient
) -> None:
    assert upsert(client, "1", mode="on-change", verdict="pass").action == "created"
    assert upsert(client, "2", mode="on-change", verdict="pass").action == "skipped"
    assert upsert(client, "3", mode="on-change", verdict="fail").action == "updated"
    assert "3" in gh.comments[(REPO, 7)][0]["body"]


def test_on_regression_stays_quiet_until_a_regression(gh: FakeGitHub, client: GitHubClient) -> None:
    assert upsert(client, "ok", mode="on-regression", verdict="pass").action == "skipped"
    assert gh.comments.get((REPO, 7), []) == []
    assert upsert(client, "bad", mode="on-regression", verdict="fail").action == "created"
    # Once there is a comment it follows the PR, so a fixed regression is not left showing.
    assert upsert(client, "fixed", mode="on-regression", verdict="pass").action == "updated"
    assert "fixed" in gh.comments[(REPO, 7)][0]["body"]


def test_pagination_never_sends_the_token_to_another_host(
    gh: FakeGitHub, client: GitHubClient
) -> None:
    gh.api_url  # noqa: B018 - server started
    original = gh._list

    def evil(repo, number, query):  # type: ignore[no-untyped-def]
        status, chunk, _ = original(repo, number, query)
        return status, chunk, {"Link": '<http://attacker.invalid/x?page=2>; rel="next"'}

    gh._list = evil  # type: ignore[method-assign]
    gh.add_comment(REPO, 7, "hello")
    with pytest.raises(GitHubError, match="another host"):
        find_comment(client, REPO, 7, MARKER)


def test_summary_stays_under_one_mebibyte(tmp_path: Path) -> None:
    target = tmp_path / "summary.md"
    env = {"GITHUB_STEP_SUMMARY": str(target)}
    write_summary("# head\n" + "é" * 700_000, env)  # 1.4 MB of UTF-8
    data = target.read_bytes()
    assert len(data) <= MAX_SUMMARY_BYTES
    assert data.decode("utf-8").startswith("# head")
    assert "trimmed to fit" in data.decode("utf-8")


def test_summary_cap_counts_what_earlier_steps_already_wrote(tmp_path: Path) -> None:
    target = tmp_path / "summary.md"
    earlier = "## an earlier step\n" + "x" * 900_000 + "\n"
    target.write_text(earlier, encoding="utf-8")
    write_summary("# head\n" + "y" * 300_000, {"GITHUB_STEP_SUMMARY": str(target)})
    text = target.read_text(encoding="utf-8")
    assert len(text.encode("utf-8")) <= MAX_SUMMARY_BYTES
    assert text.startswith(earlier)  # the other steps' summary is kept whole
    assert "# head" in text and "trimmed to fit" in text


def test_outputs_survive_newlines_and_lookalike_delimiters(tmp_path: Path) -> None:
    target = tmp_path / "out"
    sneaky = "a\nverdict<<EOF\npass\nEOF\nghadelimiter_x"
    set_outputs({"record-path": sneaky, "verdict": "fail"}, {"GITHUB_OUTPUT": str(target)})
    lines = target.read_text().split("\n")
    parsed: dict[str, str] = {}
    i = 0
    while i < len(lines) and lines[i]:
        name, delim = lines[i].split("<<", 1)
        assert re.fullmatch(r"ghadelimiter_[0-9a-f]{32}", delim)
        end = lines.index(delim, i + 1)
        parsed[name] = "\n".join(lines[i + 1 : end])
        i = end + 1
    assert parsed == {"record-path": sneaky, "verdict": "fail"}


def test_annotations_escape_workflow_command_characters() -> None:
    out = io.StringIO()
    annotation("error", "100% worse\r\n::set-env name=X::1", title="a:b,c", stream=out)
    assert out.getvalue() == ("::error title=a%3Ab%2Cc::100%25 worse%0D%0A::set-env name=X::1\n")
    assert out.getvalue().count("\n") == 1  # one command: the second `::` is inert text
