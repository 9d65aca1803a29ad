"""`pepr-gate history`: a branch's stored runs, newest first, with a PePR trend."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pepr_gate.records import RunRecord
    from pepr_gate.store import Store

DESCRIPTION = """\
Show the runs stored for a branch (default: the current git branch; every branch
outside a repository), newest first, with P, the scored resource, PePR and energy,
and a sparkline of PePR from oldest to newest.

examples:
  pepr-gate history                                 current branch, last 20 runs
  pepr-gate history --branch main --limit 50
  pepr-gate history --all-branches --format csv > runs.csv
  pepr-gate history --store git:pepr-data --format json
  pepr-gate history --all-branches --format openmetrics > pepr-gate.prom
  pepr-gate history --store git:pepr-data --import .pepr/runs/RUN_ID.json
  pepr-gate history --changes --branch main       where PePR, P or R stepped
  pepr-gate history --changes --variant E --json  the same as JSON
"""

CSV_COLUMNS = ("id", "created_at", "branch", "sha", "status", "performance_name",
               "performance", "variant", "resource", "resource_value", "R", "pepr",
               "energy_kwh", "energy_method", "carbon_kg", "duration_s",
               "gpu_peak_memory_bytes", "fingerprint", "config_hash", "load_start",
               "load_end", "other_cpu_share", "wall_cpu_ratio", "gpu_temperature_c")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def register(sub: Any) -> None:
    p = sub.add_parser("history", help="show a branch's stored runs with a PePR trend",
                       description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", metavar="PATH", help="config file (default: ./pepr.toml)")
    p.add_argument("--store", metavar="URL",
                   help="history store (default: [store] url, else sqlite:///.pepr/history.db)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--branch", metavar="B", help="the branch to show")
    which.add_argument("--all-branches", action="store_true", help="show every branch")
    p.add_argument("--status", choices=("ok", "failed"), help="only runs with this status")
    p.add_argument("--limit", type=_positive_int, default=None, metavar="N",
                   help="at most N runs, newest first (default: 20; with --changes 1000; "
                   "with --format openmetrics every run, to find each branch's newest)")
    p.add_argument("--format", choices=("table", "json", "csv", "openmetrics"), default="table",
                   help="openmetrics: the newest ok run of each branch as OpenMetrics text "
                   "(for a textfile collector or a Pushgateway)")
    p.add_argument("--import", dest="import_files", nargs="+", metavar="FILE",
                   help="store these run-record files (e.g. ones a failed push left in "
                   ".pepr/runs/) instead of listing; ids already stored are skipped")
    p.add_argument("--changes", action="store_true",
                   help="find the change points of PePR, P and the resource in the branch's "
                   "comparable runs (hardware or config changes are boundaries)")
    p.add_argument("--variant", metavar="E",
                   help="with --changes: only runs scored with this variant (E, C, T, M, P)")
    p.add_argument("--json", action="store_true", help="with --changes: print JSON")
    p.add_argument("--open-issues", action="store_true",
                   help="with --changes: open or update one GitHub issue per change point "
                   "that made the branch worse (GITHUB_TOKEN, GITHUB_REPOSITORY; see "
                   "action/examples/watch.yml)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pepr_gate.config import load_config
    from pepr_gate.store import open_store

    if args.changes:
        from pepr_gate.commands.changes import run_changes

        return run_changes(args)
    if args.json or args.variant or args.open_issues:
        from pepr_gate.errors import InputError

        raise InputError("--json, --variant and --open-issues go with --changes",
                         hint="for runs as JSON use --format json")
    if args.format == "openmetrics" and args.status == "failed":
        from pepr_gate.errors import InputError

        raise InputError("--status failed cannot go with --format openmetrics: the exposition "
                         "holds the newest ok run of each branch, so it would be empty",
                         hint="list failed runs with --status failed --format table (or json, "
                         "csv); leave out --status for the exposition")
    config = load_config(args.config, required=False)
    root = Path(config.root).resolve() if config.source else Path.cwd()
    url = args.store or config.store.url
    with open_store(url, root=root, must_exist=not args.import_files) as store:
        if args.import_files:
            return _import(store, [Path(f) for f in args.import_files])
        branch = None
        if not args.all_branches:
            from pepr_gate.measure.gitinfo import current_branch

            branch = args.branch or current_branch(Path.cwd())
        limit = args.limit or (None if args.format == "openmetrics" else 20)
        records = store.runs(branch, limit=limit, status=args.status)
    if args.format == "openmetrics":
        import sys

        from pepr_gate.publish.exports.openmetrics import render

        sys.stdout.write(render(records))
    elif args.format == "json":
        import json

        print(json.dumps([r.model_dump(mode="json", by_alias=True) for r in records], indent=2))
    elif args.format == "csv":
        _print_csv(records)
    else:
        _print_table(records, branch, url, args.status)
    return 0


def _import(store: Store, files: list[Path]) -> int:
    from pepr_gate.services.history import import_records

    outcome = import_records(store, files)
    for path, run_id in outcome.skipped:
        print(f"{path}: run {run_id} is already in {store.url}; skipped")
    print(f"stored {outcome.stored} of {outcome.total} run(s) in {store.url}")
    return 0


def _row(record: RunRecord) -> dict[str, Any]:
    score, res = record.score, record.resources
    return {
        "id": record.id,
        "created_at": record.created_at.isoformat(),
        "branch": record.branch,
        "sha": record.git.sha if record.git else None,
        "status": record.status,
        "performance_name": record.performance.name,
        "performance": record.performance.value,
        "variant": score.variant if score else None,
        "resource": score.resource if score else None,
        "resource_value": score.resource_value if score else None,
        "R": score.R if score else None,
        "pepr": score.pepr if score else None,
        "energy_kwh": res.energy_kwh,
        "energy_method": res.energy_method,
        "carbon_kg": res.carbon_kg,
        "duration_s": res.duration_s,
        "gpu_peak_memory_bytes": res.gpu_peak_memory_bytes,
        "fingerprint": record.hardware.fingerprint,
        "config_hash": record.config_hash,
        **_conditions(record),
    }


def _conditions(record: RunRecord) -> dict[str, Any]:
    c = record.conditions
    keys = ("load_start", "load_end", "other_cpu_share", "wall_cpu_ratio", "gpu_temperature_c")
    return {k: getattr(c, k) if c else None for k in keys}


def _print_csv(records: list[RunRecord]) -> None:
    import csv
    import sys

    from pepr_gate.publish.cells import csv_cell

    writer = csv.DictWriter(sys.stdout, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({k: "" if v is None else csv_cell(v) for k, v in _row(record).items()})


def _print_table(records: list[RunRecord], branch: str | None, url: str,
                 status: str | None = None) -> None:
    from rich.console import Console
    from rich.text import Text

    from pepr_gate.publish.history_table import print_history
    from pepr_gate.records.ranges import printable

    where = "any branch" if branch is None else f"branch {printable(branch, None)}"
    if records:
        print_history(records, f"pepr-gate history · {where} · {url}")
        return
    console = Console(highlight=False)
    if status:  # runs may exist, just none with that status
        console.print(Text(f"no {status} runs stored for {where} in {url}"))
        console.print("  hint: leave out --status to show runs of every status")
    else:
        console.print(Text(f"no runs stored for {where} in {url}"))
        console.print("  hint: `pepr-gate run` stores a run; --all-branches shows every branch")
