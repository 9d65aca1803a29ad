"""`pepr-gate check` and `pepr-gate report` end to end: files, a real SQLite store, exit codes."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from pepr_gate.cli import main
from pepr_gate.records import RunRecord
from pepr_gate.store import open_store

Make = Callable[..., RunRecord]


def write(path: Path, record: RunRecord) -> str:
    path.write_text(record.to_json(), encoding="utf-8")
    return str(path)


def cli(*args: str, cwd: Path,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "GITHUB_BASE_REF": "", "GITHUB_HEAD_REF": "", "GITHUB_REF_NAME": "",
            **(env or {})}
    return subprocess.run([sys.executable, "-m", "pepr_gate", *args], cwd=cwd, env=full,
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def store_dir(tmp_path: Path, make_record: Make) -> Path:
    """A SQLite store with 6 main runs (one on other hardware) and a PR repeat group."""
    with open_store(f"sqlite:///{tmp_path / 'h.db'}") as store:
        for i in range(5):
            store.append(make_record(performance=0.90 + 0.002 * i))
        store.append(make_record(performance=0.5, fingerprint="hw-laptop"))
        for i, p in enumerate((0.80, 0.79, 0.81)):
            store.append(make_record(branch="feat/x", performance=p, repeat_group="g1",
                                     repeat_index=i))
    return tmp_path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_files_fail_writes_json_and_markdown_and_report_rerenders(
    tmp_path: Path, make_record: Make
) -> None:
    base = [write(tmp_path / f"b{i}.json", make_record(performance=0.9 + 0.001 * i))
            for i in range(3)]
    cand = write(tmp_path / "c.json", make_record(branch="pr", performance=0.78))
    res = cli("check", "--candidate", cand, "--baseline", *base, "--json", "out.json",
              "--markdown", "out.md", cwd=tmp_path)
    assert res.returncode == 1, res.stderr
    assert "FAIL" in res.stdout and "PePR-E fell" in res.stdout
    data = json.loads((tmp_path / "out.json").read_text())
    used = " ".join(res.stdout.split())  # the terminal names the runs it compared
    assert "runs used: candidate" in used
    assert all(rid[:12] in used for rid in data["baseline"]["run_ids"])
    assert data["verdict"] == "fail" and len(data["baseline"]["run_ids"]) == 3
    md = (tmp_path / "out.md").read_text()
    assert md.startswith("<!-- pepr-gate:comment config=default -->\n")
    again = cli("report", "out.json", "--format", "markdown", cwd=tmp_path)
    assert again.returncode == 0 and again.stdout == md


def test_store_candidate_latest_uses_the_whole_repeat_group(store_dir: Path) -> None:
    res = cli("check", "--store", "sqlite:///h.db", "--json", "r.json", cwd=store_dir,
              env={"GITHUB_HEAD_REF": "feat/x"})
    assert res.returncode == 1, res.stderr
    data = json.loads((store_dir / "r.json").read_text())
    assert len(data["candidate"]["run_ids"]) == 3
    assert len(data["baseline"]["run_ids"]) == 5  # the laptop run is not comparable
    assert data["base_branch"] == "main" and data["head_branch"] == "feat/x"
    assert len(data["trend"]) == 5


def test_no_matching_baseline_names_the_field_and_strict_exits_1(
    store_dir: Path, make_record: Make
) -> None:
    cand = write(store_dir / "c.json", make_record(branch="feat/y", fingerprint="hw-new"))
    res = cli("check", "--store", "sqlite:///h.db", "--candidate", cand, "--json", "r.json",
              cwd=store_dir)
    assert res.returncode == 0, res.stderr
    reason = json.loads((store_dir / "r.json").read_text())["reasons"][0]
    assert "the base branch main has 6 ok run(s), but hardware differs" in reason
    strict = cli("check", "--store", "sqlite:///h.db", "--candidate", cand, "--strict",
                 cwd=store_dir)
    assert strict.returncode == 1


def test_baseline_branch_from_flag_then_config_then_github(store_dir: Path,
                                                           make_record: Make) -> None:
    cand = write(store_dir / "c.json", make_record(branch="feat/z"))
    args = ("check", "--store", "sqlite:///h.db", "--candidate", cand, "--json", "r.json")

    def base(*extra: str, env: dict[str, str] | None = None) -> str:
        assert cli(*args, *extra, cwd=store_dir, env=env).returncode in (0, 1)
        return str(json.loads((store_dir / "r.json").read_text())["base_branch"])

    assert base(env={"GITHUB_BASE_REF": "release"}) == "release"
    (store_dir / "pepr.toml").write_text('[gate]\nbase_branch = "develop"\n')
    assert base("--config", "pepr.toml", env={"GITHUB_BASE_REF": "release"}) == "develop"
    assert base("--config", "pepr.toml", "--baseline-branch", "main") == "main"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--threshold", "-0.1"], "--threshold"),
        (["--threshold", "1"], "--threshold"),
        (["--candidate", "missing.json"], "run record not found"),
        (["--candidate", "notrecord.json"], "not JSON"),
        (["--candidate", "schema2.json"], "unknown record schema"),
        (["--store", "mongodb://x"], "unsupported store URL"),
        (["--config", "bad.toml"], "window"),
    ],
)
def test_bad_input_exits_2_and_changes_nothing(
    store_dir: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (store_dir / "notrecord.json").write_text("hello")
    (store_dir / "schema2.json").write_text(json.dumps({"schema": "pepr-gate/run/2"}))
    (store_dir / "bad.toml").write_text("[gate]\nwindow = 0\n")
    before = digest(store_dir / "h.db")
    old = Path.cwd()
    os.chdir(store_dir)
    try:
        code = main(["check", "--store", "sqlite:///h.db", *args, "--json", "r.json"])
    finally:
        os.chdir(old)
    assert code == 2
    assert message in capsys.readouterr().err
    assert digest(store_dir / "h.db") == before
    assert not (store_dir / "r.json").exists()


def test_report_refuses_a_run_record(tmp_path: Path, make_record: Make) -> None:
    path = write(tmp_path / "run.json", make_record())
    res = cli("report", path, cwd=tmp_path)
    assert res.returncode == 2 and "not a pepr-gate check result" in res.stderr


def test_current_branch_of_a_new_repository_without_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pepr_gate.measure.gitinfo import git_info
    from pepr_gate.services.check import current_branch

    for var in ("GITHUB_HEAD_REF", "GITHUB_REF_NAME"):
        monkeypatch.delenv(var, raising=False)
    subprocess.run(["git", "init", "-q", "-b", "main", str(tmp_path)], check=True)
    assert current_branch(tmp_path) == "main"
    info = git_info(tmp_path)
    assert info is not None and info.branch == "main" and info.sha is None


def test_a_run_is_never_its_own_baseline(tmp_path: Path, make_record: Make) -> None:
    with open_store(f"sqlite:///{tmp_path / 'h.db'}") as store:
        store.append(make_record(branch="main"))
    res = cli("check", "--store", "sqlite:///h.db", "--baseline-branch", "main", "--json",
              "r.json", cwd=tmp_path, env={"GITHUB_HEAD_REF": "main"})
    assert res.returncode == 0, res.stderr
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["verdict"] == "inconclusive"
    assert "the only runs on main are the candidate's own" in " ".join(data["reasons"])


def test_several_candidate_files_are_one_repeat_group_and_threshold_takes_percent(
    tmp_path: Path, make_record: Make
) -> None:
    base = [write(tmp_path / f"b{i}.json", make_record(performance=0.9 + 0.002 * i))
            for i in range(5)]
    cands = [write(tmp_path / f"c{i}.json", make_record(branch="pr", performance=p))
             for i, p in enumerate((0.80, 0.79, 0.81))]
    res = cli("check", "--candidate", *cands, "--baseline", *base, "--threshold", "5%",
              "--json", "out.json", "--markdown", "out.md", cwd=tmp_path)
    assert res.returncode == 1, res.stderr
    data = json.loads((tmp_path / "out.json").read_text())
    assert len(data["candidate"]["run_ids"]) == 3 and data["threshold"] == 0.05
    assert data["noise_source"] == "measured" and data["noise_runs"] == 8
    assert "measured from 8 runs" in (tmp_path / "out.md").read_text()
    same = cli("check", "--candidate", *cands, "--baseline", *base, "--threshold", "0.05",
               "--json", "again.json", cwd=tmp_path)
    assert json.loads((tmp_path / "again.json").read_text())["threshold"] == 0.05
    assert same.returncode == 1
    bad = cli("check", "--candidate", *cands, "--baseline", *base, "--threshold", "five",
              cwd=tmp_path)
    assert bad.returncode == 2 and "--threshold 'five' is not a number" in bad.stderr


def test_threshold_in_the_config_takes_percent(tmp_path: Path, make_record: Make) -> None:
    (tmp_path / "pepr.toml").write_text('[gate]\nmax_pepr_drop = "20%"\n')
    base = [write(tmp_path / f"b{i}.json", make_record(performance=0.9 + 0.002 * i))
            for i in range(5)]
    cand = write(tmp_path / "c.json", make_record(branch="pr", performance=0.80))
    res = cli("check", "--config", "pepr.toml", "--candidate", cand, "--baseline", *base,
              "--json", "out.json", cwd=tmp_path)
    data = json.loads((tmp_path / "out.json").read_text())
    assert data["threshold"] == 0.2 and res.returncode == 0  # an 11% drop is allowed now


def test_an_empty_store_says_so_and_how_to_fix_it(tmp_path: Path, make_record: Make) -> None:
    cand = write(tmp_path / "c.json", make_record(branch="feat/y"))
    (tmp_path / "empty.db").touch()  # a missing file is exit 2 instead (issue 11)
    res = cli("check", "--store", "sqlite:///empty.db", "--candidate", cand, "--json", "r.json",
              cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["verdict"] == "inconclusive" and data["no_baseline"] == "empty-store"
    assert data["reasons"][0] == ("No baseline: the history store holds no run yet. To fix: "
                                  "run `pepr-gate run` (or the workflow) on main to store a "
                                  "baseline.")
    assert (tmp_path / "empty.db").stat().st_size == 0  # a reader wrote nothing into it


def test_run_check_carries_the_pull_request_labels(store_dir: Path, make_record: Make) -> None:
    from pepr_gate.config import Config
    from pepr_gate.services.check import exit_code_for, run_check

    reps = [make_record(branch="feat/x", performance=p) for p in (0.80, 0.79, 0.81)]
    url = f"sqlite:///{store_dir / 'h.db'}"
    plain = run_check(Config(), candidates=reps, baseline_branch="main", store_url=url)
    assert plain.verdict == "fail" and plain.labels == []
    labelled = run_check(Config(), candidates=reps, baseline_branch="main", store_url=url,
                         labels=["pepr-gate: accept"])
    assert labelled.verdict == "accepted" and labelled.labels == ["pepr-gate: accept"]
    assert exit_code_for(labelled) == 0
