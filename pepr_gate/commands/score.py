"""`pepr-gate score`: rank many models by PePR, as the paper does, with a profile plot.

Inputs are CSV tables, run-record JSON files (or folders of them) or a history store.
The arithmetic lives in `pepr_gate.leaderboard.table` and CSV reading and validation in
`pepr_gate.leaderboard.io`; this module gathers the inputs, writes the files asked for
and prints the leaderboard.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pepr_gate.errors import InputError, PeprError

if TYPE_CHECKING:
    from pepr_gate.leaderboard.table import Leaderboard, Table
    from pepr_gate.records import RunRecord

# Resource names a run record answers to, mapped to pepr_gate.score's resource names.
RECORD_RESOURCES = {
    "energy": "energy",
    "energy_kwh": "energy",
    "carbon": "carbon",
    "co2": "carbon",
    "carbon_kg": "carbon",
    "time": "time",
    "duration_s": "time",
    "memory": "gpu_memory",
    "gpu_memory": "gpu_memory",
    "params": "params",
}
RECORD_GROUPS = ("branch", "sha", "performance", "hardware", "config")
RANKING_RULE = "PePR descending, then P descending, then resource ascending, then name ascending"


def register(sub: Any) -> None:
    p = sub.add_parser(
        "score",
        help="rank many models by PePR (the paper's leaderboard) and plot the trade-off",
        description="Score and rank models by PePR = P / (1 + R), R normalised per group. "
        f"Ranking: {RANKING_RULE}.",
    )
    p.add_argument("inputs", nargs="*", metavar="INPUT",
                   help="CSV files, run-record JSON files, or folders of run records")
    p.add_argument("--store", metavar="URL", help="score the ok runs of a history store")
    p.add_argument("--branch", metavar="B", help="with --store: only this branch's runs")
    p.add_argument("--performance", metavar="COL",
                   help="CSV column with P in [0, 1] (default: P, performance, accuracy, acc)")
    p.add_argument("--performance-scale", metavar="X", type=float, default=1.0,
                   help="divide P by X first, e.g. 100 for a percentage column")
    p.add_argument("--resource", metavar="COL[,COL...]",
                   help="resource columns, one PePR variant each (CSV default: energy; "
                   "records: energy, carbon/co2, time, memory/gpu_memory, params)")
    p.add_argument("--name", metavar="COL",
                   help="CSV column naming the model (default: model, name)")
    p.add_argument("--group", metavar="COL",
                   help="normalise and rank within each value of COL (records: "
                   + ", ".join(RECORD_GROUPS) + ")")
    p.add_argument("--only", metavar="G[,G...]", help="keep only these groups")
    p.add_argument("--normalize", choices=("pool", "scale"),
                   help="pool: R = (x - min)/(max - min) per group (default); "
                   "scale: R = min(x / X, 1)")
    p.add_argument("--scale", metavar="X[,X...]",
                   help="with --normalize scale: X for every resource, or one per resource")
    p.add_argument("--top", metavar="N", type=int, default=5, help="rows per leaderboard shown (5)")
    p.add_argument("--json", metavar="OUT", type=Path, help="write every row as JSON")
    p.add_argument("--csv", metavar="OUT", type=Path, help="write every row as CSV")
    p.add_argument("--markdown", metavar="OUT", type=Path,
                   help="write the top-N tables as Markdown")
    p.add_argument("--plot", metavar="OUT.png", type=Path, help="write the PePR profile plot (PNG)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pepr_gate.leaderboard import io as lbio
    from pepr_gate.leaderboard import table as lbm
    from pepr_gate.publish.leaderboard_table import print_leaderboard, render_markdown

    if not args.inputs and not args.store:
        raise InputError("no input: give CSV or run-record files, or --store URL",
                         hint="e.g. `pepr-gate score results.csv --resource energy`")
    if args.top < 1:
        raise InputError(f"--top {args.top}: must be at least 1")
    if not 0 < args.performance_scale < float("inf"):
        raise InputError(f"--performance-scale {args.performance_scale}: must be a positive "
                         "finite number", hint="e.g. --performance-scale 100 for percentages")
    resources = _split(args.resource)
    mode = args.normalize or ("scale" if args.scale else "pool")
    table = _load(args, resources)
    if args.only:
        table = lbio.only_groups(table, _split(args.only) or [])
    scales = _scales(args.scale, list(table.resources), mode)
    lb = lbm.score_table(table, mode=mode, scales=scales)
    for group, name in lb.duplicates:
        print(f"pepr-gate: warning: group {group!r}: model {name!r} appears more than once; "
              "all rows are kept and ranked", file=sys.stderr)
    print_leaderboard(lb, top=args.top)
    if args.json:
        _write(args.json, json.dumps(_json_doc(lb), indent=2) + "\n")
    if args.csv:
        _write(args.csv, _csv_text(lbm.export_rows(lb)))
    if args.markdown:
        _write(args.markdown, render_markdown(lb, top=args.top))
    if args.plot:
        from pepr_gate.publish.plot import plot_profile

        _prepare(args.plot)
        plot_profile(lb, args.plot, top=args.top)
    return 0


def _split(value: str | None) -> list[str] | None:
    if value is None:
        return None
    parts = [v.strip() for v in value.split(",") if v.strip()]
    if not parts:
        raise InputError(f"empty list {value!r}", hint="give comma-separated names")
    return parts


def _scales(value: str | None, columns: list[str], mode: str) -> dict[str, float] | None:
    if mode == "pool":
        if value:
            raise InputError("--scale applies only to --normalize scale",
                             hint="drop --scale, or pass --normalize scale")
        return None
    if not value:
        raise InputError("--normalize scale needs --scale X (the resource amount at R = 1)",
                         hint="e.g. --scale 0.5 for 0.5 kWh, or one value per resource")
    try:
        xs = [float(v) for v in value.split(",")]
    except ValueError:
        raise InputError(f"--scale {value!r}: not a number list") from None
    if len(xs) == 1:
        xs *= len(columns)
    if len(xs) != len(columns) or not all(x > 0 and x != float("inf") for x in xs):
        raise InputError(f"--scale {value!r}: need one positive value, or one per resource "
                         f"({', '.join(columns)})")
    return dict(zip(columns, xs, strict=True))


def _load(args: argparse.Namespace, resources: list[str] | None) -> Table:
    from pepr_gate.leaderboard import io as lbio
    from pepr_gate.records import load_run_record

    paths: list[Path] = []
    from_folder: set[Path] = set()
    for raw in args.inputs:
        p = Path(raw)
        if p.is_dir():
            found = sorted(p.glob("*.json"))
            if not found:
                raise InputError(f"{p}: a folder with no run records (*.json) in it",
                                 hint="pass a CSV file, run-record files, or .pepr/runs/")
            paths.extend(found)
            from_folder.update(found)
        else:
            paths.append(p)
    record_paths = [p for p in paths if p.suffix.lower() == ".json"]
    if record_paths or args.store:
        if len(record_paths) != len(paths):
            raise InputError("mixed inputs: CSV tables and run records cannot be scored together",
                             hint="score the CSV files and the run records in separate calls")
        records = []
        for p in record_paths:
            try:
                records.append((str(p), load_run_record(p)))
            except PeprError as exc:
                if p not in from_folder:
                    raise  # a file named on the command line must be right
                # One damaged file (a disk that filled up) must not hide the folder's others.
                print(f"pepr-gate: warning: skipping {exc.message}", file=sys.stderr)
        if not records and not args.store:
            raise InputError("no readable run record in the folder(s) given",
                             hint="see the warnings above")
        if args.store:
            records += _store_records(args.store, args.branch)
        return _records_table(records, resources, args.group, args.performance_scale)
    if args.branch:
        raise InputError("--branch applies only to --store", hint="drop --branch")
    tables = [lbio.read_csv(p, performance=args.performance, resources=resources,
                           name=args.name, group=args.group,
                           performance_scale=args.performance_scale) for p in paths]
    return lbio.concat(tables)


def _store_records(url: str, branch: str | None) -> list[tuple[str, RunRecord]]:
    from pepr_gate.store import open_store

    with open_store(url, root=Path.cwd(), must_exist=True) as store:
        runs = store.runs(branch, status="ok")
    if not runs:
        where = f" on branch {branch!r}" if branch else ""
        raise InputError(f"{url}: the store holds no run with status ok{where}",
                         hint="check the store URL and --branch (`pepr-gate history --store "
                              "URL` lists the runs)")
    return [(f"{url} run {r.id}", r) for r in runs]


def _records_table(
    records: list[tuple[str, RunRecord]], resources: list[str] | None, group: str | None,
    performance_scale: float,
) -> Table:
    import numpy as np

    from pepr_gate.leaderboard.io import check_performance, check_resource
    from pepr_gate.leaderboard.table import Table
    from pepr_gate.records import UNITS
    from pepr_gate.score import resource_value

    if group is not None and group not in RECORD_GROUPS:
        raise InputError(f"--group {group!r}: run records group by one of "
                         f"{', '.join(RECORD_GROUPS)}", hint="pass one of those to --group")
    wanted = resources or ["energy"]
    unknown = [r for r in wanted if r not in RECORD_RESOURCES]
    if unknown:
        raise InputError(f"--resource {unknown[0]!r}: run records have "
                         f"{', '.join(RECORD_RESOURCES)}", hint="pass one of those to --resource")
    kinds = list(dict.fromkeys(RECORD_RESOURCES[r] for r in wanted))
    ok = [(src, r) for src, r in records if r.status == "ok"]
    if len(ok) < len(records):
        print(f"pepr-gate: note: skipped {len(records) - len(ok)} failed run(s)", file=sys.stderr)
    if not ok:
        raise InputError("empty table: no run with status ok to score",
                         hint="pass records of successful runs (`pepr-gate run`)")
    names, groups, perf, where = [], [], [], []
    values: dict[str, list[float]] = {k: [] for k in kinds}
    for src, rec in ok:
        where.append(src)
        if rec.performance.value is None:
            raise InputError(f"{src}, field 'performance.value': the run recorded no performance",
                             hint="score runs whose metrics file held the performance key")
        perf.append(rec.performance.value / performance_scale)
        for k in kinds:
            amount = resource_value(rec.resources, k)
            if amount is None:
                raise InputError(f"{src}: resource {k!r} was not measured in this run",
                                 hint="choose a measured resource with --resource, e.g. time")
            values[k].append(amount)
        names.append(_record_name(rec))
        groups.append(_record_group(rec, group))
    p = np.array(perf, dtype=np.float64)
    check_performance(p, "performance.value", where, performance_scale)
    res = {k: np.array(v, dtype=np.float64) for k, v in values.items()}
    for k, x in res.items():
        check_resource(x, k, where)
    perf_name = ok[0][1].performance.name
    return Table(np.array(names), np.array(groups), p, res, where, perf_name,
                 {k: UNITS[k] for k in kinds})


def _record_name(rec: RunRecord) -> str:
    # The whole id: it is unique (its first 8 characters are only the date) and it is the
    # record's file name under .pepr/runs/.
    if rec.git and rec.git.sha:
        return f"{rec.git.branch or 'detached'}@{rec.git.sha[:7]} {rec.id}"
    return f"{rec.performance.name} {rec.id}"


def _record_group(rec: RunRecord, group: str | None) -> str:
    if group == "branch":
        return rec.branch or "(no branch)"
    if group == "sha":
        return (rec.git.sha or "")[:7] if rec.git and rec.git.sha else "(no sha)"
    if group == "performance":
        return rec.performance.name
    if group == "hardware":
        return rec.hardware.fingerprint
    if group == "config":
        return rec.config_hash
    from pepr_gate.leaderboard.io import NO_GROUP

    return NO_GROUP


def _json_doc(lb: Leaderboard) -> dict[str, Any]:
    from pepr_gate.leaderboard.table import export_rows

    return {
        "schema": "pepr-gate/leaderboard/1",
        "normalize": lb.mode,
        "performance": lb.table.performance_name,
        "ranking": RANKING_RULE,
        "variants": [{"label": v.label, "resource": v.column, "scale": v.scale,
                      "unit": lb.table.units.get(v.column)} for v in lb.variants],
        "groups": [{"name": g, "rows": int((lb.codes == i).sum()),
                    "bounds": {v.column: {"min": float(v.lo[i]), "max": float(v.hi[i])}
                               for v in lb.variants}}
                   for i, g in enumerate(lb.group_names)],
        "rows": export_rows(lb),
    }


def _csv_text(rows: list[dict[str, Any]]) -> str:
    import csv
    import io

    from pepr_gate.publish.cells import csv_cell

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([csv_cell(k) for k in rows[0]])
    writer.writerows([csv_cell(v) for v in r.values()] for r in rows)
    return buf.getvalue()


def _prepare(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{path}: cannot create the folder: {exc.strerror or exc}") from None


def _write(path: Path, text: str) -> None:
    _prepare(path)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot write: {exc.strerror or exc}",
                         hint="choose a writable path") from None
