"""The example workflows a user copies: valid GitHub workflow syntax (the schema check
`check-jsonschema` ships, vendored, so it runs offline), the PR head checked out, the job's
dependencies installed in a step of its own, and a baseline built for the fork pair too."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHECK = str(Path(sys.executable).parent / "check-jsonschema")
EXAMPLES = sorted((ROOT / "action" / "examples").glob("*.yml"))
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
HEAD = "${{ github.event.pull_request.head.sha || github.sha }}"


def schema_check(schema: str, *paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CHECK, "--builtin-schema", schema, *map(str, paths)],
                          capture_output=True, text=True, timeout=120)


def test_workflows_are_valid_github_workflow_syntax() -> None:
    proc = schema_check("vendor.github-workflows", *EXAMPLES, *WORKFLOWS)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_action_yml_is_valid_github_action_syntax() -> None:
    proc = schema_check("vendor.github-actions", ROOT / "action.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_schema_check_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("on: pull_request\njobs:\n  a:\n    runs-on: ubuntu-24.04\n"
                      "    steps:\n      - uses: actions/checkout@v4\n        run: echo both\n")
    proc = schema_check("vendor.github-workflows", broken)
    assert proc.returncode == 1 and "broken.yml" in proc.stdout


@pytest.mark.parametrize(
    ("name", "job", "ref"),
    [
        ("same-repo.yml", "pepr", HEAD),
        ("container.yml", "pepr", HEAD),
        ("fork-measure.yml", "measure", "${{ github.event.pull_request.head.sha }}"),
    ],
)
def test_measuring_examples_check_out_the_pr_head_and_install_the_job(
    name: str, job: str, ref: str
) -> None:
    doc = yaml.safe_load((ROOT / "action" / "examples" / name).read_text(encoding="utf-8"))
    found = doc["jobs"][job]["steps"]
    checkout = next(s for s in found if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["ref"] == ref
    names = [s.get("name", "") for s in found]
    deps = names.index("Install the job's dependencies")
    gate = next(i for i, s in enumerate(found) if s.get("uses", "").startswith("OWNER/pepr-gate"))
    assert deps < gate and "pip install -r requirements.txt" in found[deps]["run"]


def test_fork_pair_builds_its_own_baseline_on_pushes() -> None:
    doc = yaml.safe_load((ROOT / "action" / "examples" / "fork-measure.yml").read_text())
    triggers = doc[True]  # YAML 1.1 reads the key `on` as True
    assert "pull_request" in triggers and triggers["push"]["branches"] == ["main"]
    baseline = doc["jobs"]["baseline"]
    names = [s.get("name", "") for s in baseline["steps"]]
    assert "Install the job's dependencies" in names
    gate = next(s for s in baseline["steps"] if s.get("uses", "").startswith("OWNER/pepr-gate"))
    assert gate["with"]["github-token"] == "${{ secrets.GITHUB_TOKEN }}"  # pushes the history
    comment = yaml.safe_load((ROOT / "action" / "examples" / "fork-comment.yml").read_text())
    # ... while the comment workflow still acts only on pull-request runs.
    assert comment["jobs"]["comment"]["if"] == "github.event.workflow_run.event == 'pull_request'"


def test_the_seeding_example_stores_n_runs_of_the_branch_it_is_run_on() -> None:
    doc = yaml.safe_load((ROOT / "action" / "examples" / "seed-baseline.yml").read_text(
        encoding="utf-8"))
    runs = doc[True]["workflow_dispatch"]["inputs"]["runs"]
    assert runs["default"] == 5 and runs["type"] == "number"
    steps = doc["jobs"]["seed"]["steps"]
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["ref"] == "${{ github.sha }}"
    gate = next(s for s in steps if s.get("uses", "").startswith("OWNER/pepr-gate@"))
    assert gate["with"]["repeats"] == "${{ inputs.runs }}"
    # Not in same-repo.yml's group, whose cancel-in-progress would let a push cancel it.
    same = yaml.safe_load((ROOT / "action" / "examples" / "same-repo.yml").read_text())
    assert doc["concurrency"] == {"group": "pepr-gate-seed-${{ github.ref }}",
                                  "cancel-in-progress": False}
    assert same["jobs"]["pepr"]["concurrency"]["group"] != doc["concurrency"]["group"]
