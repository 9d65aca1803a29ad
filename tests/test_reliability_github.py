"""Issue 11, items 9, 14 and 15: GitHub's API down, rate-limited, redirecting or answering
nonsense, and a broken event payload or config in `pepr-gate ci`. A real local HTTP server
(tests/github_server.py) and the real CLI in a subprocess."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pepr_gate.publish.github.api import RETRY_BUDGET_S, GitHubClient, GitHubError

try:
    from tests.github_server import FakeGitHub
    from tests.harness import ROOT, assert_exit, pepr_gate
except ImportError:
    from github_server import FakeGitHub  # type: ignore[no-redef]
    from harness import ROOT, assert_exit, pepr_gate  # type: ignore[no-redef]

REPO = "octo/net"
DOWN = (503, {"message": "Service Unavailable"}, {})
SECONDARY = (403, {"message": "You have exceeded a secondary rate limit."}, {})


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    server = FakeGitHub().start()
    server.add_pull(REPO, 2, head_sha="a" * 40)
    yield server
    server.stop()


def _calls(client: GitHubClient) -> list[str]:
    """One `ci` step's worth of calls; each failure is caught as `ci` would."""
    errors = []
    for call in (lambda: client.get_pull(REPO, 2),
                 lambda: list(client.iter_comments(REPO, 2)),
                 lambda: client.create_comment(REPO, 2, "x"),
                 lambda: client.compare_status(REPO, "a", "b")):
        try:
            call()
        except GitHubError as exc:
            errors.append(exc.message)
    return errors


@pytest.mark.parametrize("answer", [DOWN, SECONDARY], ids=["down", "rate-limited"])
def test_an_outage_costs_at_most_the_budget_over_all_calls(
    gh: FakeGitHub, answer: tuple[int, Any, dict[str, str]]
) -> None:
    gh.answer_always = answer
    budget = 1.5
    t0 = time.monotonic()
    with GitHubClient(gh.api_url, gh.token, retry_budget_s=budget, backoff_s=0.2,
                      max_attempts=20) as client:
        errors = _calls(client)
        first_round = len(gh.log)
        errors += _calls(client)
    took = time.monotonic() - t0
    assert len(errors) == 8  # every call failed with a message, none hung
    assert took <= budget + 0.5, took
    assert first_round >= 4  # it did retry
    assert len(gh.log) - first_round <= 4  # once the budget is spent: no more retries


def test_the_default_budget_is_60_s_across_calls(gh: FakeGitHub) -> None:
    gh.answer_always = SECONDARY
    waits: list[float] = []
    with GitHubClient(gh.api_url, gh.token, sleep=waits.append, max_attempts=50) as client:
        for _ in range(5):
            _calls(client)
    assert RETRY_BUDGET_S == 60.0
    assert 30 <= sum(waits) <= 60.0  # backoff used the budget, and never more


def test_a_retry_after_beyond_the_budget_fails_at_once(gh: FakeGitHub) -> None:
    gh.answer_always = (429, {"message": "slow down"}, {"Retry-After": "3600"})
    t0 = time.monotonic()
    with GitHubClient(gh.api_url, gh.token) as client, pytest.raises(GitHubError) as info:
        client.get_pull(REPO, 2)
    assert time.monotonic() - t0 < 5
    assert "rate limit" in info.value.message and "3600" in info.value.message


def _comment_cli(tmp_path: Path, gh: FakeGitHub) -> Any:
    try:
        from tests.factories import make_record
    except ImportError:
        from factories import make_record  # type: ignore[no-redef]

    (tmp_path / "b.json").write_text(make_record().to_json())
    (tmp_path / "c.json").write_text(make_record(branch="f").to_json())
    made = pepr_gate("check", "--candidate", "c.json", "--baseline", "b.json", "--json",
                     "check.json", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    env = {**os.environ, "GITHUB_TOKEN": gh.token, "GITHUB_API_URL": gh.api_url,
           "GITHUB_REPOSITORY": REPO}
    return pepr_gate("comment", "--from", "check.json", "--pr", "2", cwd=tmp_path, env=env)


@pytest.mark.parametrize(("answer", "needle"), [
    ((200, {"message": "not a list"}, {}), "not a list"),
    ((200, "<html>proxy</html>", {}), "not a list"),
    ((301, {}, {"Location": "https://elsewhere.example/api"}), "redirect to elsewhere.example"),
    ((302, {}, {}), "a redirect"),
])
def test_a_nonsense_or_redirect_answer_exits_2_with_a_message(
    tmp_path: Path, gh: FakeGitHub, answer: tuple[int, Any, dict[str, str]], needle: str
) -> None:
    gh.answer_always = answer
    proc = _comment_cli(tmp_path, gh)
    assert_exit(proc, 2, needle, "GITHUB_API_URL")
    assert gh.token not in proc.stderr


# -- `ci`: bad payloads and configs still publish everything ---------------------------------
def _ci(tmp_path: Path, gh: FakeGitHub, payload: dict[str, Any], **extra: str) -> Any:
    (tmp_path / "event.json").write_text(json.dumps(payload))
    for name in ("summary.md", "output"):
        (tmp_path / name).unlink(missing_ok=True)
    env = {**os.environ, "GITHUB_EVENT_NAME": "pull_request",
           "GITHUB_EVENT_PATH": str(tmp_path / "event.json"), "GITHUB_REPOSITORY": REPO,
           "GITHUB_REF": "refs/pull/2/merge", "GITHUB_SHA": "f" * 40,
           "GITHUB_API_URL": gh.api_url, "GITHUB_RUN_ID": "7",
           "GITHUB_SERVER_URL": "https://github.example",
           "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
           "GITHUB_OUTPUT": str(tmp_path / "output"), "GITHUB_TOKEN": gh.token,
           "PEPR_CONFIG": "pepr.toml", **extra}
    return pepr_gate("ci", cwd=tmp_path, env=env)


def _pr_payload() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (ROOT / "tests" / "fixtures" / "github-events" / "pull_request.opened.json").read_text())
    return data


def _assert_published(tmp_path: Path, needle: str) -> None:
    outputs = (tmp_path / "output").read_text()
    assert "verdict<<" in outputs and "\nerror\n" in outputs
    assert needle in (tmp_path / "summary.md").read_text()
    error = json.loads((tmp_path / ".pepr" / "ci" / "error.json").read_text())
    assert error["exit_code"] == 2 and needle in error["message"]
    assert needle in (tmp_path / ".pepr" / "ci" / "report.md").read_text()


@pytest.mark.parametrize("number", [None, "2", 2.5, True, -1])
def test_a_payload_without_a_numeric_pr_number_exits_2_and_publishes(
    tmp_path: Path, gh: FakeGitHub, number: object
) -> None:
    (tmp_path / "pepr.toml").write_text('[[run.stages]]\nname = "t"\ncmd = ["true"]\n')
    payload = _pr_payload()
    if number is None:
        del payload["pull_request"]["number"]
    else:
        payload["pull_request"]["number"] = number
    proc = _ci(tmp_path, gh, payload)
    assert_exit(proc, 2, "pull_request.number")
    _assert_published(tmp_path, "numeric 'number'")


def test_a_config_error_in_ci_publishes_summary_outputs_and_files(
    tmp_path: Path, gh: FakeGitHub
) -> None:
    (tmp_path / "pepr.toml").write_text("[run]\nrepeats = [\n")
    proc = _ci(tmp_path, gh, _pr_payload())
    assert_exit(proc, 2, "TOML syntax error")
    _assert_published(tmp_path, "TOML syntax error at line 3")
    assert "::error" in proc.stdout  # the annotation


def test_a_bad_action_input_in_ci_publishes_too(tmp_path: Path, gh: FakeGitHub) -> None:
    (tmp_path / "pepr.toml").write_text('[[run.stages]]\nname = "t"\ncmd = ["true"]\n')
    proc = _ci(tmp_path, gh, _pr_payload(), PEPR_THRESHOLD="lots")
    assert_exit(proc, 2, "threshold")
    _assert_published(tmp_path, "threshold")


def test_a_redirecting_api_in_ci_keeps_the_result_and_exits_2(
    tmp_path: Path, gh: FakeGitHub
) -> None:
    try:
        from tests.harness import WRITE_METRICS, perf_config
    except ImportError:
        from harness import WRITE_METRICS, perf_config  # type: ignore[no-redef]

    (tmp_path / "pepr.toml").write_text(perf_config(WRITE_METRICS))
    gh.answer_always = (301, {}, {"Location": "https://elsewhere.example/api"})
    proc = _ci(tmp_path, gh, _pr_payload(), PEPR_STORE=f"sqlite:///{tmp_path / 'h.db'}")
    assert_exit(proc, 2, "redirect to elsewhere.example", "GITHUB_API_URL")
    outputs = (tmp_path / "output").read_text()
    assert "\ninconclusive\n" in outputs  # the check's own verdict is published
    summary = (tmp_path / "summary.md").read_text()
    assert "no comment" in summary and "could not check" not in summary
    assert json.loads((tmp_path / ".pepr" / "ci" / "check.json").read_text())["verdict"]
    assert "::error" in proc.stdout


def test_a_cancelled_ci_job_exits_143_and_publishes(tmp_path: Path, gh: FakeGitHub) -> None:
    import signal
    import subprocess
    import sys

    slow = ("import signal, sys, time; signal.signal(signal.SIGTERM, lambda *a: sys.exit(1)); "
            "open('started', 'w').close(); time.sleep(300)")
    (tmp_path / "pepr.toml").write_text(
        f'[[run.stages]]\nname = "train"\ncmd = {json.dumps([sys.executable, "-c", slow])}\n'
        '[meter]\nkind = "process"\n')
    (tmp_path / "event.json").write_text(json.dumps(_pr_payload()))
    env = {**os.environ, "GITHUB_EVENT_NAME": "pull_request",
           "GITHUB_EVENT_PATH": str(tmp_path / "event.json"), "GITHUB_REPOSITORY": REPO,
           "GITHUB_API_URL": gh.api_url, "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
           "GITHUB_OUTPUT": str(tmp_path / "output"), "GITHUB_TOKEN": gh.token,
           "PEPR_CONFIG": "pepr.toml", "PEPR_STORE": f"sqlite:///{tmp_path / 'h.db'}"}
    runner = subprocess.Popen([sys.executable, "-m", "pepr_gate", "ci"], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "started").exists():
            assert runner.poll() is None and time.monotonic() < deadline, runner.communicate()
            time.sleep(0.05)
        runner.send_signal(signal.SIGTERM)  # what the runner does when the job is cancelled
        _, err = runner.communicate(timeout=30)
    finally:
        if runner.poll() is None:
            runner.kill()
    assert runner.returncode == 143, err
    assert "interrupted by SIGTERM during stage 'train'" in err and "Traceback" not in err
    error = json.loads((tmp_path / ".pepr" / "ci" / "error.json").read_text())
    assert error["exit_code"] == 143 and "--import" in (error["hint"] or "")
    assert "\nerror\n" in (tmp_path / "output").read_text()
    assert "the job was cancelled" in (tmp_path / "summary.md").read_text()
