"""Leaderboard input: reading CSV/TSV files into a validated `Table`, and table surgery.

Owns file reading (UTF-8, CSV shape), picking the name / performance / resource / group
columns, cell validation (numbers, P in [0, 1], resources >= 0) with errors that name the
file, line and column, and joining (`concat`) or filtering (`only_groups`) tables.
Scoring and ranking a `Table` is `pepr_gate.leaderboard.table`'s job.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pepr_gate.errors import InputError
from pepr_gate.fileio.readfile import read_limited
from pepr_gate.leaderboard.table import Table

PERFORMANCE_DEFAULTS = ("P", "performance", "accuracy", "acc")
NAME_DEFAULTS = ("model", "name")
NO_GROUP = "all"


def read_text(path: Path) -> str:
    try:
        data = read_limited(path)
    except FileNotFoundError:
        raise InputError(f"{path}: file not found", hint="check the path") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line})",
            hint="save the file as UTF-8, e.g. `iconv -f latin1 -t utf-8 in.csv > out.csv`",
        ) from None


def pick_column(
    header: Sequence[str], wanted: str | None, defaults: Sequence[str], flag: str, source: str
) -> str:
    if wanted is not None:
        if wanted in header:
            return wanted
        raise InputError(
            f"{source}: no column {wanted!r} (asked for by {flag}); "
            f"available columns: {', '.join(header)}",
            hint=f"pass one of the available columns to {flag}",
        )
    for name in defaults:
        if name in header:
            return name
    raise InputError(
        f"{source}: none of the default columns {', '.join(defaults)} for {flag}; "
        f"available columns: {', '.join(header)}",
        hint=f"name the column with {flag} COL",
    )


def read_csv(
    path: Path,
    *,
    performance: str | None,
    resources: Sequence[str] | None,
    name: str | None,
    group: str | None,
    performance_scale: float = 1.0,
) -> Table:
    """Read and validate one CSV (TSV for a .tsv suffix) into a Table."""
    header, rows, lines = _rows(path)
    p_col = pick_column(header, performance, PERFORMANCE_DEFAULTS, "--performance", str(path))
    n_col = pick_column(header, name, NAME_DEFAULTS, "--name", str(path))
    g_col = pick_column(header, group, (), "--group", str(path)) if group else None
    r_cols = [pick_column(header, c, (), "--resource", str(path)) for c in resources or []]
    if not r_cols:
        r_cols = [pick_column(header, None, ("energy",), "--resource", str(path))]
    where = [f"{path} line {n}" for n in lines]

    def cells(col: str) -> list[str]:
        i = header.index(col)
        return [r[i].strip() for r in rows]

    perf = numbers(cells(p_col), p_col, where) / performance_scale
    check_performance(perf, p_col, where, performance_scale)
    res = {c: numbers(cells(c), c, where) for c in r_cols}
    for c, values in res.items():
        check_resource(values, c, where)
    names = cells(n_col)
    groups = cells(g_col) if g_col else [NO_GROUP] * len(rows)
    for col, labels in ((n_col, names), (g_col, groups)):
        empty = [i for i, s in enumerate(labels) if not s]
        if col and empty:
            raise InputError(
                f"{where[empty[0]]}, column {col!r}: empty cell",
                hint=f"give every row a {col}",
            )
    return Table(np.array(names), np.array(groups), perf, res, where, p_col)


def _rows(path: Path) -> tuple[list[str], list[list[str]], list[int]]:
    """(header, data rows, their line numbers); blank lines skipped, ragged rows refused."""
    text = read_text(path)
    reader = csv.reader(io.StringIO(text), delimiter="\t" if path.suffix == ".tsv" else ",")
    try:
        header = [h.strip() for h in next(reader)]
        rows: list[list[str]] = []
        lines: list[int] = []
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue  # blank lines are not rows
            if len(row) != len(header):
                raise InputError(
                    f"{path} line {reader.line_num}: {len(row)} fields, the header has "
                    f"{len(header)}",
                    hint="check for a missing or extra comma (quote fields that contain one)",
                )
            rows.append(row)
            lines.append(reader.line_num)
    except StopIteration:
        header, rows, lines = [], [], []
    except csv.Error as exc:
        raise InputError(f"{path} line {reader.line_num}: not valid CSV: {exc}") from None
    if not rows:
        raise InputError(
            f"{path}: empty table (no data rows)",
            hint="pass a CSV with a header line and one line per model",
        )
    return header, rows, lines


def numbers(values: list[str], column: str, where: list[str]) -> np.ndarray:
    """Parse a column as float64; the first bad or non-finite cell is named."""
    try:
        out = np.array(values, dtype=np.float64)
    except ValueError:  # find the culprit the slow way, so the message can name it
        parsed = []
        for i, v in enumerate(values):
            try:
                parsed.append(float(v))
            except ValueError:
                what = "empty cell" if not v else f"not a number: {v!r}"
                raise InputError(
                    f"{where[i]}, column {column!r}: {what}",
                    hint="every performance and resource cell must hold a number",
                ) from None
        out = np.array(parsed, dtype=np.float64)
    out += 0.0  # -0.0 -> 0.0, so a "-0" cell neither prints nor exports as -0.0
    bad = np.flatnonzero(~np.isfinite(out))
    if bad.size:
        raise InputError(
            f"{where[bad[0]]}, column {column!r}: {values[bad[0]]!r} is not a finite number",
            hint="remove the row or replace NaN/inf with the measured value",
        )
    return out


def check_performance(p: np.ndarray, column: str, where: list[str], scale: float = 1.0) -> None:
    bad = np.flatnonzero((p < 0) | (p > 1))
    if bad.size:
        i = int(bad[0])
        shown = f"{float(p[i] * scale)!r}"
        if scale != 1:
            shown += f" / {scale:g} = {float(p[i])!r}"
        raise InputError(
            f"{where[i]}, column {column!r}: performance {shown} is outside [0, 1]",
            hint="a percentage column needs a scale: pass --performance-scale 100 "
            "(P = value / 100)",
        )


def check_resource(x: np.ndarray, column: str, where: list[str]) -> None:
    bad = np.flatnonzero(x < 0)
    if bad.size:
        i = int(bad[0])
        raise InputError(
            f"{where[i]}, column {column!r}: negative resource {float(x[i])!r}",
            hint="resources are amounts (energy, time, memory ...) and cannot be negative",
        )


def concat(tables: Sequence[Table]) -> Table:
    """Join tables that name the same performance and resource columns."""
    first = tables[0]
    for t in tables[1:]:
        if list(t.resources) != list(first.resources):
            raise InputError(
                f"{t.where[0]}: resources {list(t.resources)} differ from "
                f"{list(first.resources)} of {first.where[0]}",
                hint="score inputs with the same resource columns together",
            )
    return Table(
        np.concatenate([t.names for t in tables]),
        np.concatenate([t.groups for t in tables]),
        np.concatenate([t.performance for t in tables]),
        {c: np.concatenate([t.resources[c] for t in tables]) for c in first.resources},
        [w for t in tables for w in t.where],
        first.performance_name,
        first.units,
    )


def only_groups(table: Table, keep: Sequence[str]) -> Table:
    """The rows of the named groups; a group with no rows is an error."""
    present = set(table.groups.tolist())
    for g in keep:
        if g not in present:
            raise InputError(
                f"group {g!r} is empty (no rows); groups present: {', '.join(sorted(present))}",
                hint="pass a group that the --group column holds",
            )
    mask = np.isin(table.groups, list(keep))
    idx = np.flatnonzero(mask)
    return Table(
        table.names[mask],
        table.groups[mask],
        table.performance[mask],
        {c: v[mask] for c, v in table.resources.items()},
        [table.where[i] for i in idx],
        table.performance_name,
        table.units,
    )
