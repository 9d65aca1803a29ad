"""`pepr-gate ci` with `repeats: auto` and with the accept label, end to end.

The real CLI in a subprocess, the replay meter (steady energy), a real SQLite store and a
local fake GitHub API; the pull request's labels come from the event payload.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

try:
    from tests.github_server import FakeGitHub
    from tests.test_ci_cmd import EVENTS, REPO, Project, write_project
except ImportError:
    from github_server import FakeGitHub  # type: ignore[no-redef]
    from test_ci_cmd import EVENTS, REPO, Project, write_project  # type: ignore[no-redef]


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    gh = FakeGitHub().start()
    gh.add_pull(REPO, 2, head_sha="ec26c3e57ca3a959ca5aad62de7213c562f8c821")
    root = tmp_path / "proj"
    write_project(root)
    yield Project(root, f"sqlite:///{tmp_path / 'history.db'}", gh, tmp_path)
    gh.stop()


def base_runs(project: Project, n: int, accuracy: str = "0.90") -> None:
    env = {**os.environ, "SELFTEST_ACCURACY": accuracy}
    done = subprocess.run([sys.executable, "-m", "pepr_gate", "run", "--branch", "main",
                           "--store", project.store, "--repeats", str(n)],
                          cwd=project.root, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def labelled(project: Project, *labels: str) -> Path:
    data = json.loads(project.event().read_text())
    data["action"] = "labeled"
    data["pull_request"]["labels"] = [{"name": n, "color": "ededed"} for n in labels]
    path = project.tmp / "event-labeled.json"
    path.write_text(json.dumps(data))
    return path


def candidate_runs(project: Project) -> int:
    return len(list((project.root / ".pepr" / "ci" / "runs").glob("*.json")))


def test_auto_repeats_stop_as_soon_as_the_verdict_is_decided(project: Project) -> None:
    base_runs(project, 5)
    res = project.ci("--repeats", "auto", SELFTEST_ACCURACY="0.90")
    assert res.code == 0, res.stderr
    assert res.outputs["verdict"] == "pass"
    assert candidate_runs(project) == 1  # a steady baseline decides at the first look
    assert "stopped after 1 candidate repeat" in res.summary


def test_auto_repeats_go_on_while_too_noisy_and_stop_at_the_maximum(project: Project) -> None:
    (project.root / "pepr.toml").write_text(
        (project.root / "pepr.toml").read_text().replace(
            "repeats = 3\n", 'repeats = "auto"\nmax_repeats = 2\n'))
    base_runs(project, 1, accuracy="0.99")  # one base run: the spread can only be assumed
    res = project.ci(SELFTEST_ACCURACY="0.90")
    assert res.code == 0, res.stderr
    assert res.outputs["verdict"] == "inconclusive"
    assert candidate_runs(project) == 2
    assert "maximum of 2 candidate repeats" in res.summary
    assert "too noisy to decide" in res.summary


def test_the_accept_label_turns_a_fail_into_accepted(project: Project) -> None:
    base_runs(project, 5, accuracy="0.99")
    failed = project.ci("--repeats", "2", payload=labelled(project, "bug"),
                        SELFTEST_ACCURACY="0.90")
    assert failed.code == 1 and failed.outputs["verdict"] == "fail", failed.stderr
    res = project.ci("--repeats", "2", payload=labelled(project, "bug", "pepr-gate: accept"),
                     SELFTEST_ACCURACY="0.90")
    assert res.code == 0, res.stderr
    assert res.outputs["verdict"] == "accepted"
    check = json.loads((project.root / ".pepr/ci/check.json").read_text())
    assert check["accepted_by"] == "pepr-gate: accept"
    body = project.comments()[-1]["body"]
    assert "pepr-gate: accept" in body and "fell" in body


def test_labels_are_read_from_real_payloads() -> None:
    from pepr_gate.publish.github.context import load_event

    env = {"GITHUB_EVENT_NAME": "pull_request",
           "GITHUB_EVENT_PATH": str(EVENTS / "pull_request.opened.json")}
    assert load_event(env).labels == ("bug",)
    env["GITHUB_EVENT_PATH"] = str(EVENTS / "pull_request.synchronize.json")
    assert load_event(env).labels == tuple(
        label["name"] for label in json.loads(
            (EVENTS / "pull_request.synchronize.json").read_text())["pull_request"]["labels"])


def test_auto_repeats_run_on_until_the_drop_is_decided(project: Project) -> None:
    # Two base runs and one candidate run are too few to measure the spread (it is assumed,
    # and an assumed spread never fails): the loop runs on until it is measured.
    base_runs(project, 2, accuracy="0.99")
    res = project.ci("--repeats", "auto", SELFTEST_ACCURACY="0.90")
    assert res.code == 1, res.stderr
    assert res.outputs["verdict"] == "fail"
    assert 1 < candidate_runs(project) <= 5
    assert f"stopped after {candidate_runs(project)} candidate repeats" in res.summary
    # Each repeat's record says an adaptive loop of at most 5 looks made it, so a later
    # `pepr-gate check` of the group judges it at the loop's levels.
    records = [json.loads(p.read_text())
               for p in (project.root / ".pepr" / "ci" / "runs").glob("*.json")]
    assert {r["adaptive_looks"] for r in records} == {5}


def test_config_takes_auto_repeats_and_a_paired_baseline(tmp_path: Path) -> None:
    from pepr_gate.config import load_config
    from pepr_gate.errors import ConfigError

    path = tmp_path / "pepr.toml"
    path.write_text('[run]\nrepeats = "auto"\nmax_repeats = 8\n[gate]\nbaseline = "paired"\n')
    config = load_config(path)
    assert (config.run.repeats, config.run.max_repeats) == ("auto", 8)
    assert config.gate.baseline == "paired"
    assert load_config(tmp_path, required=False).run.max_repeats == 8
    path.write_text('[run]\nrepeats = "sometimes"\n')
    with pytest.raises(ConfigError, match=r"field 'run.repeats': must be a whole number from 1 "
                       r"to 100, or \"auto\" \(got 'sometimes'\)"):
        load_config(path)
    path.write_text('[gate]\nbaseline = "yesterday"\n')
    with pytest.raises(ConfigError, match=r"gate\.baseline"):
        load_config(path)


def test_a_bad_repeats_input_names_the_action_input(project: Project) -> None:
    res = project.ci(PEPR_REPEATS="sometimes")
    assert res.code == 2
    assert "input `repeats` (PEPR_REPEATS) = 'sometimes'" in res.stderr
    assert "or auto" in res.stderr


def test_run_with_auto_repeats_stops_once_decided(project: Project) -> None:
    base_runs(project, 5)
    env = {**os.environ, "SELFTEST_ACCURACY": "0.90"}
    done = subprocess.run([sys.executable, "-m", "pepr_gate", "run", "--branch", "feature",
                           "--store", project.store, "--repeats", "auto"],
                          cwd=project.root, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("record: ") == 1
    assert "stopped after 1 candidate repeat, the verdict was decided" in done.stdout
    assert "Verdict so far: pass" in done.stdout
