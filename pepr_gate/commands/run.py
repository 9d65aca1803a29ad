"""`pepr-gate run`: run the declared stages (or a command after `--`) under the meter."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Literal


def register(sub: Any) -> None:
    p = sub.add_parser(
        "run",
        help="run the train/eval stages under the meter, score and store the run",
        description=(
            "Run the stages declared in pepr.toml (or the command after `--` as the only "
            "stage) under the meter, read P from the metrics file, compute PePR, write the "
            "run record and append it to the history store."
        ),
    )
    p.add_argument("--config", metavar="PATH",
                   help="pepr.toml or pyproject.toml, or a folder holding one "
                   "(default: the current folder)")
    p.add_argument("--out", metavar="FILE", type=Path,
                   help="write the run record here (default: .pepr/runs/<id>.json)")
    p.add_argument("--store", metavar="URL", help="history store URL (default: [store] url)")
    p.add_argument("--no-store", action="store_true", help="do not append to the history store")
    p.add_argument("--meter", metavar="KIND",
                   help="auto | process | prometheus | replay:TRACE.json "
                   "(default: [meter] kind)")
    p.add_argument("--repeats", metavar="N|auto",
                   help="run the stages N times, each stored; auto: one at a time, checking "
                   "against the base branch after each, until the verdict is decided or "
                   "[run] max_repeats (default: [run] repeats)")
    p.add_argument("--branch", metavar="B", help="record the run under this branch name")
    p.add_argument("--quiet", action="store_true",
                   help="no live line while the stages run (neither on a terminal nor the "
                   "plain line every [run] progress_interval_s)")
    p.add_argument("--record-trace", metavar="FILE", type=Path,
                   help="also record the GPU samples as a replay trace (real GPUs only)")
    p.add_argument("--mlflow", action="store_true",
                   help="also log each run to MLflow ([export.mlflow], else "
                   "MLFLOW_TRACKING_URI); a tracker that is down costs a warning, not the run")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="show each energy component and why each missing sensor is missing")
    p.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD ARGS...",
                   help="run this command as the only stage instead of the configured ones")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pepr_gate.config import load_config
    from pepr_gate.errors import InputError
    from pepr_gate.publish.run_table import print_repeats, print_run
    from pepr_gate.records.ranges import require_branch
    from pepr_gate.services.export import check_export
    from pepr_gate.services.run import execute

    require_branch(args.branch, "--branch")
    cmd = list(args.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    elif cmd:
        raise InputError(
            f"unexpected argument {cmd[0]!r}",
            hint="put the command to measure after `--`, e.g. pepr-gate run -- python train.py",
        )
    repeats = _repeats(args.repeats)
    config = load_config(args.config, required=not cmd)
    check_export(config, flag=args.mlflow)
    if args.record_trace is not None and (args.meter or config.meter.kind) == "auto":
        _check_record_trace(args.record_trace, config)
    common: dict[str, Any] = dict(
        argv=cmd or None, meter=args.meter, store_url=args.store, no_store=args.no_store,
        out=args.out, branch=args.branch, record_trace=args.record_trace, quiet=args.quiet,
    )
    if (repeats or config.run.repeats) == "auto":
        if args.no_store:
            where = "--repeats auto" if repeats == "auto" else "[run] repeats = \"auto\""
            raise InputError(
                f"{where} cannot be used with --no-store: auto repeats check each repeat "
                "against the stored history, so the runs must be stored",
                hint="drop --no-store, or give a fixed count such as --repeats 3",
            )
        measured = _adaptive(config, args, common)
        outcome = measured.outcome
    else:
        assert repeats != "auto"
        outcome = execute(config, repeats=repeats, **common)
        measured = None
    for record, path in zip(outcome.records, outcome.record_paths, strict=True):
        print_run(record, verbose=args.verbose)
        print(f"record: {path}")
    if len(outcome.records) > 1:
        print_repeats(outcome.records)
    _export(config, args, outcome, measured)
    if outcome.error is not None:
        raise outcome.error
    if measured is not None and measured.result is not None:
        from pepr_gate.services.adaptive import describe_looks

        print(describe_looks(measured, config.run.max_repeats) or "", f"Verdict so far: "
              f"{measured.result.verdict} (`pepr-gate check` gives the reasons).")
    return 0


def _export(config: Any, args: argparse.Namespace, outcome: Any, measured: Any) -> None:
    """Log the runs to MLflow when asked; an interrupted or unstored run is not logged."""
    from pepr_gate.errors import Interrupted, StoreError
    from pepr_gate.services.export import export_runs

    if isinstance(outcome.error, (Interrupted, StoreError)):
        return
    verdict = measured.result.verdict if measured and measured.result else None
    unstored = [str(p) for p in outcome.record_paths] if args.no_store else []
    _say(export_runs(config, outcome.records, os.environ, flag=args.mlflow, verdict=verdict,
                     unstored=unstored))


def _say(lines: list[str]) -> None:
    for line in lines:
        warn = line.startswith("warning:")
        print(f"pepr-gate: {line}", file=sys.stderr if warn else sys.stdout)


def _repeats(text: str | None) -> int | Literal["auto"] | None:
    from pepr_gate.errors import InputError

    if text is None:
        return None
    if text.strip().lower() == "auto":
        return "auto"
    if not text.strip().isdigit() or not 1 <= int(text) <= 100:
        raise InputError(f"--repeats {text!r}: must be a whole number from 1 to 100, or auto")
    return int(text)


def _adaptive(config: Any, args: argparse.Namespace, common: dict[str, Any]) -> Any:
    """`--repeats auto`: one run at a time, checked against the base branch after each."""
    from pepr_gate.records import CheckResult, RunRecord
    from pepr_gate.services.adaptive import measure_and_check
    from pepr_gate.services.check import run_check

    def check(candidates: list[RunRecord], looks: int) -> CheckResult:
        return run_check(config, candidates=candidates, head_branch=args.branch,
                         store_url=args.store, max_looks=looks)

    return measure_and_check(config, "auto", check, **common)


def _check_record_trace(path: Path, config: Any) -> None:
    """Refuse --record-trace before the job runs when nothing could be recorded."""
    import os

    from pepr_gate.errors import InputError
    from pepr_gate.measure.meter.nvml import check_recordable

    if not config.meter.gpu:
        raise InputError(f"--record-trace {path}: [meter] gpu = false turns GPU metering off",
                         hint="set [meter] gpu = true, or drop --record-trace")
    check_recordable({**os.environ, **config.run.env}, path)
