"""Leaderboard inputs: a `Table` from CSV files, run-record files or a history store.

`pepr-gate score` hands its inputs here. CSV reading and cell validation are
`pepr_gate.leaderboard.io`'s; this module gathers the files, turns run records into rows
(one per ok run, named by branch@sha and id, grouped by branch, sha, performance,
hardware or config) and refuses mixed or empty inputs with errors that name the input.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pepr_gate.errors import InputError, PeprError

if TYPE_CHECKING:
    from pepr_gate.leaderboard.table import Table
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

def load_table(inputs: Sequence[str], *, store: str | None = None, branch: str | None = None,
               performance: str | None = None, resources: list[str] | None = None,
               name: str | None = None, group: str | None = None,
               performance_scale: float = 1.0) -> Table:
    """One table from CSV files, run records (files or folders of them) and/or a store;
    raises InputError naming the input at fault."""
    from pepr_gate.leaderboard import io as lbio
    from pepr_gate.records import load_run_record

    paths: list[Path] = []
    from_folder: set[Path] = set()
    for raw in inputs:
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
    if record_paths or store:
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
        if not records and not store:
            raise InputError("no readable run record in the folder(s) given",
                             hint="see the warnings above")
        if store:
            records += _store_records(store, branch)
        return records_table(records, resources, group, performance_scale)
    if branch:
        raise InputError("--branch applies only to --store", hint="drop --branch")
    tables = [lbio.read_csv(p, performance=performance, resources=resources, name=name,
                           group=group, performance_scale=performance_scale) for p in paths]
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


def records_table(
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
