"""`pepr-gate check`: compare a candidate run with the base branch's baseline."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "check", help="compare a run with the baseline and give the verdict",
        description="Compare the candidate run's PePR with the base branch's baseline "
        "(noise-aware), check budgets and the performance guardrail, print the verdict. "
        "Exit 0 pass/warn/inconclusive, 1 fail (or inconclusive with --strict), 2 bad input.",
    )
    p.add_argument("--config", metavar="PATH", help="pepr.toml (default: found in cwd)")
    p.add_argument("--candidate", metavar="FILE.json|latest", nargs="+", action="extend",
                   help="run record file(s): one run, or several (one repeat group); or "
                   "'latest' (default): the newest stored run of the current git branch")
    p.add_argument("--baseline", metavar="FILE.json", nargs="+", action="extend",
                   help="baseline run record file(s) instead of the store")
    p.add_argument("--baseline-branch", metavar="B",
                   help="base branch (default: [gate] base_branch, GITHUB_BASE_REF, main)")
    p.add_argument("--store", metavar="URL", help="history store URL (default: [store] url)")
    p.add_argument("--threshold", metavar="X",
                   help="largest allowed relative PePR drop, 0.05 or 5%% "
                   "(default: [gate] max_pepr_drop)")
    p.add_argument("--markdown", metavar="OUT.md", help="write the PR comment body here")
    p.add_argument("--json", metavar="OUT.json", help="write the check result here")
    p.add_argument("--strict", action="store_true", default=None,
                   help="exit 1 when the verdict is inconclusive")
    p.add_argument("--mlflow", action="store_true",
                   help="also tag the candidate runs' MLflow runs with the verdict "
                   "([export.mlflow], else MLFLOW_TRACKING_URI), as `run --mlflow` logged them")
    p.set_defaults(func=run)


def write_output(path: str, text: str) -> None:
    from pepr_gate.errors import InputError
    from pepr_gate.fileio.atomic import write_atomic

    out = Path(path)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{out}: cannot write: {exc.strerror or exc}",
                         hint="choose a writable path") from None
    write_atomic(out, text, error=InputError, hint="choose a writable path")


def parse_threshold(text: str | None) -> float | None:
    """`--threshold 0.05` or `--threshold 5%`; a bad value exits 2 naming the flag."""
    if text is None:
        return None
    from pepr_gate.errors import InputError
    from pepr_gate.units import parse_fraction

    try:
        return parse_fraction(text)
    except ValueError as exc:
        raise InputError(f"--threshold {exc}",
                         hint="pass the largest allowed PePR drop, e.g. 0.05 or 5%") from None


def run(args: argparse.Namespace) -> int:
    from pepr_gate.config import load_config
    from pepr_gate.publish.markdown import render_markdown
    from pepr_gate.publish.terminal import render_terminal
    from pepr_gate.records import load_run_record
    from pepr_gate.services.check import exit_code_for, run_check, validate_threshold

    threshold = parse_threshold(args.threshold)
    validate_threshold(threshold)
    from_file = args.candidate not in (None, ["latest"])
    config = load_config(args.config, required=args.config is not None)
    if args.mlflow:
        from pepr_gate.services.export import check_export

        check_export(config, flag=True)
    candidates = [load_run_record(f) for f in args.candidate] if from_file else None
    baselines = [load_run_record(f) for f in args.baseline] if args.baseline else None
    result = run_check(
        config, candidates=candidates, candidate_latest=not from_file, baselines=baselines,
        baseline_branch=args.baseline_branch, store_url=args.store, threshold=threshold,
        strict=args.strict,
    )
    if args.json:
        write_output(args.json, result.to_json() + "\n")
    if args.markdown:
        from pepr_gate.publish.github.context import workflow_run_url

        write_output(args.markdown, render_markdown(result, run_url=workflow_run_url(os.environ)))
    render_terminal(result)
    from pepr_gate.services.export import export_verdict

    for line in export_verdict(config, result.candidate.run_ids, result.verdict, os.environ,
                               flag=args.mlflow):
        print(f"pepr-gate: {line}", file=sys.stderr)
    return exit_code_for(result)
