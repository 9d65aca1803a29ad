"""What `ci` says where: the comment modes as documented, the `comment-url` output, the
annotation and the log lines (issue 19, item 9)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

try:
    from tests.github_server import FakeGitHub
    from tests.test_ci_cmd import HEAD_SHA, REPO, Project, write_project
except ImportError:
    from github_server import FakeGitHub  # type: ignore[no-redef]
    from test_ci_cmd import HEAD_SHA, REPO, Project, write_project  # type: ignore[no-redef]


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    gh = FakeGitHub().start()
    gh.add_pull(REPO, 2, head_sha=HEAD_SHA)
    gh.history = [HEAD_SHA]
    root = tmp_path / "proj"
    write_project(root)
    yield Project(root, f"sqlite:///{tmp_path / 'history.db'}", gh, tmp_path)
    gh.stop()


def labelled(project: Project, *labels: str) -> Path:
    data = json.loads(project.event().read_text())
    data["pull_request"]["labels"] = [{"name": name} for name in labels]
    path = project.tmp / "labelled.json"
    path.write_text(json.dumps(data))
    return path


def test_on_regression_comments_on_fail_and_warn_only_not_accepted(project: Project) -> None:
    project.baseline("0.99")
    res = project.ci(PEPR_COMMENT="on-regression",
                     payload=labelled(project, "pepr-gate: accept"))
    assert res.code == 0, res.stderr
    assert res.outputs["verdict"] == "accepted"
    assert project.comments() == []
    assert res.outputs["comment-url"] == ""
    failed = project.ci(PEPR_COMMENT="on-regression")
    assert failed.outputs["verdict"] == "fail"
    assert len(project.comments()) == 1
    assert failed.outputs["comment-url"].startswith("https://github.example/")


def test_comment_url_is_empty_when_the_comment_was_left_as_it_was(project: Project) -> None:
    project.baseline("0.90")
    first = project.ci(PEPR_COMMENT="on-change")
    assert first.outputs["comment-url"]
    again = project.ci(PEPR_COMMENT="on-change")
    assert again.code == 0, again.stderr
    assert again.outputs["comment-url"] == ""  # nothing was posted by this run
    assert "comment not changed" in again.summary
    # The log is plain text: the reason as written, no Markdown escapes.
    assert "pepr-gate: comment not changed: verdict unchanged (pass)" in again.stdout
    assert "\\(" not in again.stdout


def test_the_annotation_joins_reasons_without_a_stray_full_stop(project: Project) -> None:
    project.baseline("0.99")
    res = project.ci()
    assert res.outputs["verdict"] == "fail"
    line = next(ln for ln in res.stdout.splitlines() if ln.startswith("::error"))
    assert ".;" not in line and "; " in line
