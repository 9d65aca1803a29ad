"""A cancelled workflow stops pepr-gate and its job, the way actions/runner cancels a step.

The runner writes a `run:` step to a script file, starts
`bash --noprofile --norc -e -o pipefail FILE`, and on cancel sends SIGINT to that bash's
pid, SIGTERM 7.5 s later and SIGKILL 2.5 s after that: to the pid, never the group. The
tests run action.yml's own `run:` text under exactly that sequence.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

try:
    from tests.test_ci_cmd import TRACE, parse_outputs
except ImportError:
    from test_ci_cmd import TRACE, parse_outputs  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parents[1]
# A training job with a child of its own; each writes its pid, then both sleep.
JOB = """\
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
open("pids", "w").write(f"{os.getpid()} {child.pid}")
time.sleep(300)
"""


def ci_step_script() -> str:
    steps = yaml.safe_load((ROOT / "action.yml").read_text())["runs"]["steps"]
    step = next(s for s in steps if s.get("id") == "ci")
    assert step["shell"] == "bash"
    return str(step["run"])


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has stopped


def cancel_like_the_runner(proc: subprocess.Popen[bytes]) -> int:
    """SIGINT; SIGTERM 7.5 s later; SIGKILL 2.5 s after that (actions/runner's timings)."""
    for signum, grace in ((signal.SIGINT, 7.5), (signal.SIGTERM, 2.5), (signal.SIGKILL, 5)):
        proc.send_signal(signum)
        try:
            return proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue
    return proc.wait(timeout=5)


@pytest.fixture
def job(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "train.py").write_text(JOB)
    (root / "pepr.toml").write_text(
        '[run]\nstages = [{ name = "train", cmd = ["python3", "train.py"] }]\n'
        '[performance]\nfile = "metrics.json"\nkey = "accuracy"\n'
        f'[meter]\nkind = {json.dumps(f"replay:{TRACE}")}\n')
    yield root
    pids = root / "pids"
    for pid in (pids.read_text().split() if pids.exists() else []):
        if alive(int(pid)):  # only the job's own processes, which this test started
            os.kill(int(pid), signal.SIGKILL)


def start_step(tmp_path: Path, root: Path, script: str) -> subprocess.Popen[bytes]:
    bin_ = tmp_path / "pepr-gate"  # the private venv's console script, as setup.sh names it
    bin_.write_text(f"#!/bin/sh\nexec {sys.executable} -m pepr_gate \"$@\"\n")
    bin_.chmod(0o755)
    step = tmp_path / "step.sh"
    step.write_text(script)
    env = {**os.environ, "PEPR_GATE_BIN": str(bin_), "PEPR_WORKING_DIRECTORY": str(root),
           "PEPR_CONFIG": "pepr.toml", "PEPR_STORE": f"sqlite:///{tmp_path / 'h.db'}",
           "GITHUB_EVENT_NAME": "push", "GITHUB_REF": "refs/heads/main",
           "GITHUB_REPOSITORY": "octo/net", "GITHUB_SHA": "a" * 40,
           "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
           "GITHUB_OUTPUT": str(tmp_path / "output"), "PEPR_COMMENT": "never"}
    env.pop("GITHUB_EVENT_PATH", None)
    with (tmp_path / "step.log").open("wb") as log:
        proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", str(step)],
            env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while not (root / "pids").exists():
        assert proc.poll() is None, (tmp_path / "step.log").read_text()
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.1)
    time.sleep(0.3)
    return proc


def test_a_cancelled_step_stops_the_job_and_publishes_an_error(tmp_path: Path,
                                                               job: Path) -> None:
    proc = start_step(tmp_path, job, ci_step_script())
    pids = [int(p) for p in (job / "pids").read_text().split()]
    code = cancel_like_the_runner(proc)
    assert code in (130, 143), (tmp_path / "step.log").read_text()
    time.sleep(0.5)
    assert not [pid for pid in pids if alive(pid)]  # the job and its child stopped
    outputs = parse_outputs((tmp_path / "output").read_text())
    assert outputs["verdict"] == "error"
    summary = (tmp_path / "summary.md").read_text()
    assert "interrupted" in summary or "cancelled" in summary


def test_without_exec_the_runners_cancel_leaves_the_job_running(tmp_path: Path,
                                                                job: Path) -> None:
    """What `exec` fixes: bash dies, pepr-gate and the job keep running, nothing is said."""
    script = ci_step_script().replace('exec "$PEPR_GATE_BIN"', '"$PEPR_GATE_BIN"')
    assert script != ci_step_script()
    proc = start_step(tmp_path, job, script)
    pids = [int(p) for p in (job / "pids").read_text().split()]
    code = cancel_like_the_runner(proc)
    assert code not in (130, 143)  # bash was killed; nobody reported the cancel
    assert all(alive(pid) for pid in pids)  # the orphaned job still holds the machine
    assert not (tmp_path / "output").exists()


def test_as_a_containers_pid_1_pepr_gate_still_stops_on_sigterm(tmp_path: Path,
                                                                job: Path) -> None:
    """The image's exec-form ENTRYPOINT makes pepr-gate PID 1, which the kernel shields
    from every signal it has no handler for; `docker stop` sends SIGTERM, then SIGKILL."""
    if subprocess.run(["unshare", "-pf", "--mount-proc", "true"],
                      capture_output=True).returncode != 0:
        pytest.skip("no PID namespace here (unshare needs root)")
    entry = (ROOT / "Dockerfile").read_text().split("ENTRYPOINT", 1)[1].splitlines()[0]
    assert json.loads(entry) == ["pepr-gate"]  # exec form: no shell in between
    script = 'cd "$PEPR_WORKING_DIRECTORY"\nexec unshare -pf --mount-proc "$PEPR_GATE_BIN" ci\n'
    proc = start_step(tmp_path, job, script)
    (job / "pids").unlink()  # PIDs of the namespace, not of this host: never to be signalled
    inner = int(Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()[0])
    assert Path(f"/proc/{inner}/status").read_text().count("NSpid") == 1
    nspid = next(line for line in Path(f"/proc/{inner}/status").read_text().splitlines()
                 if line.startswith("NSpid"))
    assert nspid.split()[-1] == "1"  # pepr-gate (its sh exec'd python) is PID 1
    os.kill(inner, signal.SIGTERM)  # what `docker stop` sends first
    try:
        proc.wait(timeout=10)  # docker stop's default grace before SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
    # PID 1 exiting ends its namespace: the kernel kills the job with it, as docker does.
    assert proc.returncode == 143, (tmp_path / "step.log").read_text()
    assert parse_outputs((tmp_path / "output").read_text())["verdict"] == "error"
    assert "cancelled" in (tmp_path / "summary.md").read_text()
