"""`history --changes --open-issues`: one GitHub issue per change point that made a branch
worse (PePR or P down, the resource up), opened once and updated on later runs.

The issue carries a hidden marker with the branch, the series (hardware fingerprint and
config hash) and the commit the step starts at. A later run finds it over all pages of
the `pepr-gate` label's issues (open or closed) and updates that issue instead of opening
another; as more runs arrive a change point may move by one point, so an issue whose
commit is the point before or after still counts as the same change point.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from pepr_gate.decide.changepoints import Analysis, Change, Point
from pepr_gate.errors import InputError
from pepr_gate.publish.text import escape_md
from pepr_gate.services.changes import METRIC_NAMES, confidence_text, is_worse

LABEL = "pepr-gate"
MARKER = re.compile(r"<!-- pepr-gate:change-point branch=(\S+) series=(\S+) sha=(\w+) -->")


@dataclass
class Item:
    branch: str
    series: str  # fingerprint/config_hash
    before: Point
    after: Point
    nearby: set[str]  # commits that name the same change point
    changes: list[Change] = field(default_factory=list)

    @property
    def sha(self) -> str:
        return self.after.sha or self.after.first.id

    def marker(self) -> str:
        return f"<!-- pepr-gate:change-point branch={self.branch} series={self.series} " \
               f"sha={self.sha} -->"


def items(analysis: Analysis, branch: str) -> list[Item]:
    """The change points that made `branch` worse, one item per commit and series."""
    found: dict[tuple[int, int], Item] = {}
    for change in analysis.changes:
        if not is_worse(change):
            continue
        series = analysis.series[change.series]
        key = (change.series, change.index)
        if key not in found:
            pts = series.points
            at = pts.index(change.after)
            near = {p.sha or p.first.id for p in pts[max(0, at - 1):at + 2]}
            found[key] = Item(branch, f"{series.fingerprint}/{series.config_hash}",
                              change.before, change.after, near)
        found[key].changes.append(change)
    return list(found.values())


def title(item: Item) -> str:
    main = item.changes[0]
    name = METRIC_NAMES[main.metric] if main.metric != "resource" else _resource(main)
    return f"pepr-gate: {name} {main.step:+.1%} on {item.branch} at {item.sha[:12]}"


def _resource(change: Change) -> str:
    score = change.before.first.score
    return score.resource if score else "resource"


def body(item: Item, server_url: str, repo: str) -> str:
    def link(point: Point) -> str:
        sha = point.sha
        if not sha:
            return f"run {escape_md(point.first.id)}"
        return f"[`{sha[:12]}`]({server_url}/{repo}/commit/{sha})"

    lines = [
        f"pepr-gate found a change point on `{escape_md(item.branch)}`: from {link(item.before)}"
        f" to {link(item.after)} ({item.after.created_at:%Y-%m-%d %H:%M} UTC).", "",
        "| metric | step | mean before | mean after | confidence | points before/after |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for c in item.changes:
        name = METRIC_NAMES[c.metric] if c.metric != "resource" else _resource(c)
        lines.append(f"| {escape_md(name)} | {c.step:+.1%} | {c.mean_before:.4g} | "
                     f"{c.mean_after:.4g} | {confidence_text(c.confidence)} | {c.runs_before}/"
                     f"{c.runs_after} |")
    good, bad = item.before.sha or "GOOD", item.after.sha or "BAD"
    lines += [
        "", "Runs compared: the same hardware and config "
        f"(`{escape_md(item.series)}`). To find the commit, on a runner like the one that "
        "measured these runs:", "",
        "```sh", f"pepr-gate bisect --good {good} --bad {bad}", "```", "",
        "Updated by the scheduled pepr-gate watch (`pepr-gate history --changes "
        "--open-issues`); closing this issue is fine, it is updated, not reopened.",
        item.marker(), "",
    ]
    return "\n".join(lines)


def _match(existing: dict[str, object], item: Item) -> bool:
    found = MARKER.search(str(existing.get("body") or ""))
    return bool(found and found.group(1) == item.branch and found.group(2) == item.series
                and found.group(3) in item.nearby)


def publish(analysis: Analysis, branch: str, env: Mapping[str, str]) -> list[str]:
    """Open or update the issues; returns one line per issue for the log."""
    from pepr_gate.publish.github.api import GitHubClient
    from pepr_gate.publish.github.context import default_api_url

    token, repo = env.get("GITHUB_TOKEN", "").strip(), env.get("GITHUB_REPOSITORY", "")
    if not token or "/" not in repo:
        raise InputError("--open-issues needs GITHUB_TOKEN and GITHUB_REPOSITORY (owner/name)",
                         hint="set them in the workflow step's env: (see watch.yml)")
    server = env.get("GITHUB_SERVER_URL") or "https://github.com"
    api_url = env.get("GITHUB_API_URL") or default_api_url(server)
    wanted = items(analysis, branch)
    lines = []
    with GitHubClient(api_url, token) as client:
        existing = list(client.iter_issues(repo, LABEL)) if wanted else []
        for item in wanted:
            text, head = body(item, server, repo), title(item)
            old = next((i for i in existing if _match(i, item)), None)
            if old is None:
                made = client.create_issue(repo, head, text, [LABEL])
                existing.append(made)
                lines.append(f"opened issue #{made.get('number')}: {head}")
            elif old.get("body") != text or old.get("title") != head:
                client.update_issue(repo, int(str(old["number"])), head, text)
                lines.append(f"updated issue #{old['number']}: {head}")
            else:
                lines.append(f"issue #{old['number']} is up to date: {head}")
    return lines
