"""`pepr-gate ci` and `pepr-gate comment` end to end: the real CLI in a subprocess, the Actions
environment set by hand, the replay meter, a real SQLite store and a local fake GitHub."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pepr_gate.cli import main

try:
    from tests.github_server import FakeGitHub
except ImportError:
    from github_server import FakeGitHub  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "tests" / "fixtures" / "github-events"
TRACE = ROOT / "examples" / "traces" / "a100-train.json"
REPO = "octo/net"
HEAD_SHA = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str
    summary: str
    outputs: dict[str, str]


@dataclass
class Project:
    root: Path
    store: str
    gh: FakeGitHub
    tmp: Path
    head_sha: str | None = None  # the PR's head in the event (a git checkout's own HEAD)
    base_sha: str | None = None  # the PR's base in the event (a commit that git can show)

    def baseline(self, accuracy: str, branch: str = "main", config: str = "pepr.toml") -> None:
        env = {**os.environ, "SELFTEST_ACCURACY": accuracy}
        cmd = [sys.executable, "-m", "pepr_gate", "run", "--config", config]
        cmd += ["--branch", branch, "--store", self.store]
        proc = subprocess.run(cmd, cwd=self.root, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr

    def event(self, name: str = "pull_request", **pr: Any) -> Path:
        if name == "pull_request":
            data = json.loads((EVENTS / "pull_request.opened.json").read_text())
            data["repository"]["full_name"] = REPO
            data["pull_request"]["base"].update(ref="main")
            data["pull_request"]["base"]["repo"]["full_name"] = REPO
            data["pull_request"]["head"].update(ref=pr.get("head_ref", "feature"))
            data["pull_request"]["head"]["repo"]["full_name"] = pr.get("head_repo", REPO)
            if self.head_sha:
                data["pull_request"]["head"]["sha"] = self.head_sha
            if self.base_sha:
                data["pull_request"]["base"]["sha"] = self.base_sha
        else:
            data = json.loads((EVENTS / "push.json").read_text())
        path = self.tmp / f"event-{name}.json"
        path.write_text(json.dumps(data))
        return path

    def ci(
        self,
        *args: str,
        event: str = "pull_request",
        ref: str = "refs/pull/2/merge",
        payload: Path | None = None,
        cwd: Path | None = None,
        **env: str,
    ) -> Result:
        summary, output = self.tmp / "summary.md", self.tmp / "output"
        for f in (summary, output):
            f.unlink(missing_ok=True)
        full = {
            **os.environ,
            "GITHUB_EVENT_NAME": event,
            "GITHUB_EVENT_PATH": str(payload or self.event(event)),
            "GITHUB_REPOSITORY": REPO,
            "GITHUB_REF": ref,
            "GITHUB_SHA": "f" * 40,
            "GITHUB_API_URL": self.gh.api_url,
            "GITHUB_SERVER_URL": "https://github.example",
            "GITHUB_RUN_ID": "4242",
            "GITHUB_STEP_SUMMARY": str(summary),
            "GITHUB_OUTPUT": str(output),
            "GITHUB_TOKEN": self.gh.token,
            "PEPR_CONFIG": "pepr.toml",
            "PEPR_STORE": self.store,
            **env,
        }
        proc = subprocess.run(
            [sys.executable, "-m", "pepr_gate", "ci", *args],
            cwd=cwd or self.root,
            env=full,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return Result(
            proc.returncode,
            proc.stdout,
            proc.stderr,
            summary.read_text() if summary.exists() else "",
            parse_outputs(output.read_text()) if output.exists() else {},
        )

    def comments(self) -> list[dict[str, Any]]:
        return self.gh.comments.get((REPO, 2), [])


def parse_outputs(text: str) -> dict[str, str]:
    """Read $GITHUB_OUTPUT the way the runner does (name<<DELIM ... DELIM)."""
    out: dict[str, str] = {}
    lines = iter(text.split("\n"))
    for line in lines:
        if not line:
            continue
        name, delim = line.split("<<", 1)
        value = []
        for body in lines:
            if body == delim:
                break
            value.append(body)
        out[name] = "\n".join(value)
    return out


def write_project(root: Path, stage: list[str] | None = None) -> None:
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "action" / "selftest" / "train.py", root / "train.py")
    text = (ROOT / "action" / "selftest" / "pepr.toml").read_text()
    text = text.replace(
        '"replay:../../examples/traces/a100-train.json"', json.dumps(f"replay:{TRACE}")
    )
    if stage is not None:
        text = re.sub(r"cmd = \[[^\]]*\]", "cmd = " + json.dumps(stage), text)
    (root / "pepr.toml").write_text(text)


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    gh = FakeGitHub().start()
    gh.add_pull(REPO, 2, head_sha=HEAD_SHA)
    gh.history = [HEAD_SHA]
    root = tmp_path / "proj"
    write_project(root)
    yield Project(root, f"sqlite:///{tmp_path / 'history.db'}", gh, tmp_path)
    gh.stop()


def test_good_baseline_passes_and_keeps_one_comment(project: Project) -> None:
    project.baseline("0.90")
    first = project.ci()
    assert first.code == 0, first.stderr
    assert first.outputs["verdict"] == "pass"
    assert float(first.outputs["performance"]) == pytest.approx(0.90)
    assert first.outputs["baseline-pepr"] and first.outputs["pepr"]
    assert float(first.outputs["energy-kwh"]) > 0
    assert first.outputs["comment-url"].startswith("https://github.example/octo/net/pull/2")
    assert "::notice" in first.stdout
    assert "PePR" in first.summary
    check = json.loads((project.root / ".pepr/ci/check.json").read_text())
    assert check["verdict"] == "pass" and check["head_sha"] == HEAD_SHA
    record = project.root / first.outputs["record-path"].splitlines()[0]
    assert json.loads(record.read_text())["git"]["branch"] == "feature"
    assert (project.root / ".pepr/ci/pr-number").read_text().strip() == "2"
    assert len(project.comments()) == 1
    second = project.ci()
    assert second.code == 0
    assert len(project.comments()) == 1  # updated in place, not duplicated
    assert second.outputs["comment-url"] == first.outputs["comment-url"]
    third = project.ci("--comment", "never")
    assert third.code == 0 and third.outputs["comment-url"] == ""
    assert [m for m, _, _ in project.gh.log].count("POST") == 1


def test_tightened_baseline_fails_with_the_reason_in_the_summary(project: Project) -> None:
    project.baseline("0.99")
    res = project.ci()
    assert res.code == 1, res.stderr
    assert res.outputs["verdict"] == "fail"
    assert float(res.outputs["pepr-change"]) < -0.05
    assert "::error" in res.stdout
    check = json.loads((project.root / ".pepr/ci/check.json").read_text())
    assert check["verdict"] == "fail" and check["reasons"]
    # The gate's reason, with the measured drop, is what the summary shows.
    drop = f"{abs(check['pepr_change']) * 100:.1f}%"
    assert f"PePR-E fell {drop}" in res.summary
    assert f"PePR-E fell {drop}" in check["reasons"][0]
    assert (project.root / res.outputs["report-path"]).read_text() in res.summary
    soft = project.ci(PEPR_FAIL_ON_REGRESSION="false")
    assert soft.code == 0
    assert soft.outputs["verdict"] == "fail"
    assert "fail-on-regression is false" in soft.summary


def test_push_stores_branch_history_and_checks_against_it(project: Project) -> None:
    res = project.ci(event="push", ref="refs/heads/main", payload=_push_payload(project))
    assert res.code == 0, res.stderr
    assert res.outputs["verdict"] in ("pass", "inconclusive")
    assert "own history" in res.summary
    assert project.gh.log == []  # no PR, no API call
    again = project.ci(event="push", ref="refs/heads/main", payload=_push_payload(project))
    assert again.outputs["verdict"] == "pass"


def _push_payload(project: Project) -> Path:
    data = json.loads((EVENTS / "push.with-new-branch.json").read_text())
    path = project.tmp / "push-branch.json"
    path.write_text(json.dumps(data))
    return path


def test_command_failure_still_writes_summary_and_outputs(project: Project) -> None:
    write_project(project.root, stage=["python3", "-c", "import sys; sys.exit(7)"])
    res = project.ci()
    assert res.code == 3
    assert res.outputs["verdict"] == "error"
    assert "the measured command failed" in res.summary
    assert "::error" in res.stdout
    assert res.outputs["record-path"]
    assert (project.root / ".pepr/ci/error.json").exists()
    assert project.comments() == []


def test_fork_pull_request_gets_no_comment_but_a_summary(project: Project) -> None:
    project.baseline("0.90")
    res = project.ci(payload=project.event(head_repo="mallory/net", head_ref="main"))
    assert res.code == 0, res.stderr
    assert res.outputs["verdict"] == "pass"
    assert "fork" in res.summary and "no comment" in res.summary
    assert [m for m, _, _ in project.gh.log if m != "GET"] == []
    assert (project.root / ".pepr/ci/check.json").exists()


def test_read_only_token_is_a_notice_and_the_result_stands(project: Project) -> None:
    project.baseline("0.99")
    project.gh.read_only = True
    res = project.ci()
    assert res.code == 1  # the gate's verdict, not the API error, decides
    assert "GitHub answered 403" in res.summary
    assert project.gh.token not in res.stdout + res.stderr + res.summary


def test_tag_push_is_a_notice_and_exit_0(project: Project) -> None:
    res = project.ci(event="push", ref="refs/tags/simple-tag")
    assert res.code == 0
    assert res.outputs["verdict"] == "skipped"
    assert "::notice" in res.stdout and "not tags" in res.stdout
    assert not (project.root / ".pepr" / "runs").exists()


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"PEPR_CONFIG": ""}, "input `config` is required"),
        ({"PEPR_COMMENT": "sometimes"}, "input `comment`"),
        ({"PEPR_FAIL_ON_REGRESSION": "maybe"}, "input `fail-on-regression`"),
        ({"PEPR_REPEATS": "0"}, "input `repeats`"),
        ({"PEPR_THRESHOLD": "120%"}, "input `threshold`"),
    ],
)
def test_bad_inputs_exit_2_naming_the_input(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    names: str,
) -> None:
    monkeypatch.setenv("PEPR_CONFIG", "pepr.toml")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert main(["ci"]) == 2
    assert names in capsys.readouterr().err


NASTY = (
    '"; touch pwned-a; # $(touch pwned-b) `touch pwned-c` '
    "<img src=x onerror=alert(1)> @org/team ]]>"
)


def test_injection_changes_nothing_outside_the_comment_text(project: Project) -> None:
    cfg_dir = project.root / "cfg $(touch pwned-d) `touch pwned-e` -->"
    cfg_dir.mkdir()
    shutil.copy(project.root / "pepr.toml", cfg_dir / "pepr.toml")
    shutil.copy(project.root / "train.py", cfg_dir / "train.py")
    config = f"{cfg_dir.name}/pepr.toml"
    project.baseline("0.99", config=config)
    res = project.ci(payload=project.event(head_ref=NASTY), PEPR_CONFIG=config)
    assert res.code == 1, res.stderr
    for where in (project.root, cfg_dir, project.tmp, Path.cwd()):
        assert not list(where.glob("pwned-*"))
    assert set(res.outputs) >= {"verdict", "pepr", "comment-url"}
    assert res.outputs["verdict"] == "fail"
    # Workflow commands: only ours, one per line, nothing smuggled in by the branch name.
    commands = [line for line in res.stdout.splitlines() if line.startswith("::")]
    assert all(re.match(r"::(error|warning|notice) title=pepr-gate::", c) for c in commands)
    (comment,) = project.comments()
    body = comment["body"]
    marker_line = body.split("\n", 1)[0]
    assert marker_line.startswith("<!-- pepr-gate:comment") and marker_line.count("-->") == 1
    assert "<img" not in body
    assert "@org/team" not in body
    assert "touch pwned-a" in body or "touch pwned\\-a" in body  # shown, as text
    # The same config, run again, finds and updates that one comment.
    again = project.ci(payload=project.event(head_ref=NASTY), PEPR_CONFIG=config)
    assert again.code == 1 and len(project.comments()) == 1


def test_comment_command_posts_from_the_artifact(project: Project) -> None:
    project.baseline("0.99")
    project.gh.read_only = True  # the measuring job's read-only token
    measured = project.ci()
    assert measured.code == 1 and project.comments() == []
    project.gh.read_only = False
    check = project.root / ".pepr/ci/check.json"
    env = {
        **os.environ,
        "GITHUB_TOKEN": project.gh.token,
        "GITHUB_API_URL": project.gh.api_url,
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_OUTPUT": str(project.tmp / "out2"),
    }
    base = [sys.executable, "-m", "pepr_gate", "comment", "--from", str(check), "--pr", "2"]
    wrong = subprocess.run(
        [*base, "--expect-head-sha", "d" * 40], env=env, capture_output=True, text=True
    )
    assert wrong.returncode == 2 and "reports commit" in wrong.stderr
    ok = subprocess.run(
        [*base, "--expect-head-sha", HEAD_SHA], env=env, capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr
    (comment,) = project.comments()
    assert "fail" in comment["body"].lower()
    assert parse_outputs((project.tmp / "out2").read_text())["comment-url"] == comment["html_url"]
    again = subprocess.run(
        [*base, "--expect-head-sha", HEAD_SHA], env=env, capture_output=True, text=True
    )
    assert again.returncode == 0 and len(project.comments()) == 1


def test_comment_command_refuses_non_check_data(project: Project) -> None:
    bogus = project.tmp / "check.json"
    bogus.write_text(json.dumps({"schema": "evil", "body": "<script>"}))
    env = {**os.environ, "GITHUB_TOKEN": "x", "GITHUB_REPOSITORY": REPO}
    proc = subprocess.run(
        [sys.executable, "-m", "pepr_gate", "comment", "--from", str(bogus), "--pr", "2; rm -rf /"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "--pr" in proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "pepr_gate", "comment", "--from", str(bogus), "--pr", "2"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "pepr-gate/check/1" in proc.stderr


def test_manual_dispatch_with_a_pr_number_measures_that_pr(project: Project) -> None:
    project.baseline("0.90")
    data = json.loads((EVENTS / "workflow_dispatch.json").read_text())
    data["inputs"] = {"pr": "2"}
    payload = project.tmp / "dispatch.json"
    payload.write_text(json.dumps(data))
    res = project.ci(event="workflow_dispatch", ref="refs/heads/main", payload=payload)
    assert res.code == 0, res.stderr
    assert res.outputs["verdict"] == "pass"
    assert ("GET", f"{project.gh.prefix}/repos/{REPO}/pulls/2", 200) in project.gh.log
    check = json.loads((project.root / ".pepr/ci/check.json").read_text())
    assert (check["head_sha"], check["head_branch"]) == (HEAD_SHA, "feature")
    assert len(project.comments()) == 1


def test_two_working_directories_get_two_comments(project: Project) -> None:
    # `working-directory: a` and `b`, both with `config: pepr.toml`: the marker names the
    # config from the repository root, so neither step overwrites the other's comment.
    for name in ("a", "b"):
        write_project(project.root / name)
        project.baseline("0.90", config=f"{name}/pepr.toml")
    for name in ("a", "b", "a"):
        res = project.ci(cwd=project.root / name, GITHUB_WORKSPACE=str(project.root))
        assert res.code == 0, res.stderr
    markers = sorted(c["body"].split("\n", 1)[0] for c in project.comments())
    assert markers == ["<!-- pepr-gate:comment config=a/pepr.toml -->",
                       "<!-- pepr-gate:comment config=b/pepr.toml -->"]
    check = json.loads((project.root / "a" / ".pepr/ci/check.json").read_text())
    assert check["config_path"] == "a/pepr.toml"


def test_summary_notices_stay_separate_alerts(project: Project) -> None:
    project.baseline("0.99")
    project.gh.read_only = True
    res = project.ci(PEPR_FAIL_ON_REGRESSION="false")
    assert res.code == 0 and res.outputs["verdict"] == "fail"
    alerts = [block for block in res.summary.split("\n\n") if block.startswith("> [!NOTE]")]
    assert len(alerts) == 2  # adjacent quotes would merge into one alert
    assert "GitHub answered 403" in alerts[0] and "fail-on-regression" in alerts[1]


def test_push_summary_shows_the_branch_as_plain_text(project: Project) -> None:
    data = json.loads((EVENTS / "push.with-new-branch.json").read_text())
    payload = project.tmp / "push-under.json"
    payload.write_text(json.dumps(data))
    res = project.ci(event="push", ref="refs/heads/my_branch", payload=payload)
    assert res.code == 0, res.stderr
    # Escapes inside a code span would show as backslashes ("my\\_branch").
    assert "_Push to my\\_branch: compared with this branch's own history._" in res.summary


def test_a_manual_run_seeds_the_branch_with_n_runs_and_a_push_is_this_commit(
        project: Project) -> None:
    # action/examples/seed-baseline.yml: workflow_dispatch on main with `repeats: 5`.
    payload = project.tmp / "dispatch.json"
    data = json.loads((EVENTS / "workflow_dispatch.json").read_text())
    data["inputs"] = {"runs": "5"}
    payload.write_text(json.dumps(data))
    seed = project.ci(event="workflow_dispatch", ref="refs/heads/main", payload=payload,
                      PEPR_REPEATS="5", PEPR_FAIL_ON_REGRESSION="false")
    assert seed.code == 0, seed.stderr
    assert len(seed.outputs["record-path"].splitlines()) == 5
    history = subprocess.run(
        [sys.executable, "-m", "pepr_gate", "history", "--store", project.store,
         "--branch", "main", "--format", "json"],
        cwd=project.root, capture_output=True, text=True, timeout=60)
    assert history.returncode == 0, history.stderr
    assert len(json.loads(history.stdout)) == 5
    push = project.ci(event="push", ref="refs/heads/main", payload=_push_payload(project))
    assert push.outputs["verdict"] == "pass", push.summary
    assert "this commit" in push.summary and "this PR" not in push.summary
