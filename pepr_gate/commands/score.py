"""`pepr-gate score`: rank many models by PePR, as the paper does, with a profile plot.

Inputs are CSV tables, run-record JSON files (or folders of them) or a history store.
The arithmetic lives in `pepr_gate.leaderboard.table`, gathering the inputs into a table
in `pepr_gate.leaderboard.sources`; this module parses the flags, writes the files asked
for and prints the leaderboard.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pepr_gate.errors import InputError

if TYPE_CHECKING:
    from pepr_gate.leaderboard.table import Leaderboard

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
                   "branch, sha, performance, hardware, config)")
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
    from pepr_gate.leaderboard.sources import load_table
    from pepr_gate.publish.leaderboard_table import print_leaderboard, render_markdown

    if not args.inputs and not args.store:
        raise InputError("no input: give CSV or run-record files, or --store URL",
                         hint="e.g. `pepr-gate score results.csv --resource energy`")
    if args.top < 1:
        raise InputError(f"--top {args.top}: must be at least 1")
    if args.plot:
        _require_matplotlib(args.plot)
    if not 0 < args.performance_scale < float("inf"):
        raise InputError(f"--performance-scale {args.performance_scale}: must be a positive "
                         "finite number", hint="e.g. --performance-scale 100 for percentages")
    resources = _split(args.resource)
    mode = args.normalize or ("scale" if args.scale else "pool")
    table = load_table(args.inputs, store=args.store, branch=args.branch,
                       performance=args.performance, resources=resources, name=args.name,
                       group=args.group, performance_scale=args.performance_scale)
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


def _require_matplotlib(plot: Path) -> None:
    """matplotlib is the `plot` extra: say how to get it before any work is done."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise InputError(
            f"--plot {plot}: drawing the profile needs matplotlib, which is not installed",
            hint="install it (pepr-gate's `plot` extra) into the environment that runs "
            f"pepr-gate: {sys.executable} -m pip install 'matplotlib>=3.8'",
        ) from None


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
    from pepr_gate.fileio.atomic import write_atomic

    _prepare(path)
    write_atomic(path, text, error=InputError, hint="choose a writable path")
