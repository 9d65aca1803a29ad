"""action.yml, the example workflows, our own workflows and the Dockerfile, checked for real:
zizmor and hadolint (from the dev extra) run on them, and the YAML is parsed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from pepr_gate import __version__
from pepr_gate.commands.ci import ENV_NAMES

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
EXAMPLES = sorted((ROOT / "action" / "examples").glob("*.yml"))
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
INPUTS = {
    "config",
    "github-token",
    "comment",
    "fail-on-regression",
    "repeats",
    "store",
    "working-directory",
    "threshold",
    "python",
    "dashboard",
    "dashboard-path",
}
OUTPUTS = {
    "verdict",
    "pepr",
    "baseline-pepr",
    "pepr-change",
    "performance",
    "energy-kwh",
    "report-path",
    "record-path",
    "comment-url",
    "repeats-needed",
}
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def steps_of(doc: dict[str, Any]) -> list[dict[str, Any]]:
    if "runs" in doc:
        return list(doc["runs"]["steps"])
    return [s for job in doc["jobs"].values() for s in job.get("steps", [])]


def test_zizmor_finds_nothing() -> None:
    files = ["action.yml", *(str(p.relative_to(ROOT)) for p in EXAMPLES), ".github/workflows"]
    proc = subprocess.run(
        [str(BIN / "zizmor"), "--offline", *files],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No findings to report" in proc.stdout


def test_hadolint_passes_the_dockerfile() -> None:
    proc = subprocess.run(
        [str(BIN / "hadolint"), "Dockerfile"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dockerfile_pins_its_base_and_drops_root() -> None:
    text = (ROOT / "Dockerfile").read_text()
    base = re.search(r"^FROM (\S+)", text, re.M)
    assert base and (re.search(r":\d+\.\d+\.\d+-", base.group(1)) or "@sha256:" in base.group(1))
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user and user[-1].split(":")[0] not in ("root", "0")
    assert 'ENTRYPOINT ["pepr-gate"]' in text


def test_action_is_composite_with_the_documented_inputs_and_outputs() -> None:
    action = load(ROOT / "action.yml")
    assert action["runs"]["using"] == "composite"
    assert set(action["inputs"]) == INPUTS
    assert action["inputs"]["config"]["required"] is True
    assert set(action["outputs"]) == OUTPUTS
    for name, spec in action["outputs"].items():
        assert spec["value"] == f"${{{{ steps.ci.outputs.{name} }}}}"


def test_inputs_reach_scripts_only_through_env() -> None:
    action = load(ROOT / "action.yml")
    for step in steps_of(action):
        assert "${{" not in step.get("run", ""), step["name"]
    ci = next(s for s in steps_of(action) if s.get("id") == "ci")
    env = ci["env"]
    for dest, (var, input_name) in ENV_NAMES.items():
        if dest == "meter":
            continue  # CLI-only: the selftest sets it in its config instead
        assert env[var] == f"${{{{ inputs.{input_name} }}}}"
    assert env["GITHUB_TOKEN"] == "${{ inputs.github-token }}"
    # The private venv's pepr-gate is called by path: the user's PATH stays as it was.
    assert '"$PEPR_GATE_BIN" ci' in ci["run"]
    assert "PATH" not in ci["run"]


@pytest.mark.parametrize("path", EXAMPLES + WORKFLOWS, ids=lambda p: p.name)
def test_workflows_pin_actions_and_keep_permissions_minimal(path: Path) -> None:
    doc = load(path)
    assert doc.get("permissions") in ({"contents": "read"}, {})
    for step in steps_of(doc):
        uses = step.get("uses")
        if uses and not uses.startswith(("./", "OWNER/pepr-gate@")):
            assert PINNED.match(uses), f"{path.name}: {uses} is not pinned to a commit"
        if uses and uses.startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False
        assert "${{" not in step.get("run", ""), f"{path.name}: expression pasted into a script"
    allowed = {("contents", "read"), ("contents", "write"), ("pull-requests", "write"),
               ("actions", "read")}
    if path.name == "pages.yml":  # the Pages deployment
        allowed |= {("pages", "write"), ("id-token", "write")}
    if path.name == "watch.yml":  # the scheduled change-point watch
        allowed |= {("issues", "write")}
    if path.name == "release.yml":  # the GitHub release, the major tag and the GHCR image
        allowed |= {("packages", "write")}
    for job in doc["jobs"].values():
        for scope, level in (job.get("permissions") or {}).items():
            assert (scope, level) in allowed
        if (job.get("permissions") or {}).get("contents") == "write" and \
                path.name != "release.yml":
            # Only a job that runs pepr-gate (which pushes the data branch) may write.
            assert any(s.get("uses", "").startswith(("OWNER/pepr-gate@", "./"))
                       for s in job.get("steps", [])), f"{path.name}: contents: write unused"
    # Every write permission says why, on its own line.
    for line in path.read_text().splitlines():
        if re.match(r"\s+(contents|pull-requests|packages): write", line):
            assert "#" in line, f"{path.name}: {line.strip()} without a reason"


def test_examples_store_history_only_where_they_may_write() -> None:
    same = load(ROOT / "action" / "examples" / "same-repo.yml")
    assert same["jobs"]["pepr"]["permissions"]["contents"] == "write"
    fork = load(ROOT / "action" / "examples" / "fork-measure.yml")
    assert "!= github.repository" in fork["jobs"]["measure"]["if"]
    for name in ("same-repo.yml", "container.yml", "fork-measure.yml"):
        types = load(ROOT / "action" / "examples" / name)[True]["pull_request"]["types"]
        assert {"labeled", "unlabeled", "synchronize"} <= set(types), name


def test_fork_comment_workflow_never_touches_pr_code() -> None:
    doc = load(ROOT / "action" / "examples" / "fork-comment.yml")
    assert list(doc[True]) == ["workflow_run"]  # YAML 1.1 reads the key `on` as True
    uses = [s.get("uses", "") for s in steps_of(doc)]
    assert not any(u.startswith("actions/checkout") for u in uses)
    script = "\n".join(s.get("run", "") for s in steps_of(doc))
    assert "pepr-gate comment --from" in script and "--expect-head-sha" in script


def test_fork_measure_workflow_cannot_write() -> None:
    doc = load(ROOT / "action" / "examples" / "fork-measure.yml")
    assert doc["permissions"] == {"contents": "read"}
    measure = doc["jobs"]["measure"]
    assert "permissions" not in measure  # the fork's code runs with the read-only token
    assert measure["if"].startswith("github.event_name == 'pull_request' && ")
    # Only the push job, which runs main's own code, may write: the data branch.
    baseline = doc["jobs"]["baseline"]
    assert baseline["if"] == "github.event_name == 'push'"
    assert baseline["permissions"] == {"contents": "write"}
    gate = next(s for s in measure["steps"] if s.get("uses", "").startswith("OWNER/pepr-gate"))
    assert gate["with"]["comment"] == "never"
    upload = next(
        s for s in measure["steps"] if s.get("uses", "").startswith("actions/upload-artifact")
    )
    assert upload["if"] == "always()" and upload["with"]["path"] == ".pepr/ci/"


def test_pages_example_publishes_the_dashboard_it_writes() -> None:
    doc = load(ROOT / "action" / "examples" / "pages.yml")
    gate = next(s for s in steps_of(doc) if s.get("uses", "").startswith("OWNER/pepr-gate"))
    upload = next(s for s in steps_of(doc)
                  if s.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert str(gate["with"]["dashboard"]).lower() == "true"
    assert gate["with"]["dashboard-path"] == upload["with"]["path"]
    assert gate["with"]["store"].startswith("git:")
    deploy = doc["jobs"]["deploy"]
    assert deploy["needs"] == "pepr" and deploy["permissions"]["pages"] == "write"


def test_container_example_passes_the_gpus() -> None:
    doc = load(ROOT / "action" / "examples" / "container.yml")
    assert "--gpus all" in doc["jobs"]["pepr"]["container"]["options"]


def test_selftest_runs_the_action_twice_expecting_pass_and_fail() -> None:
    doc = load(ROOT / ".github" / "workflows" / "selftest.yml")
    job = doc["jobs"]["selftest"]
    cases = {c["case"]: c["baseline-accuracy"] for c in job["strategy"]["matrix"]["include"]}
    assert set(cases) == {"good", "tightened"} and float(cases["tightened"]) > float(cases["good"])
    gate = next(s for s in job["steps"] if s.get("id") == "gate")
    assert gate["uses"].split(" ")[0] == "./"
    check = next(s for s in job["steps"] if s.get("name") == "Check the outcome")
    assert 'test "$OUTCOME" = failure && test "$VERDICT" = fail' in check["run"]


def test_ci_workflow_runs_the_ci_script() -> None:
    doc = load(ROOT / ".github" / "workflows" / "ci.yml")
    assert any(s.get("run") == ".ci/run" for s in steps_of(doc))


def _setup(
    tmp_path: Path, python: str, job: str = "job1"
) -> subprocess.CompletedProcess[str]:
    """One job's setup step: RUNNER_TEMP is the job's own, RUNNER_TOOL_CACHE the runner's."""
    temp = tmp_path / job / "temp"
    temp.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "RUNNER_TEMP": str(temp),
        "RUNNER_TOOL_CACHE": str(tmp_path / "tool-cache"),
        "GITHUB_ACTION_PATH": str(ROOT),
        "GITHUB_OUTPUT": str(tmp_path / job / "out"),
        "PEPR_PYTHON": python,
    }
    return subprocess.run(
        ["bash", str(ROOT / "action" / "setup.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_setup_script_names_a_missing_interpreter(tmp_path: Path) -> None:
    proc = _setup(tmp_path, "python-does-not-exist")
    assert proc.returncode == 2
    assert "::error title=pepr-gate::input python" in proc.stdout
    assert not (tmp_path / "tool-cache").exists()


def test_setup_script_refuses_an_old_python(tmp_path: Path) -> None:
    fake = tmp_path / "python3.8"
    fake.write_text(
        "#!/bin/sh\nif [ \"$1\" = -V ]; then echo 'Python 3.8.10'; exit 0; fi\nexit 1\n"
    )
    fake.chmod(0o755)
    proc = _setup(tmp_path, str(fake))
    assert proc.returncode == 2
    assert "Python 3.8.10 is too old" in proc.stderr


@pytest.mark.slow
def test_setup_script_installs_once_per_runner_then_reuses(tmp_path: Path) -> None:
    first = _setup(tmp_path, sys.executable, job="job1")
    assert first.returncode == 0, first.stderr[-2000:]
    assert "pepr-gate: installed into" in first.stdout
    out = (tmp_path / "job1" / "out").read_text()
    binary = Path(re.search(r"^bin=(.+)$", out, re.M).group(1))  # type: ignore[union-attr]
    # In the runner's tool cache, which outlives the job; not in the job's RUNNER_TEMP.
    assert binary.is_file() and binary.is_relative_to(tmp_path / "tool-cache" / "pepr-gate")
    # The runner empties RUNNER_TEMP after each job; the next job reuses the venv.
    shutil.rmtree(tmp_path / "job1" / "temp")
    second = _setup(tmp_path, sys.executable, job="job2")
    assert second.returncode == 0, second.stderr[-2000:]
    assert f"pepr-gate: reusing {binary.parent.parent}" in second.stdout
    assert "installed into" not in second.stdout
    assert f"pepr-gate {__version__}" in second.stdout
    assert (tmp_path / "job2" / "out").read_text() == out
    # `store: postgresql://...` needs the driver inside the private venv.
    found = subprocess.run([str(binary.parent / "python"), "-c", "import psycopg"],
                           capture_output=True, text=True)
    assert found.returncode == 0, found.stderr
    # A venv whose interpreter is gone is rebuilt, not reused.
    (binary.parent / "python").unlink()
    third = _setup(tmp_path, sys.executable, job="job3")
    assert third.returncode == 0 and "installed into" in third.stdout, third.stderr[-2000:]


def test_setup_script_installs_the_postgres_driver() -> None:
    # The Action documents `store: postgresql://...`; the private venv must hold psycopg.
    text = (ROOT / "action" / "setup.sh").read_text()
    installs = [ln for ln in text.splitlines() if "pip install" in ln and "action_path" in ln]
    assert installs and all('"$action_path[postgres]"' in ln for ln in installs)
