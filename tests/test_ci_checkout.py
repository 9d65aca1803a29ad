"""`pepr-gate ci` measures the commit it reports, judged by settings the PR cannot loosen.

Real git throughout: a bare origin holding `main`, a PR branch and GitHub's
`refs/pull/2/head` and `refs/pull/2/merge`, and checkouts made the way actions/checkout
makes them (a depth-1 fetch of one ref, then a detached checkout).
"""

from __future__ import annotations

import html
import json
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

try:
    from tests.github_server import FakeGitHub
    from tests.test_ci_cmd import EVENTS, REPO, Project, Result, write_project
except ImportError:
    from github_server import FakeGitHub  # type: ignore[no-redef]
    from test_ci_cmd import EVENTS, REPO, Project, Result, write_project  # type: ignore[no-redef]


def plain(markdown: str) -> str:
    """Markdown as GitHub shows it (the escapes gone)."""
    return html.unescape(markdown.replace("\\", ""))


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@dataclass
class Repo:
    tmp: Path
    origin: Path
    base: str  # main's tip, the PR's base
    head: str  # the PR's head
    merge: str  # GitHub's merge commit (refs/pull/2/merge)
    gh: FakeGitHub

    def checkout(self, ref: str, name: str = "ck", depth: int | None = 1) -> Path:
        """What actions/checkout does: init, fetch one ref (depth 1), detached checkout."""
        root = self.tmp / name
        git("init", "-q", str(root), cwd=self.tmp)
        git("remote", "add", "origin", self.origin.as_uri(), cwd=root)
        fetch = ["fetch", "-q", "--no-tags", *([f"--depth={depth}"] if depth else [])]
        git(*fetch, "origin", f"+{ref}:refs/remotes/checkout", cwd=root)
        git("checkout", "-q", "--detach", "refs/remotes/checkout", cwd=root)
        return root

    def project(self, root: Path) -> Project:
        return Project(root, f"sqlite:///{self.tmp / 'history.db'}", self.gh, self.tmp)

    def pr_event(self) -> Path:
        data = json.loads((EVENTS / "pull_request.opened.json").read_text())
        data["repository"]["full_name"] = REPO
        data["pull_request"]["base"].update(ref="main", sha=self.base)
        data["pull_request"]["base"]["repo"]["full_name"] = REPO
        data["pull_request"]["head"].update(ref="feature", sha=self.head)
        data["pull_request"]["head"]["repo"]["full_name"] = REPO
        path = self.tmp / "pr-event.json"
        path.write_text(json.dumps(data))
        return path

    def ci_pr(self, root: Path, *, payload: Path | None = None, **env: str) -> Result:
        return self.project(root).ci(payload=payload or self.pr_event(), GITHUB_SHA=self.merge,
                                     GITHUB_WORKSPACE=str(root), **env)

    def runs_stored(self) -> int:
        db = self.tmp / "history.db"
        if not db.exists():
            return 0
        with sqlite3.connect(db) as con:
            return int(con.execute("select count(*) from pepr_runs").fetchone()[0])


def make_repo(tmp: Path, pr_toml: str | None = None, base_toml: str | None = "same",
              pr_change: Callable[[Path], None] | None = None) -> Repo:
    """main (the base) and a PR branch; `pr_toml` replaces pepr.toml on the branch and
    `pr_change` edits the branch's files (given the checkout's root) before its commit."""
    origin = tmp / "origin.git"
    git("init", "-q", "--bare", "-b", "main", str(origin), cwd=tmp)
    # Like GitHub: a commit may be fetched by its SHA (the base, from a depth-1 clone).
    git("config", "uploadpack.allowAnySHA1InWant", "true", cwd=origin)
    seed = tmp / "seed"
    git("init", "-q", "-b", "main", str(seed), cwd=tmp)
    write_project(seed)
    if base_toml is None:
        (seed / "pepr.toml").unlink()
    (seed / ".gitignore").write_text(".pepr/\nmetrics.json\n")
    git("add", "-A", cwd=seed)
    git("commit", "-q", "-m", "base", cwd=seed)
    base = git("rev-parse", "HEAD", cwd=seed)
    git("checkout", "-q", "-b", "feature", cwd=seed)
    if pr_toml is not None:
        (seed / "pepr.toml").write_text(pr_toml)
    if pr_change is not None:
        pr_change(seed)
    (seed / "NOTES.md").write_text("the PR's change\n")
    git("add", "-A", cwd=seed)
    git("commit", "-q", "-m", "feature", cwd=seed)
    head = git("rev-parse", "HEAD", cwd=seed)
    git("checkout", "-q", "--detach", "main", cwd=seed)
    git("merge", "-q", "--no-ff", "-m", f"Merge {head} into {base}", "feature", cwd=seed)
    merge = git("rev-parse", "HEAD", cwd=seed)
    git("push", "-q", origin.as_uri(), "main", "feature", f"{head}:refs/pull/2/head",
        f"{merge}:refs/pull/2/merge", cwd=seed)
    gh = FakeGitHub().start()
    gh.add_pull(REPO, 2, head_sha=head)
    gh.pulls[(REPO, 2)]["base"]["sha"] = base
    return Repo(tmp, origin, base, head, merge, gh)


@pytest.fixture
def repo(tmp_path: Path, git_env: dict[str, str]) -> Iterator[Repo]:
    made = make_repo(tmp_path)
    yield made
    made.gh.stop()


def test_a_checkout_of_the_base_commit_is_refused_before_anything_runs(repo: Repo) -> None:
    root = repo.checkout("refs/heads/main")
    res = repo.ci_pr(root)
    assert res.code == 2, res.stderr
    assert res.outputs["verdict"] == "error"
    # Both commits and the checkout line that fixes it, in the log and the summary.
    for text in (res.stderr, res.summary):
        assert repo.base[:12] in text and repo.head[:12] in text
        assert "ref: ${{ github.event.pull_request.head.sha }}" in text
    assert "::error" in res.stdout
    assert repo.gh.comments == {}  # the comment is left alone
    assert repo.runs_stored() == 0  # nothing stored
    assert not (root / "metrics.json").exists()  # the job never started


def test_the_prs_head_checked_out_passes_and_is_stored_under_it(repo: Repo) -> None:
    root = repo.checkout("refs/pull/2/head")
    res = repo.ci_pr(root)
    assert res.code == 0, res.stderr
    assert res.outputs["verdict"] in ("pass", "inconclusive")
    assert repo.runs_stored() == 3
    record = json.loads((root / res.outputs["record-path"].splitlines()[0]).read_text())
    assert record["git"]["sha"] == repo.head
    assert not any("merge of" in note for note in record["notes"])


def test_githubs_merge_commit_in_a_depth_1_clone_is_measured_as_the_merge(repo: Repo) -> None:
    root = repo.checkout("refs/pull/2/merge")
    # Depth 1: neither parent is in the clone, so `HEAD^2` cannot be asked.
    assert subprocess.run(["git", "rev-parse", "-q", "--verify", "HEAD^2"], cwd=root,
                          capture_output=True).returncode != 0
    res = repo.ci_pr(root)
    assert res.code == 0, res.stderr
    said = f"measured the merge of {repo.head[:12]} into {repo.base[:12]}: GitHub's merge commit"
    assert said in plain(res.summary)
    check = json.loads((root / ".pepr/ci/check.json").read_text())
    assert any(said in note for note in check["notes"])
    record = json.loads((root / res.outputs["record-path"].splitlines()[0]).read_text())
    assert record["git"]["sha"] == repo.head and any(said in n for n in record["notes"])
    assert said in plain(repo.gh.comments[(REPO, 2)][0]["body"])
    # The base commit was not in the clone: it was fetched to read the base's config.
    assert f"base commit {repo.base[:12]} was not in this clone" in plain(res.summary)


def test_a_merge_commit_of_another_head_is_refused(repo: Repo) -> None:
    root = repo.checkout("refs/pull/2/merge")
    other = "1234567890abcdef1234567890abcdef12345678"
    res = repo.project(root).ci(payload=_with_head(repo, other), GITHUB_SHA=repo.merge)
    assert res.code == 2
    assert res.outputs["verdict"] == "error"
    assert repo.merge[:12] in res.stderr and other[:12] in res.stderr
    assert repo.gh.comments == {} and repo.runs_stored() == 0


def _with_head(repo: Repo, sha: str) -> Path:
    data = json.loads(repo.pr_event().read_text())
    data["pull_request"]["head"]["sha"] = sha
    path = repo.tmp / "other-head.json"
    path.write_text(json.dumps(data))
    return path


def test_a_push_must_check_out_the_pushed_commit(repo: Repo) -> None:
    root = repo.checkout("refs/heads/main", depth=None)
    event = repo.tmp / "push.json"
    event.write_text(json.dumps({"ref": "refs/heads/feature", "before": repo.base,
                                 "after": repo.head, "repository": {"full_name": REPO}}))
    res = repo.project(root).ci(event="push", ref="refs/heads/feature", payload=event,
                                GITHUB_SHA=repo.head)
    assert res.code == 2
    assert res.outputs["verdict"] == "error"
    assert repo.base[:12] in res.stderr and repo.head[:12] in res.stderr
    assert "ref: ${{ github.sha }}" in res.stderr
    assert repo.runs_stored() == 0
    good = repo.checkout("refs/heads/feature", name="ck-feature")
    ok = repo.project(good).ci(event="push", ref="refs/heads/feature", payload=event,
                               GITHUB_SHA=repo.head)
    assert ok.code == 0, ok.stderr
    assert repo.runs_stored() == 3


def test_a_dispatch_names_the_pull_request_head_ref_in_its_fix(repo: Repo) -> None:
    root = repo.checkout("refs/heads/main")
    data = json.loads((EVENTS / "workflow_dispatch.json").read_text())
    data["inputs"] = {"pr": "2"}
    payload = repo.tmp / "dispatch.json"
    payload.write_text(json.dumps(data))
    res = repo.project(root).ci(event="workflow_dispatch", ref="refs/heads/main",
                                payload=payload, GITHUB_SHA=repo.base)
    assert res.code == 2, res.stderr
    assert "refs/pull/${{ inputs.pr }}/head" in res.stderr
    assert repo.gh.comments == {} and repo.runs_stored() == 0
    ok = repo.project(repo.checkout("refs/pull/2/head", name="ck2")).ci(
        event="workflow_dispatch", ref="refs/heads/main", payload=payload, GITHUB_SHA=repo.base)
    assert ok.code == 0, ok.stderr


# --- whose settings judge ---------------------------------------------------------------

def _toml(tmp: Path, **gate: str) -> str:
    probe = tmp / "probe"
    write_project(probe)
    text = (probe / "pepr.toml").read_text()
    for key, value in gate.items():
        text = text.replace(f"\n{key} = ", f"\n# was {key}: ").replace(
            "[gate]\n", f"[gate]\n{key} = {value}\n", 1)
    return text


def test_a_pr_cannot_loosen_its_own_gate(tmp_path: Path, git_env: dict[str, str]) -> None:
    repo = make_repo(tmp_path, pr_toml=_toml(tmp_path, max_pepr_drop="0.9",
                                             accept_label='"ok"'))
    try:
        repo.project(repo.checkout("refs/heads/main", name="main-ck")).baseline("0.99")
        root = repo.checkout("refs/pull/2/merge")
        res = repo.ci_pr(root, SELFTEST_ACCURACY="0.80")
        assert res.code == 1, res.stderr
        assert res.outputs["verdict"] == "fail"
        said = "this PR changes gate.max_pepr_drop 0.05 -> 0.9: judged by the base's 0.05"
        assert said in plain(res.summary)
        assert 'gate.accept_label "pepr-gate: accept" -> "ok"' in plain(res.summary)
        assert said in plain(repo.gh.comments[(REPO, 2)][0]["body"])
        check = json.loads((root / ".pepr/ci/check.json").read_text())
        assert check["threshold"] == pytest.approx(0.05)
        # The PR's own label name is no override; the base's stays the reviewable one.
        own = repo.ci_pr(root, SELFTEST_ACCURACY="0.80", payload=_labelled(repo, "ok"))
        assert own.outputs["verdict"] == "fail"
        base = repo.ci_pr(root, SELFTEST_ACCURACY="0.80",
                          payload=_labelled(repo, "pepr-gate: accept"))
        assert base.code == 0 and base.outputs["verdict"] == "accepted"
    finally:
        repo.gh.stop()


def _labelled(repo: Repo, label: str) -> Path:
    data = json.loads(repo.pr_event().read_text())
    data["pull_request"]["labels"] = [{"name": label}]
    path = repo.tmp / "labelled.json"
    path.write_text(json.dumps(data))
    return path


def test_a_config_new_in_the_pr_is_judged_by_its_own(tmp_path: Path,
                                                     git_env: dict[str, str]) -> None:
    repo = make_repo(tmp_path, pr_toml=_toml(tmp_path, max_pepr_drop="0.5"), base_toml=None)
    try:
        root = repo.checkout("refs/pull/2/merge")
        res = repo.ci_pr(root)
        assert res.code == 0, res.stderr
        assert "pepr.toml is new in this pull request" in res.summary
        check = json.loads((root / ".pepr/ci/check.json").read_text())
        assert check["threshold"] == pytest.approx(0.5)
    finally:
        repo.gh.stop()


def test_an_unreachable_base_commit_fails_clearly(repo: Repo) -> None:
    root = repo.checkout("refs/pull/2/merge")
    git("remote", "set-url", "origin", (repo.tmp / "gone.git").as_uri(), cwd=root)
    res = repo.ci_pr(root)
    assert res.code == 2
    assert res.outputs["verdict"] == "error"
    assert f"base commit {repo.base[:12]} is not in this clone" in res.stderr
    assert "fetch-depth: 0" in res.stderr
    assert repo.runs_stored() == 0 and repo.gh.comments == {}


def test_outside_a_git_checkout_a_notice_says_nothing_was_verified(tmp_path: Path) -> None:
    gh = FakeGitHub().start()
    try:
        gh.add_pull(REPO, 2, head_sha="ec26c3e57ca3a959ca5aad62de7213c562f8c821")
        root = tmp_path / "plain"
        write_project(root)
        res = Project(root, f"sqlite:///{tmp_path / 'h.db'}", gh, tmp_path).ci()
        assert res.code == 0, res.stderr
        assert "is not a git checkout" in res.summary
    finally:
        gh.stop()



def test_a_pyproject_gaining_its_pepr_gate_table_in_the_pr_is_new(
    tmp_path: Path, git_env: dict[str, str]
) -> None:
    from pepr_gate.config import load_config
    from pepr_gate.publish.github.context import EventContext
    from pepr_gate.services.ci_commit import base_settings

    root = tmp_path / "r"
    git("init", "-q", "-b", "main", str(root), cwd=tmp_path)
    (root / "pyproject.toml").write_text('[project]\nname = "x"\n')
    git("add", "-A", cwd=root)
    git("commit", "-q", "-m", "base", cwd=root)
    base = git("rev-parse", "HEAD", cwd=root)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "x"\n[tool.pepr-gate.gate]\nmax_pepr_drop = 0.2\n')
    ctx = EventContext(event_name="pull_request", kind="pull_request", repo=REPO,
                       api_url="", server_url="", sha=None, ref=None, branch="feature",
                       base_sha=base)
    config = load_config(root / "pyproject.toml")
    judged_by, notes = base_settings(ctx, config, root)
    assert judged_by.gate.max_pepr_drop == pytest.approx(0.2)
    assert notes == [f"pyproject.toml is new in this pull request (the base {base[:12]} has "
                     "none): its own [gate] and [score] settings judge it"]
    git("commit", "-q", "-am", "table on the base too", cwd=root)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "x"\n[tool.pepr-gate.gate]\nmax_pepr_drop = 0.5\n')
    ctx = EventContext(event_name="pull_request", kind="pull_request", repo=REPO,
                       api_url="", server_url="", sha=None, ref=None, branch="feature",
                       base_sha=git("rev-parse", "HEAD", cwd=root))
    judged_by, notes = base_settings(ctx, load_config(root / "pyproject.toml"), root)
    assert judged_by.gate.max_pepr_drop == pytest.approx(0.2)
    assert notes == ["this PR changes gate.max_pepr_drop 0.2 -> 0.5: judged by the base's 0.2"]
