"""`pepr-gate ab`: paired A/B of the base commit against the working tree, on this machine."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "ab", help="paired A/B: run the base commit and the head alternately, then decide",
        description="Check --base out into a temporary git worktree, run the stages for the "
        "base and the head (this checkout) alternately in ABBA order, store every run "
        "labelled `paired`, and decide with a paired test on the per-pair PePR changes, "
        "which load drift on the runner cannot bias. Costs 2 x PAIRS runs, printed first. "
        "Exit codes as for `check`; 3 when a stage fails, 130 on Ctrl-C (the worktree is "
        "removed in every case).",
    )
    p.add_argument("--base", metavar="REF", required=True,
                   help="the commit to compare with: a branch, tag or SHA (e.g. main)")
    p.add_argument("--pairs", metavar="N", type=int,
                   help="base/head pairs to run (default 4: 8 runs)")
    add_run_options(p)
    p.add_argument("--threshold", metavar="X",
                   help="largest allowed PePR drop, 0.05 or 5%% (default: [gate] max_pepr_drop)")
    p.add_argument("--markdown", metavar="OUT.md", help="write the PR comment body here")
    p.add_argument("--json", metavar="OUT.json", help="write the check result here")
    p.set_defaults(func=run)


def add_run_options(p: argparse.ArgumentParser) -> None:
    """The flags every command that runs both sides shares (`ab`, `bisect`)."""
    p.add_argument("--config", metavar="PATH", help="pepr.toml (default: found in cwd)")
    p.add_argument("--store", metavar="URL", help="history store URL (default: [store] url)")
    p.add_argument("--no-store", action="store_true", help="do not store the runs")
    p.add_argument("--meter", metavar="KIND",
                   help="auto | process | replay:TRACE.json (default: [meter] kind)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from pepr_gate.commands.check import write_output
    from pepr_gate.config import load_config
    from pepr_gate.measure.gitinfo import head_branch
    from pepr_gate.publish.markdown import render_markdown
    from pepr_gate.publish.terminal import render_terminal
    from pepr_gate.services.ab import AbRequest, run_ab
    from pepr_gate.services.check import exit_code_for

    threshold = _threshold(args.threshold)
    config = load_config(args.config, required=args.config is not None)
    req = AbRequest(
        base_ref=args.base, pairs=args.pairs, meter=args.meter, store_url=args.store,
        no_store=args.no_store,
        head_branch=head_branch(Path(config.root)), threshold=threshold,
    )
    done = run_ab(config, req, announce=lambda line: print(f"pepr-gate: {line}", flush=True))
    if done.outcome.error is not None:
        raise done.outcome.error
    assert done.result is not None
    if args.json:
        write_output(args.json, done.result.to_json() + "\n")
    if args.markdown:
        write_output(args.markdown, render_markdown(done.result))
    render_terminal(done.result)
    return exit_code_for(done.result)



def _threshold(text: str | None) -> float | None:
    """`--threshold` parsed and checked exactly as `check` does, before any job runs."""
    if text is None:
        return None
    from pepr_gate.commands.check import parse_threshold
    from pepr_gate.services.check import validate_threshold

    threshold = parse_threshold(text)
    validate_threshold(threshold)
    return threshold
