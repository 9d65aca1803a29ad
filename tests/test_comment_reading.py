"""The PR comment as a reviewer reads it: the headline names what failed, numbers read as
a person writes them, a capped R says so, an inconclusive comment ends with what to do,
the comment links its workflow run, and the trend chart is scaled to the threshold."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

from pepr_gate import units
from pepr_gate.decide import gate
from pepr_gate.publish.markdown import render_markdown
from pepr_gate.publish.terminal import render_terminal
from pepr_gate.records import CheckResult, RunRecord

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
Make = Callable[..., RunRecord]


def check(make: Make, cand: list[float], base: list[float], *, budgets: dict[str, float] | None
          = None, energy: float = 0.0084, scale: float = 0.02) -> CheckResult:
    settings = gate.Settings(
        resource="energy", max_pepr_drop=0.05, max_performance_drop=None,
        budgets=budgets or {}, scale=scale, scale_source="config", window=5,
        performance_name="accuracy", strict=False)
    b = [make(id=f"main-{i}", created_at=T0 + timedelta(hours=i), branch="main",
              sha=f"{i:02d}" + "ab" * 19, performance=p) for i, p in enumerate(base)][::-1]
    c = [make(id=f"pr-{i}", created_at=T0 + timedelta(days=1, hours=i), branch="feature",
              sha=f"{50 + i:02d}" + "cd" * 19, performance=p, energy_kwh=energy)
         for i, p in enumerate(cand)]
    ctx = gate.Context(created_at=T0 + timedelta(days=2), base_branch="main",
                       head_branch="feature", config_path="pepr.toml")
    return gate.evaluate(c, b[:5], b, settings, ctx)


BASE = [0.90, 0.905, 0.895, 0.91, 0.90, 0.902]


def heading(text: str) -> str:
    return next(line for line in text.splitlines() if line.startswith("### "))


def test_a_budget_failure_is_headlined_by_the_budget(make_record: Make) -> None:
    res = check(make_record, [0.90], [0.90] * 6, budgets={"energy_kwh": 0.005})
    assert res.verdict == "fail" and res.pepr_change == 0
    line = heading(render_markdown(res))
    assert "energy over budget" in line
    assert "PePR" not in line  # not "PePR-E -0.0%": the PePR did not decide it


def test_a_budget_and_a_regression_are_both_named(make_record: Make) -> None:
    res = check(make_record, [0.80], BASE, budgets={"duration_s": 10})
    assert re.search(r"wall time over budget · PePR-E -1\d\.\d%", heading(render_markdown(res)))


def test_a_pepr_regression_is_headlined_by_the_change(make_record: Make) -> None:
    line = heading(render_markdown(check(make_record, [0.80, 0.81], BASE)))
    assert re.search(r"PePR-E -1[01]\.\d%", line)


def test_tiny_amounts_read_as_a_person_writes_them() -> None:
    assert units.energy(9.286e-06) == "9.29 mWh"
    assert units.energy(9.3e-09) == "9.3 µWh"
    assert units.number(0.00004) == "0.0000400"
    assert units.resource(0.02, "energy") == "20 Wh"
    assert units.resource(1.5, "gpu_memory") == "1.5 GB"
    assert [units.seconds(s) for s in (0.367, 42.5, 125.3, 3720)] == [
        "0.367 s", "42.5 s", "2 min 05 s", "1 h 02 min"]


def test_tiny_job_comment_has_no_scientific_notation(make_record: Make) -> None:
    res = check(make_record, [0.9], BASE, energy=9.286e-06, scale=2e-05)
    text = render_markdown(res)
    assert not re.search(r"\d[eE][-+]\d", text.split("```mermaid")[0])
    assert "9.29 mWh" in text and "scale 20 mWh" in text


def test_a_capped_r_says_so(make_record: Make) -> None:
    res = check(make_record, [0.9], BASE, energy=0.05)  # 50 Wh over the 20 Wh scale
    row = next(line for line in render_markdown(res).splitlines() if line.startswith("| R "))
    candidate_cell = row.split(" | ")[2]
    assert candidate_cell.startswith("1.000") and "capped" in candidate_cell
    assert "capped" not in row.split(" | ")[1]  # the baseline is under the scale


def test_an_inconclusive_comment_ends_with_the_next_step(make_record: Make) -> None:
    res = check(make_record, [0.9], [])
    assert res.verdict == "inconclusive"
    last = render_markdown(res).rstrip().splitlines()[-1]
    assert last.startswith("**Next step:**") and "main" in last


def test_other_verdicts_have_no_next_step(make_record: Make) -> None:
    assert "Next step" not in render_markdown(check(make_record, [0.92], BASE))


def test_the_comment_links_its_workflow_run(make_record: Make) -> None:
    from pepr_gate.publish.github.context import workflow_run_url

    url = workflow_run_url({"GITHUB_SERVER_URL": "https://github.com",
                            "GITHUB_REPOSITORY": "org/repo", "GITHUB_RUN_ID": "4242",
                            "GITHUB_RUN_ATTEMPT": "2"})
    assert url == "https://github.com/org/repo/actions/runs/4242/attempts/2"
    text = render_markdown(check(make_record, [0.9], BASE), run_url=url)
    assert f"<{url}>" in text
    assert workflow_run_url({}) is None  # outside Actions: no link, no broken one


def test_the_trend_is_scaled_to_the_threshold_band_and_shows_the_candidate(
        make_record: Make) -> None:
    res = check(make_record, [0.90], BASE)  # within the noise: a 1% wobble
    text = render_markdown(res)
    chart = text.split("```mermaid\n")[1].split("```")[0]
    lo, hi = map(float, re.search(r"y-axis \S+ ([\d.]+) --> ([\d.]+)", chart).groups())  # type: ignore[union-attr]
    base = res.baseline.pepr  # type: ignore[union-attr]
    # at least 1.5 x the 5% threshold either side of the baseline: noise stays a wobble
    assert lo <= base * (1 - 0.075) + 1e-3 and hi >= base * (1 + 0.075) - 1e-3
    assert '"this PR"]' in chart
    # The candidate is a line (no bar on an axis that does not start at 0): it follows
    # the base runs, then goes to its own value at the "this PR" slot.
    assert "bar [" not in chart
    cand, base_line = (line.split("[")[1].rstrip("]").split(", ")
                       for line in re.findall(r"line \[.*\]", chart)[:2])
    assert float(cand[-1]) == round(res.candidate.pepr, 4)  # type: ignore[arg-type]
    assert cand[:-1] == base_line[:-1] and lo > 0
    assert "width: 480" in chart and "height: 240" in chart
    assert 'backgroundColor: "transparent"' in chart and "theme: base" in chart


def test_terminal_headline_names_the_budget(make_record: Make) -> None:
    from rich.console import Console

    console = Console(width=80, record=True, force_terminal=False)
    render_terminal(check(make_record, [0.90], BASE, budgets={"energy_kwh": 0.005}), console)
    out = console.export_text()
    assert "FAIL energy over budget" in out


def test_the_next_step_escapes_the_branch_name(make_record: Make) -> None:
    res = check(make_record, [0.9], []).model_copy(update={"base_branch": "x`<b>@org/t"})
    last = render_markdown(res).rstrip().splitlines()[-1]
    assert last.startswith("**Next step:**")
    assert "<b>" not in last and "@org" not in last and "x\\`&lt;b&gt;" in last


def test_a_workflow_run_comment_links_the_measuring_run(tmp_path: Path) -> None:
    from pepr_gate.publish.github.context import measuring_run_url

    event = tmp_path / "event.json"
    measured = "https://github.com/org/repo/actions/runs/111"
    event.write_text(json.dumps({"workflow_run": {"html_url": measured}}), encoding="utf-8")
    env = {"GITHUB_EVENT_NAME": "workflow_run", "GITHUB_EVENT_PATH": str(event),
           "GITHUB_REPOSITORY": "org/repo", "GITHUB_RUN_ID": "222"}
    assert measuring_run_url(env) == measured
    event.write_text(json.dumps({"workflow_run": {"html_url": "https://evil.example/x"}}),
                     encoding="utf-8")
    assert measuring_run_url(env) == "https://github.com/org/repo/actions/runs/222"


def test_the_terminal_change_column_says_what_the_comment_says(make_record: Make) -> None:
    # Skewed windows: the medians shown beside the change are not what it was computed from.
    from rich.console import Console

    from pepr_gate.publish.headline import pepr_change

    res = check(make_record, [0.91, 0.91, 0.70], [0.91, 0.91, 0.91, 0.70, 0.70])
    assert res.baseline is not None and res.candidate.pepr is not None
    cell = pepr_change(res)
    medians = units.change(res.candidate.pepr, res.baseline.pepr)
    assert cell == f"{res.pepr_change * 100:+.1f}% (geometric means; medians {medians})"
    assert f"| **{cell.replace('% (', '%** (', 1)} |" in render_markdown(res)
    console = Console(width=80, record=True, force_terminal=False)
    render_terminal(res, console)
    lines = console.export_text().splitlines()
    first = next(i for i, line in enumerate(lines) if "│  PePR-E" in line)
    column = []  # the change column of the PePR row, wrapped over several lines at 80
    for line in lines[first:]:
        cells = line.split("│")
        if len(cells) < 5:
            break
        column.append(cells[-2].strip())
    assert " ".join(column) == cell
