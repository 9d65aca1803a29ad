"""`pepr-gate init` and the first `run`: from no config to a scored run in three commands."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from pepr_gate.cli import main
from pepr_gate.config import load_config
from pepr_gate.score import suggest_scale

# About 0.2 s of work, so the estimated energy is well above zero and similar run to run.
WRITE_METRICS = (
    "import json; sum(range(5_000_000)); "
    "json.dump({'test': {'acc': 0.9}}, open('metrics.json', 'w'))"
)


def init(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.chdir(tmp_path)
    return main(["init", *args])


def test_init_writes_a_config_that_run_accepts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cmd = shlex.join([sys.executable, "-c", WRITE_METRICS])
    assert init(tmp_path, monkeypatch, "--cmd", cmd, "--key", "test.acc") == 0
    assert f"wrote {tmp_path / 'pepr.toml'}" in capsys.readouterr().out
    config = load_config(tmp_path / "pepr.toml")
    assert config.run.stages[0].argv == [sys.executable, "-c", WRITE_METRICS]
    assert config.performance is not None
    assert (config.performance.file, config.performance.key) == ("metrics.json", "test.acc")
    assert config.score.resource == "energy" and config.gate.max_pepr_drop == 0.05
    text = (tmp_path / "pepr.toml").read_text()
    assert text.count("#") >= 8  # commented: each key says what it is for

    # The first run has no scale: it measures, then suggests one from what it measured.
    first = subprocess.run([sys.executable, "-m", "pepr_gate", "run", "--meter", "process"],
                           cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert "No scale for R is known for energy" in first.stdout
    found = re.search(r"\n  \[score\.scale\]\n  energy = (\S+)\n", first.stdout)
    assert found, first.stdout
    # With that value added, the next run of the same job is scored, near R = 0.5.
    (tmp_path / "pepr.toml").write_text(text + f"\n[score.scale]\nenergy = {found[1]}\n")
    second = subprocess.run([sys.executable, "-m", "pepr_gate", "run", "--meter", "process"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert second.returncode == 0, second.stderr
    assert "No scale for R" not in second.stdout
    record = json.loads(Path(re.findall(r"^record: (.+)$", second.stdout, re.M)[-1]).read_text())
    score = record["score"]
    assert score["normalization"]["scale"] == float(found[1])
    assert 0.1 < score["R"] < 1.0 and score["pepr"] == pytest.approx(0.9 / (1 + score["R"]))


def test_init_never_overwrites(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pepr.toml").write_text("# mine\n")
    assert init(tmp_path, monkeypatch) == 2
    err = capsys.readouterr().err
    assert "pepr.toml: a pepr-gate config already exists here; init never overwrites" in err
    assert (tmp_path / "pepr.toml").read_text() == "# mine\n"


def test_init_refuses_where_pyproject_holds_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.pepr-gate.gate]\nwindow = 3\n")
    assert init(tmp_path, monkeypatch) == 2
    assert "pyproject.toml: a pepr-gate config already exists" in capsys.readouterr().err
    assert not (tmp_path / "pepr.toml").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cmd", "python 'train.py"], "--cmd \"python 'train.py\": No closing quotation"),
        (["--cmd", "  "], "--cmd is empty"),
        (["--key", ""], "--key is empty"),
    ],
)
def test_init_bad_flags_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    args: list[str], message: str,
) -> None:
    assert init(tmp_path, monkeypatch, *args) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "pepr.toml").exists()


def test_init_quotes_awkward_values_as_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cmd = 'python train.py --name "a \\"quoted\\" one" --path C:\\\\x'
    assert init(tmp_path, monkeypatch, "--cmd", cmd, "--metrics-file", 'out/m "1" # x.json') == 0
    config = load_config(tmp_path / "pepr.toml")
    assert config.run.stages[0].argv == shlex.split(cmd)
    assert config.performance is not None and config.performance.file == 'out/m "1" # x.json'


@pytest.mark.parametrize(
    ("value", "expected"),
    [(9.286e-06, 1.9e-05), (0.25, 0.5), (1234.0, 2500.0), (0.0, None), (float("nan"), None)],
)
def test_suggested_scale_is_twice_the_run_rounded_up(value: float, expected: float | None) -> None:
    assert suggest_scale(value) == expected


def test_init_ignores_run_outputs_in_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("__pycache__/\n.pepr\n")  # one entry already there
    assert init(tmp_path, monkeypatch, "--metrics-file", "out/metrics.json") == 0
    assert "added /out/metrics.json to" in capsys.readouterr().out
    lines = (tmp_path / ".gitignore").read_text().splitlines()
    assert lines[:2] == ["__pycache__/", ".pepr"] and lines[-1] == "/out/metrics.json"
    assert "/.pepr/" not in lines  # already ignored: not added twice
    (tmp_path / ".pepr").mkdir()
    (tmp_path / ".pepr" / "history.db").write_text("x")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "metrics.json").write_text("{}")
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"],
                            cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert ".pepr" not in status and "metrics.json" not in status and "pepr.toml" in status


def test_init_outside_git_writes_no_gitignore(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert init(tmp_path, monkeypatch) == 0
    assert not (tmp_path / ".gitignore").exists()


def test_init_and_probe_name_an_unset_thread_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import os

    from pepr_gate.measure.threads import THREAD_VARS

    for name in THREAD_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)  # a many-core runner
    assert init(tmp_path, monkeypatch) == 0
    out = capsys.readouterr().out
    assert "64 CPUs and none of OMP_NUM_THREADS" in out and 'OMP_NUM_THREADS = "4"' in out
    assert main(["probe", "--powercap", str(tmp_path / "none")]) == 0
    assert "Threads: this machine has 64 CPUs" in capsys.readouterr().out
    # A config that sets the count silences it.
    text = (tmp_path / "pepr.toml").read_text()
    (tmp_path / "pepr.toml").write_text(text.replace("# [run]\n# env", "[run]\nenv"))
    assert main(["probe", "--json", "--powercap", str(tmp_path / "none")]) == 0
    assert json.loads(capsys.readouterr().out)["threads"] == {"cpus": 64, "note": None}
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert main(["probe", "--json", "--powercap", str(tmp_path / "none")]) == 0
    assert json.loads(capsys.readouterr().out)["threads"]["note"] is None
