"""`pepr-gate history --changes`: where a branch's PePR, P or resource stepped."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from pepr_gate.errors import InputError


def run_changes(args: argparse.Namespace) -> int:
    from pepr_gate.config import load_config
    from pepr_gate.measure.gitinfo import current_branch
    from pepr_gate.services.changes import DEFAULT_LIMIT, as_json, branch_changes, variant_name
    from pepr_gate.store import open_store

    if args.all_branches or args.import_files or args.status or args.format != "table":
        raise InputError("--changes reads one branch's ok runs: it does not go with "
                         "--all-branches, --import, --status or --format",
                         hint="e.g. pepr-gate history --changes --branch main [--json]")
    variant = variant_name(args.variant)
    config = load_config(args.config, required=False)
    root = Path(config.root).resolve() if config.source else Path.cwd()
    url = args.store or config.store.url
    branch = args.branch or current_branch(Path.cwd())
    if branch is None:
        raise InputError("--changes needs a branch: this folder is not on a git branch",
                         hint="name one with --branch main")
    with open_store(url, root=root, must_exist=True) as store:
        analysis, _ = branch_changes(store, branch, variant, args.limit or DEFAULT_LIMIT)
        shown_url = store.url
    if args.json:
        print(json.dumps(as_json(analysis, branch, shown_url), indent=2))
    else:
        _print(analysis, branch, shown_url)
    if args.open_issues:
        import os
        import sys

        from pepr_gate.services.watch import publish

        for line in publish(analysis, branch, os.environ):
            print(f"pepr-gate: {line}", file=sys.stderr if args.json else sys.stdout)
    return 0


def _print(analysis: object, branch: str, url: str) -> None:
    from rich.console import Console
    from rich.text import Text

    from pepr_gate.decide.changepoints import Analysis
    from pepr_gate.records.ranges import printable
    from pepr_gate.services.changes import boundary_line, change_line

    assert isinstance(analysis, Analysis)
    console = Console(highlight=False, soft_wrap=True)
    console.print(Text(f"pepr-gate history --changes · branch {printable(branch, None)} · "
                       f"{url}"))
    if not analysis.series:
        console.print(Text("no scored ok runs stored for this branch"))
        console.print("  hint: `pepr-gate run` stores a run; check --branch and --variant")
        return
    for i, series in enumerate(analysis.series):
        runs = sum(len(p.runs) for p in series.points)
        console.print(Text(
            f"series {i + 1}: {len(series.points)} point(s) from {runs} run(s), "
            f"{series.variant}, hardware {series.fingerprint[:16]}, config "
            f"{series.config_hash[:16]}, {series.points[0].created_at:%Y-%m-%d} to "
            f"{series.points[-1].created_at:%Y-%m-%d}"))
        for boundary in analysis.boundaries:
            if boundary.series == i:
                console.print(Text(f"  {boundary_line(boundary)}"))
        found = [c for c in analysis.changes if c.series == i]
        for change in found:
            console.print(Text(f"  {change_line(change)}"))
        if not found:
            console.print(Text("  no change points"))
    if analysis.skipped:
        console.print(Text(f"{analysis.skipped} run(s) left out: unscored, paired A/B "
                           "halves or another variant"))
