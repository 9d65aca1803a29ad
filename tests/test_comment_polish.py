"""The comment and the terminal as a new user reads them: chart labels that do not overlap,
an axis that says where it starts, one clean footnote, a change column in the terminal,
and a next step worded for where the command ran (a workstation, or CI)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest

from pepr_gate.decide import gate
from pepr_gate.publish.markdown import render_markdown
from pepr_gate.publish.terminal import render_terminal
from pepr_gate.publish.trend import fits
from pepr_gate.records import CheckResult, Component, RunRecord

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
Make = Callable[..., RunRecord]
SETTINGS = gate.Settings(
    resource="energy", max_pepr_drop=0.05, max_performance_drop=None, budgets={},
    scale=0.02, scale_source="config", window=5, performance_name="accuracy", strict=False)


def check(make: Make, base_shas: list[str], cand: float = 0.9, **rec: object) -> CheckResult:
    b = [make(id=f"main-{i}", created_at=T0 + timedelta(hours=i), branch="main", sha=sha,
              performance=0.9 + 0.002 * (i % 3), **rec)
         for i, sha in enumerate(base_shas)][::-1]
    c = [make(id="pr-0", created_at=T0 + timedelta(days=1), branch="feature",
              sha="ef" * 20, performance=cand, **rec)]
    ctx = gate.Context(created_at=T0 + timedelta(days=2), base_branch="main",
                       head_branch="feature", config_path="pepr.toml")
    return gate.evaluate(c, b[:5], b, SETTINGS, ctx)


def axis(text: str) -> list[str]:
    found = re.search(r"x-axis \[(.*)\]", text)
    assert found is not None
    return [label.strip('"') for label in found.group(1).split(", ")]


def test_many_runs_of_one_commit_get_numbers_and_a_legend(make_record: Make) -> None:
    # Ten runs seeded from two commits: "98b5420 (1)98b5420 (2)..." used to overlap.
    shas = ["98b5420" + "0" * 33] * 6 + ["c0ffee1" + "0" * 33] * 4
    text = render_markdown(check(make_record, shas))
    labels = axis(text)
    assert labels == [str(n) for n in range(1, 11)] + ["this PR"]
    assert len(set(labels)) == len(labels)
    assert fits(labels)
    assert not fits(["98b5420 (1)"] * 10 + ["this PR"])  # what the axis used to read
    assert "Runs, oldest first: 1-6 98b5420, 7-10 c0ffee1." in text


def test_a_few_distinct_commits_keep_their_names(make_record: Make) -> None:
    shas = [f"{i}abc123" + "0" * 33 for i in range(4)]
    text = render_markdown(check(make_record, shas))
    assert axis(text) == ["0abc123", "1abc123", "2abc123", "3abc123", "this PR"]
    assert "Runs, oldest first" not in text


def test_the_caption_says_where_the_axis_starts(make_record: Make) -> None:
    text = render_markdown(check(make_record, [f"{i}" * 40 for i in range(6)]))
    low = re.search(r'y-axis "PePR-E" ([\d.]+) -->', text)
    assert low is not None and float(low.group(1)) > 0
    assert f"The axis starts at {low.group(1)}, not 0" in text


def test_a_push_calls_the_candidate_this_commit(make_record: Make) -> None:
    res = check(make_record, [f"{i}" * 40 for i in range(6)])
    text = render_markdown(res, candidate="this commit")
    assert "this PR" not in text
    assert axis(text)[-1] == "this commit" and "orange line: this commit" in text


def test_the_methods_footnote_names_each_part_once(make_record: Make) -> None:
    parts = [Component(kind="gpu", name="gpu", method="unavailable"),
             Component(kind="cpu", name="cpu (rapl)", method="unavailable", detail="rapl"),
             Component(kind="ram", name="ram", method="estimated", detail="tdp-estimate")]
    res = check(make_record, ["a" * 40, "b" * 40], components=parts)
    note = next(line for line in render_markdown(res).splitlines()
                if line.startswith("[^methods]:")).replace("\\", "")
    assert "gpu gpu" not in note and "cpu cpu" not in note and "(rapl) unavailable (rapl)" \
        not in note
    assert note.endswith("candidate and baseline energy measured: gpu unavailable; "
                         "cpu (rapl) unavailable; ram estimated (tdp-estimate).")


def test_the_terminal_table_has_a_change_column(make_record: Make) -> None:
    from rich.console import Console

    console = Console(width=80, record=True, force_terminal=False)
    render_terminal(check(make_record, [f"{i}" * 40 for i in range(6)], cand=0.8), console)
    out = console.export_text()
    header = next(line for line in out.splitlines() if "baseline (main)" in line)
    assert header.rstrip(" │").endswith("change")
    pepr = next(line for line in out.splitlines() if "PePR-E" in line and "%" in line)
    assert re.search(r"-1\d\.\d%", pepr)
    assert max(len(line) for line in out.splitlines()) <= 80


@pytest.mark.parametrize("ci", [False, True])
def test_the_next_step_names_the_local_command_outside_ci(
        make_record: Make, ci: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    if ci:
        monkeypatch.setenv("GITHUB_ACTIONS", "true")
    else:
        monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    console = Console(width=200, record=True, force_terminal=False)
    render_terminal(check(make_record, []), console)  # no baseline yet
    out = " ".join(w for w in console.export_text().split() if w != "│")
    assert "next step:" in out
    if ci:
        assert "re-run this job" in out
    else:
        assert "re-run this job" not in out
        assert "check out main" in out and "`pepr-gate run --repeats 5`" in out
