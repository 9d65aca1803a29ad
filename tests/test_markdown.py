"""The PR comment: exact golden files, escaping of PR-author strings, the size limit.

Regenerate the golden files after an intended change with
`PEPR_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_markdown.py`: every test that rewrote a
file fails (so the update mode can never pass a run by accident); review the diff and
run again without the variable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pepr_gate.config import Config, parse_config
from pepr_gate.decide import gate
from pepr_gate.publish.markdown import comment_marker, render_markdown
from pepr_gate.publish.text import escape_md
from pepr_gate.records import CheckResult, RunRecord

GOLDEN = Path(__file__).parent / "golden"
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
HOSTILE = '"; touch /tmp/x; # $(rm -rf ~) `id` <img src=x onerror=alert(1)> @org/team ]]> | x'
Make = Callable[..., RunRecord]


def runs(make: Make, values: list[float], branch: str, start: int, **kw: object) -> list[RunRecord]:
    return [make(id=f"{branch[:4]}-run-{start + i:02d}", created_at=T0 + timedelta(hours=start + i),
                 branch=branch, sha=f"{start + i:02d}" + "ab" * 19, performance=v, **kw)
            for i, v in enumerate(values)]


def result(make: Make, cand: list[float], base: list[float], *, branch: str = "feature/x",
           metric: str = "accuracy", config_path: str | None = "pepr.toml") -> CheckResult:
    settings = gate.Settings(
        resource="energy", max_pepr_drop=0.05, max_performance_drop=None, budgets={},
        scale=0.02, scale_source="config", window=5, performance_name=metric, strict=False)
    b = runs(make, base, "main", 0)[::-1]
    c = runs(make, cand, branch, 50, repeat_group="g" if len(cand) > 1 else None)
    ctx = gate.Context(created_at=T0 + timedelta(days=3), base_branch="main",
                       head_branch=branch, config_path=config_path)
    return gate.evaluate(c, b[:5], b, settings, ctx)


def check_golden(name: str, text: str, folder: Path = GOLDEN) -> None:
    path = folder / name
    if os.environ.get("PEPR_UPDATE_GOLDEN"):
        old = path.read_text(encoding="utf-8") if path.exists() else None
        if old != text:
            path.write_text(text, encoding="utf-8")
            pytest.fail(f"PEPR_UPDATE_GOLDEN: rewrote {path}; review the diff and re-run "
                        "without the variable")
    assert text == path.read_text(encoding="utf-8")


def test_the_golden_update_mode_never_passes_a_changed_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "x.md").write_text("old\n", encoding="utf-8")
    monkeypatch.setenv("PEPR_UPDATE_GOLDEN", "1")
    with pytest.raises(pytest.fail.Exception, match="rewrote"):
        check_golden("x.md", "new\n", tmp_path)
    assert (tmp_path / "x.md").read_text(encoding="utf-8") == "new\n"
    check_golden("x.md", "new\n", tmp_path)  # unchanged: compared, and passes
    monkeypatch.delenv("PEPR_UPDATE_GOLDEN")
    with pytest.raises(AssertionError):
        check_golden("x.md", "other\n", tmp_path)


BASE = [0.90, 0.905, 0.895, 0.91, 0.90, 0.902, 0.899]


@pytest.mark.parametrize(
    ("name", "cand", "base", "verdict"),
    [
        ("fail.md", [0.80, 0.81, 0.79], BASE, "fail"),
        ("pass.md", [0.92], BASE, "pass"),
        ("warn.md", [0.88], [0.88, 0.92, 0.89, 0.91, 0.90], "warn"),
        ("inconclusive.md", [0.9], [], "inconclusive"),
        ("noisy.md", [0.78], [0.80, 0.95, 0.86, 0.99, 0.90], "inconclusive"),
    ],
)
def test_golden(make_record: Make, name: str, cand: list[float], base: list[float],
                verdict: str) -> None:
    res = result(make_record, cand, base)
    assert res.verdict == verdict
    check_golden(name, render_markdown(res))


def test_hostile_names_are_escaped(make_record: Make) -> None:
    res = result(make_record, [0.80], BASE, branch=HOSTILE, metric=HOSTILE,
                 config_path="ci/pepr.toml --> <b>")
    text = render_markdown(res)
    check_golden("hostile.md", text)
    for raw in ("<img", "@org/team", "]]>", "`id`", "$(rm", "--> <b>"):
        assert raw not in text
    assert text.splitlines()[0] == "<!-- pepr-gate:comment config=ci/pepr.toml -__ _b_ -->"
    # every table row keeps its 4 cells although the branch name holds a pipe
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert all(len(re.findall(r"(?<!\\)\|", row)) == 5 for row in rows)


def test_escape_md_neutralises_markup() -> None:
    assert escape_md("a_b*c`d`") == "a\\_b\\*c\\`d\\`"
    assert escape_md("@team") == "@\u200dteam"
    assert escape_md("<b>&") == "&lt;b&gt;&amp;"
    assert escape_md("[x](http://e)") == "\\[x\\]\\(http://e\\)"
    assert escape_md("line\nbreak") == "line break"


def test_marker_and_head_sha(make_record: Make) -> None:
    assert comment_marker(None) == "<!-- pepr-gate:comment config=default -->"
    text = render_markdown(result(make_record, [0.9], BASE))
    assert text.startswith(comment_marker("pepr.toml") + "\n<!-- pepr-gate:head-sha=50abab")


def test_over_the_limit_trims_trend_and_details_first(make_record: Make) -> None:
    res = result(make_record, [0.80], BASE)
    full = render_markdown(res)
    assert "xychart-beta" in full and "<details>" in full
    trimmed = render_markdown(res, max_chars=len(full) - 1)
    assert len(trimmed) < len(full)
    assert "xychart-beta" not in trimmed and "<details>" not in trimmed
    assert "left out to keep this comment under GitHub's size limit" in trimmed
    assert "PePR-E fell" in trimmed
    tiny = render_markdown(res, max_chars=300)
    assert len(tiny) <= 300 and tiny.startswith("<!-- pepr-gate:comment")


def test_trend_labels_are_unique_when_runs_share_a_commit(make_record: Make) -> None:
    # Mermaid's band axis keeps one slot per distinct label: repeats of one commit used to
    # pile onto a single x position.
    base = [make_record(id=f"20250301T12000{i}Z-ab12c{i}", created_at=T0 + timedelta(hours=i),
                        branch="main", sha="cd" * 20, performance=0.9) for i in range(3)]
    no_git = make_record(id="20250301T130000Z-ffee01", created_at=T0 + timedelta(hours=5),
                         branch="main", performance=0.9)
    base.append(no_git.model_copy(update={"git": None}))  # labelled by its id's suffix
    res = gate.evaluate(runs(make_record, [0.9], "feature/x", 50), base[::-1], base[::-1],
                        gate.Settings.from_config(_config()), gate.Context(created_at=T0))
    text = render_markdown(res)
    axis = re.search(r"x-axis \[(.*)\]", text)
    assert axis is not None
    assert axis.group(1) == ('"cdcdcdc (1)", "cdcdcdc (2)", "cdcdcdc (3)", "ffee01", "this PR"')


def _config() -> Config:

    return parse_config({"score": {"scale": {"energy": 0.02}}}, source="t", root=".")


def test_a_tiny_wobble_does_not_draw_as_a_full_swing() -> None:
    from pepr_gate.publish.sparkline import sparkline

    wobble = sparkline([0.6004, 0.5996])
    assert "█" not in wobble and "▁" not in wobble  # 0.1% stays near the middle
    assert sparkline([0.5, 1.0]) == "▁█"  # a real change still spans the bars
