"""Stored names cannot inject: a run id or branch with a control character is refused on
every load and creation, and terminal output escapes the ones that get printed anyway.

A newline lets a line of output start with `::error::` (a GitHub workflow command); ESC
starts a terminal escape sequence. Every case runs the real CLI in a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

try:
    from tests.harness import assert_exit, pepr_gate
except ImportError:
    from harness import assert_exit, pepr_gate  # type: ignore[no-redef]


def _clean_lines(text: str) -> None:
    assert "\x1b" not in text and "\x07" not in text, repr(text)
    assert not any(line.lstrip().startswith("::") for line in text.splitlines()), text


@pytest.fixture(scope="module")
def record(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("made")
    proc = pepr_gate("run", "--no-store", "--out", "run.json", "--branch", "main", "--", "true",
                     cwd=folder)
    assert proc.returncode == 0, proc.stderr
    data: dict[str, object] = json.loads((folder / "run.json").read_text())
    return data


def _import(tmp_path: Path, data: dict[str, object]) -> tuple[object, Path]:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return pepr_gate("history", "--store", "sqlite:///history.db", "--import", str(path),
                     cwd=tmp_path), tmp_path / "history.db"


def test_an_imported_id_with_a_newline_is_refused(tmp_path: Path,
                                                  record: dict[str, object]) -> None:
    proc, _ = _import(tmp_path, {**record, "id": "x\n::error::id"})
    assert_exit(proc, 2, "field 'id'", "control character")  # type: ignore[arg-type]
    _clean_lines(proc.stdout + proc.stderr)  # type: ignore[attr-defined]


@pytest.mark.parametrize("branch", ["a\n::error::b", "\x1b]0;pwned\x07", "", "b\x9bx"])
def test_an_imported_branch_with_a_control_character_or_none_is_refused(
    tmp_path: Path, record: dict[str, object], branch: str
) -> None:
    git = {**record["git"], "branch": branch}  # type: ignore[dict-item]
    proc, _ = _import(tmp_path, {**record, "git": git})
    assert_exit(proc, 2, "field 'git.branch'")  # type: ignore[arg-type]
    _clean_lines(proc.stdout + proc.stderr)  # type: ignore[attr-defined]


@pytest.mark.parametrize("branch", ["nl\n::warning::inject", "\x1b]0;pwned\x07", "",
                                    "b" * 100_000])
def test_run_refuses_such_a_branch_before_the_job(tmp_path: Path, branch: str) -> None:
    proc = pepr_gate("run", "--branch", branch, "--", "touch", "ran", cwd=tmp_path)
    assert_exit(proc, 2, "--branch: the branch name")
    _clean_lines(proc.stdout + proc.stderr)
    assert not (tmp_path / "ran").exists() and not (tmp_path / ".pepr").exists()
    if len(branch) > 255:
        assert "at most 255" in proc.stderr and len(proc.stderr) < 2_000


def test_a_long_but_valid_branch_is_recorded(tmp_path: Path) -> None:
    proc = pepr_gate("run", "--no-store", "--out", "r.json", "--branch", "f/" + "x" * 253,
                     "--", "true", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr


def test_a_ci_branch_variable_with_a_newline_is_refused(tmp_path: Path) -> None:
    # A CI checkout: detached HEAD, the branch named by the runner's variable.
    for argv in (["init", "-q"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q",
                                   "--allow-empty", "-m", "x"], ["checkout", "-q", "--detach"]):
        subprocess.run(["git", *argv], cwd=tmp_path, check=True)
    env = {**os.environ, "GITHUB_HEAD_REF": "pr\n::error::x"}
    proc = pepr_gate("run", "--", "touch", "ran", cwd=tmp_path, env=env)
    assert_exit(proc, 2, "the run's branch")
    _clean_lines(proc.stdout + proc.stderr)
    assert not (tmp_path / "ran").exists()


def test_history_and_score_escape_what_they_print(tmp_path: Path,
                                                  record: dict[str, object]) -> None:
    # A stored branch is printable now, but `history --branch` echoes the user's argument
    # and score prints group and model names straight from a CSV file.
    (tmp_path / "ok.json").write_text(json.dumps(record), encoding="utf-8")
    proc = pepr_gate("history", "--store", "sqlite:///h.db", "--import", "ok.json",
                     cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    empty = pepr_gate("history", "--store", "sqlite:///h.db", "--branch", "q\x1b]0;pwned\x07",
                      cwd=tmp_path)
    assert empty.returncode == 0, empty.stderr
    assert "q\\x1b]0;pwned\\x07" in empty.stdout
    _clean_lines(empty.stdout + empty.stderr)
    csv = tmp_path / "t.csv"
    csv.write_text('model,P,energy,branch\n"m\x1b[31mred",0.9,1.0,"a\n::error::b"\n'
                   '"n",0.8,2.0,"a\n::error::b"\n', encoding="utf-8")
    score = pepr_gate("score", str(csv), "--group", "branch", cwd=tmp_path,
                      env={**os.environ, "COLUMNS": "200"})
    assert score.returncode == 0, score.stderr
    assert "a\\n::error::b" in score.stdout and "m\\x1b[31mred" in score.stdout
    _clean_lines(score.stdout + score.stderr)
