"""Wrong verdicts a hostile pull request (or payload) could get out of `ci`, each as a user
would hit it: real git repositories, the real CLI, the local GitHub server."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

try:
    from tests.github_server import FakeGitHub
    from tests.test_ci_checkout import REPO, Repo, _toml, make_repo, plain
    from tests.test_ci_cmd import HEAD_SHA, Project, write_project
except ImportError:
    from github_server import FakeGitHub  # type: ignore[no-redef]
    from test_ci_checkout import REPO, Repo, _toml, make_repo, plain  # type: ignore[no-redef]
    from test_ci_cmd import HEAD_SHA, Project, write_project  # type: ignore[no-redef]


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    gh = FakeGitHub().start()
    gh.add_pull(REPO, 2, head_sha=HEAD_SHA)
    root = tmp_path / "proj"
    write_project(root)
    yield Project(root, f"sqlite:///{tmp_path / 'history.db'}", gh, tmp_path)
    gh.stop()


def test_a_pepr_toml_turned_into_a_link_is_judged_by_the_bases_file(
    tmp_path: Path, git_env: dict[str, str]
) -> None:
    loose = _toml(tmp_path, max_pepr_drop="0.9")

    def link_to_loose(root: Path) -> None:
        (root / "loose.toml").write_text(loose)
        (root / "pepr.toml").unlink()
        os.symlink("loose.toml", root / "pepr.toml")

    repo = make_repo(tmp_path, pr_change=link_to_loose)
    try:
        repo.project(repo.checkout("refs/heads/main", name="main-ck")).baseline("0.99")
        root = repo.checkout("refs/pull/2/merge")
        assert (root / "pepr.toml").is_symlink()
        res = repo.ci_pr(root, SELFTEST_ACCURACY="0.80")
        assert res.code == 1, res.stderr
        assert res.outputs["verdict"] == "fail"
        said = "this PR changes gate.max_pepr_drop 0.05 -> 0.9: judged by the base's 0.05"
        assert said in plain(res.summary)
        check = json.loads((root / ".pepr/ci/check.json").read_text())
        assert check["threshold"] == pytest.approx(0.05)
        assert check["config_path"] == "pepr.toml"
        body = repo.gh.comments[(REPO, 2)][0]["body"]
        assert "config=pepr.toml" in body and "loose.toml" not in body
    finally:
        repo.gh.stop()


def test_performance_falling_to_exactly_zero_fails(project: Project) -> None:
    project.baseline("0.80")
    res = project.ci(SELFTEST_ACCURACY="0.0")
    assert res.code == 1, res.stdout + res.stderr
    assert res.outputs["verdict"] == "fail"
    assert res.outputs["pepr"] == "0" and float(res.outputs["pepr-change"]) == -1.0
    check = json.loads((project.root / ".pepr/ci/check.json").read_text())
    said = " ".join(check["reasons"])
    assert "cannot be computed" not in said
    assert "fell to 0" in said and "the performance was 0 in 3 of 3 candidate runs" in said


def test_a_cosmetic_performance_name_keeps_the_baseline(tmp_path: Path,
                                                        git_env: dict[str, str]) -> None:
    named = _toml(tmp_path).replace('key = "accuracy"\n', 'key = "accuracy"\nname = "accuracy"\n')
    repo = make_repo(tmp_path, pr_toml=named)
    try:
        repo.project(repo.checkout("refs/heads/main", name="main-ck")).baseline("0.99")
        root = repo.checkout("refs/pull/2/merge")
        res = repo.ci_pr(root, SELFTEST_ACCURACY="0.80")
        assert res.code == 1, res.stdout + res.stderr
        assert res.outputs["verdict"] == "fail"  # was: inconclusive, no baseline, exit 0
        assert "No baseline" not in plain(res.summary)
    finally:
        repo.gh.stop()


def test_a_pr_changing_what_is_measured_is_not_silently_green(
    tmp_path: Path, git_env: dict[str, str]
) -> None:
    pue = _toml(tmp_path).replace("[meter]\n", "[carbon]\npue = 1.2\n\n[meter]\n")
    repo = make_repo(tmp_path, pr_toml=pue)
    try:
        repo.project(repo.checkout("refs/heads/main", name="main-ck")).baseline("0.99")
        root = repo.checkout("refs/pull/2/merge")
        res = repo.ci_pr(root, SELFTEST_ACCURACY="0.80")
        assert res.code == 1, res.stdout + res.stderr
        assert res.outputs["verdict"] == "inconclusive"
        said = ("No baseline because this pull request changes what is measured: carbon.pue "
                "in pepr.toml differ from the base's")
        assert said in plain(res.summary)
        assert said in plain(repo.gh.comments[(REPO, 2)][0]["body"])
        assert "until a reviewer adds the label 'pepr-gate: accept'" in plain(res.summary)
        # The base's accept label is the reviewer's way through.
        data = json.loads(repo.pr_event().read_text())
        data["pull_request"]["labels"] = [{"name": "pepr-gate: accept"}]
        labelled = repo.tmp / "labelled.json"
        labelled.write_text(json.dumps(data))
        ok = repo.ci_pr(root, SELFTEST_ACCURACY="0.80", payload=labelled)
        assert ok.code == 0, ok.stdout + ok.stderr
        assert ok.outputs["verdict"] == "accepted"
        # The same config measured on the base branch gives a baseline again: judged as usual.
    finally:
        repo.gh.stop()


def _payload(repo: Repo, edit: Callable[[dict[str, Any]], None]) -> Path:
    data = json.loads(repo.pr_event().read_text())
    edit(data)
    path = repo.tmp / "hostile-event.json"
    path.write_text(json.dumps(data))
    return path


def test_a_payload_sha_that_is_a_git_option_is_refused(tmp_path: Path,
                                                       git_env: dict[str, str]) -> None:
    pwned = tmp_path / "PWNED"
    repo = make_repo(tmp_path)
    try:
        root = repo.checkout("refs/pull/2/merge")  # depth 1: the base would be fetched
        for field in ("base", "head"):
            def edit(data: dict[str, Any], side: str = field) -> None:
                data["pull_request"][side]["sha"] = f"--upload-pack=touch {pwned}"

            res = repo.ci_pr(root, payload=_payload(repo, edit))
            assert res.code == 2, res.stderr
            assert res.outputs["verdict"] == "error"
            assert f"pull_request.{field}.sha" in res.stderr
            assert "not a commit SHA (40 or 64 hexadecimal characters)" in res.stderr
            assert not pwned.exists()
        assert repo.runs_stored() == 0 and repo.gh.comments == {}
    finally:
        repo.gh.stop()


@pytest.mark.parametrize(("field", "value", "said"), [
    ("base.sha", 12345, "pull_request.base.sha is 12345 (int), not a commit SHA"),
    ("head.sha", 12345, "pull_request.head.sha is 12345 (int), not a commit SHA"),
    ("head", "feature", "pull_request.head is 'feature' (str), not an object"),
    ("base", ["main"], "pull_request.base is ['main'] (list), not an object"),
    ("labels", "pepr-gate: accept", "pull_request.labels is 'pepr-gate: accept' (str)"),
    ("head.ref", 7, "pull_request.head.ref is 7 (int), not a string"),
])
def test_payload_fields_of_the_wrong_type_exit_2_naming_the_field(
    tmp_path: Path, git_env: dict[str, str], field: str, value: Any, said: str
) -> None:
    repo = make_repo(tmp_path)
    try:
        root = repo.checkout("refs/pull/2/head")

        def edit(data: dict[str, Any]) -> None:
            where = data["pull_request"]
            *parents, last = field.split(".")
            for key in parents:
                where = where[key]
            where[last] = value

        res = repo.ci_pr(root, payload=_payload(repo, edit))
        assert res.code == 2, res.stderr  # was 4: 'int' object has no attribute 'lower'
        assert said in res.stderr
        assert "Traceback" not in res.stderr
        assert res.outputs["verdict"] == "error"
    finally:
        repo.gh.stop()


def test_a_malformed_push_after_is_refused(tmp_path: Path, git_env: dict[str, str]) -> None:
    repo = make_repo(tmp_path)
    try:
        root = repo.checkout("refs/heads/feature")
        event = tmp_path / "push.json"
        event.write_text(json.dumps({"ref": "refs/heads/feature", "before": repo.base,
                                     "after": "--exec=id", "repository": {"full_name": REPO}}))
        res = repo.project(root).ci(event="push", ref="refs/heads/feature", payload=event,
                                   GITHUB_SHA=repo.head)
        assert res.code == 2, res.stderr
        assert "the event payload's after is '--exec=id' (str), not a commit SHA" in res.stderr
    finally:
        repo.gh.stop()
