"""Issue 11, item 3: `pepr-gate comment` on an untrusted check-result file (the fork
pattern's privileged job). The real CLI in a subprocess against a local GitHub API."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

try:
    from tests.factories import make_record
    from tests.github_server import FakeGitHub
    from tests.harness import assert_exit, pepr_gate
except ImportError:
    from factories import make_record  # type: ignore[no-redef]
    from github_server import FakeGitHub  # type: ignore[no-redef]
    from harness import assert_exit, pepr_gate  # type: ignore[no-redef]

REPO = "octo/net"
HOSTILE = '@octo/team <img src=x onerror=alert(1)> [x](https://evil.example) ``` "] <!--'


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    server = FakeGitHub().start()
    yield server
    server.stop()


def _check_json(tmp_path: Path) -> dict[str, Any]:
    (tmp_path / "base.json").write_text(make_record(performance=0.91).to_json())
    (tmp_path / "cand.json").write_text(make_record(performance=0.90, branch="f").to_json())
    proc = pepr_gate("check", "--candidate", "cand.json", "--baseline", "base.json",
                     "--json", "check.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data: dict[str, Any] = json.loads((tmp_path / "check.json").read_text())
    return data


def _comment(tmp_path: Path, gh: FakeGitHub, data: dict[str, Any]) -> Any:
    (tmp_path / "crafted.json").write_text(json.dumps(data))
    env = {**os.environ, "GITHUB_TOKEN": gh.token, "GITHUB_API_URL": gh.api_url,
           "GITHUB_REPOSITORY": REPO, "GITHUB_OUTPUT": str(tmp_path / "out")}
    return pepr_gate("comment", "--from", "crafted.json", "--pr", "2", cwd=tmp_path, env=env)


@pytest.mark.parametrize(("field", "value"), [
    ("variant", 'PePR-E"]\n```\n<img src=x> @octo/team'),
    ("variant", "PePR-T"),  # a real label, but not the one for resource energy
    ("verdict", "<b>pass</b>"),
    ("pepr_change", float("nan")),
    ("threshold", float("inf")),
])
def test_a_field_outside_its_type_is_refused_and_nothing_is_posted(
    tmp_path: Path, gh: FakeGitHub, field: str, value: object
) -> None:
    data = _check_json(tmp_path)
    data[field] = value
    proc = _comment(tmp_path, gh, data)
    assert_exit(proc, 2, "crafted.json")
    assert gh.comments.get((REPO, 2)) is None
    assert "<img" not in proc.stderr and "\n```" not in proc.stderr


def test_every_string_is_escaped_in_the_comment_and_its_mermaid_block(
    tmp_path: Path, gh: FakeGitHub
) -> None:
    data = _check_json(tmp_path)
    data.update(reasons=[HOSTILE], notes=[HOSTILE], performance_name=HOSTILE,
                head_branch=HOSTILE, base_branch=HOSTILE, methods=[HOSTILE],
                trend=[[HOSTILE, 0.41], ['x"] --> evil', 0.42], ["abc1234", 0.43]])
    data["candidate"]["run_ids"] = [HOSTILE]
    proc = _comment(tmp_path, gh, data)
    assert_exit(proc, 0)
    (posted,) = gh.comments[(REPO, 2)]
    body = posted["body"]
    assert "@octo" not in body  # mentions carry a zero-width joiner: nobody is pinged
    assert "<img" not in body and re.findall(r"<!--(?! pepr-gate:)", body) == []
    assert "](https://evil" not in body
    mermaid = body.split("```mermaid\n", 1)[1].split("\n```", 1)[0]
    mermaid = mermaid.rsplit("---\n", 1)[-1]  # the chart after pepr-gate's own theme header
    assert mermaid.startswith("xychart-beta")
    assert re.fullmatch(r'[A-Za-z0-9 ._:/+\-"\[\],>\n()]*', mermaid), mermaid
    assert mermaid.count('"') % 2 == 0  # quotes balanced
    # Labels kept: on the axis, or (too long to sit side by side) in the caption's legend.
    legend = body.split("Runs, oldest first: ", 1)[-1].split("</sub>", 1)[0]
    assert "evil" in mermaid or ("evil" in legend and "<" not in legend)


def test_field_names_from_the_file_cannot_start_a_workflow_command(
    tmp_path: Path, gh: FakeGitHub
) -> None:
    for where, key, shown in (((), "\n::set-output name=verdict::pass", "\\n::set-output"),
                              (("candidate",), "\r\n::add-mask::x", "\\r\\n::add-mask")):
        data = _check_json(tmp_path)
        target = data
        for part in where:
            target = target[part]
        target[key] = 1
        proc = _comment(tmp_path, gh, data)
        assert_exit(proc, 2, "crafted.json", shown)
        assert not any(line.startswith("::") for line in proc.stderr.splitlines())
        assert not any(line.startswith("::") for line in proc.stdout.splitlines())
        assert gh.comments.get((REPO, 2)) is None
