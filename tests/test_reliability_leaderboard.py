"""Issue 11, item 5: leaderboard and history files a spreadsheet or GitHub cannot turn into
a formula or a ping. The real CLI in a subprocess on real files."""

from __future__ import annotations

import csv
from pathlib import Path

try:
    from tests.harness import assert_exit, pepr_gate
except ImportError:
    from harness import assert_exit, pepr_gate  # type: ignore[no-redef]

HOSTILE = (
    "model,P,energy,family\n"
    '"=HYPERLINK(""http://evil.example"",""x"")",0.90,0.7,@team\n'
    "+cmd|' /C calc'!A0,0.85,0.6,-x\n"
    "@octo/reviewers,0.80,0.5,a\n"
    "-1.5,0.70,0.4,a\n"
    '"\tTAB",0.60,0.3,a\n'
)


def test_leaderboard_csv_and_markdown_are_inert(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text(HOSTILE, encoding="utf-8")
    proc = pepr_gate("score", "t.csv", "--group", "family", "--csv", "lb.csv",
                     "--markdown", "lb.md", cwd=tmp_path)
    assert_exit(proc, 0)
    with (tmp_path / "lb.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    cells = [cell for row in rows for cell in row]
    dangerous = [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r")]
    dangerous += [c for c in cells if c.startswith("-") and not _number(c)]
    assert dangerous == []
    names = {row[1] for row in rows[1:]}
    assert "'=HYPERLINK(\"http://evil.example\",\"x\")" in names
    assert "'@octo/reviewers" in names
    assert "-1.5" in names  # a negative number stays a number
    groups = {row[0] for row in rows[1:]}
    assert "'@team" in groups and "'-x" in groups
    md = (tmp_path / "lb.md").read_text(encoding="utf-8")
    assert "@octo" not in md and "@team" not in md  # no live mention
    assert "@\u200docto/reviewers" in md


def test_history_csv_neutralises_a_hostile_branch_name(tmp_path: Path) -> None:
    try:
        from tests.factories import make_record
    except ImportError:
        from factories import make_record  # type: ignore[no-redef]

    rec = tmp_path / "r.json"
    rec.write_text(make_record(branch="=cmd|'/C calc'!A0").to_json(), encoding="utf-8")
    store = f"sqlite:///{tmp_path / 'h.db'}"
    assert_exit(pepr_gate("run", "--store", store, "--", "true", cwd=tmp_path), 0)
    assert_exit(pepr_gate("history", "--store", store, "--import", str(rec), cwd=tmp_path), 0)
    proc = pepr_gate("history", "--store", store, "--all-branches", "--format", "csv",
                     cwd=tmp_path)
    assert_exit(proc, 0)
    rows = list(csv.DictReader(proc.stdout.splitlines()))
    assert "'=cmd|'/C calc'!A0" in {r["branch"] for r in rows}
    assert all(not r["branch"].startswith("=") for r in rows)


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
