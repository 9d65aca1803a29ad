"""Leaderboards: many models scored and ranked the way the PePR paper does.

A `Table` holds one row per model (name, group, P and any number of resource columns);
`score_table` normalises each resource within each group and ranks every group. All of
it is numpy-vectorised so that 100,000 rows score in well under a second; the formula
itself is `pepr_gate.score.pepr`, applied to whole arrays.

Ranking rule (documented in the README, "Paper mode"): PePR descending, then P descending,
then the raw resource ascending, then the name ascending; rows equal in all four keep input order.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pepr_gate.errors import InputError
from pepr_gate.score import pepr

PERFORMANCE_DEFAULTS = ("P", "performance", "accuracy", "acc")
NAME_DEFAULTS = ("model", "name")
NO_GROUP = "all"


def variant_label(column: str) -> str:
    """The paper's name for a resource column: energy -> PePR-E, co2 -> PePR-C, ..."""
    c = column.lower()
    if c in ("energy", "energy_kwh"):
        return "PePR-E"
    if c in ("co2", "carbon", "carbon_kg", "co2_kg"):
        return "PePR-C"
    if c in ("time", "train_time", "duration", "duration_s"):
        return "PePR-T"
    if c.startswith("mem") or c in ("gpu_memory", "gpu_memory_gb"):
        return "PePR-M"
    if c in ("params", "num_param", "num_params", "parameters"):
        return "PePR-P"
    return f"PePR[{column}]"


@dataclass
class Table:
    """Validated input rows. `where[i]` names row i for error messages ("f.csv line 7")."""

    names: np.ndarray  # str
    groups: np.ndarray  # str
    performance: np.ndarray  # float64 in [0, 1]
    resources: dict[str, np.ndarray]  # column -> float64 >= 0
    where: list[str]
    performance_name: str = "P"
    units: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.names)


@dataclass
class Variant:
    column: str
    label: str
    value: np.ndarray
    R: np.ndarray
    pepr: np.ndarray
    rank: np.ndarray  # 1-based within the group
    order: np.ndarray  # row indices: by group, then by rank
    lo: np.ndarray  # per group: the value at R = 0 (pool) or 0 (scale)
    hi: np.ndarray  # per group: the value at R = 1 (pool max, or the scale)
    over_scale: np.ndarray  # bool; always False in pool mode
    scale: float | None = None


@dataclass
class Leaderboard:
    table: Table
    mode: str
    group_names: list[str]
    codes: np.ndarray  # group index per row
    starts: np.ndarray  # where each group begins in every variant's `order`
    variants: list[Variant]
    duplicates: list[tuple[str, str]]

    def ranked(self, variant: Variant, group: int) -> np.ndarray:
        """Row indices of one group, best first."""
        end = self.starts[group + 1] if group + 1 < len(self.starts) else len(self.codes)
        return variant.order[self.starts[group] : end]

    def best_p(self, variant: Variant, group: int) -> int:
        """The most accurate model of a group (the best-ranked one among equals)."""
        rows = self.ranked(variant, group)
        return int(rows[np.argmax(self.table.performance[rows])])


# ---------------------------------------------------------------- loading and validation


def read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
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


# ---------------------------------------------------------------- scoring and ranking


def group_codes(groups: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Group index per row, groups numbered in order of first appearance."""
    uniq, first, inverse = np.unique(groups, return_index=True, return_inverse=True)
    appearance = np.argsort(first, kind="stable")
    renumber = np.empty_like(appearance)
    renumber[appearance] = np.arange(len(appearance))
    return [str(g) for g in uniq[appearance]], renumber[inverse.ravel()]


def pool_normalize_grouped(
    x: np.ndarray, codes: np.ndarray, n_groups: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`score.pool_normalize` within each group at once: (R, min per group, max per group).

    Same float operations as the scalar version, (x - min) / (max - min), so the results
    are bit-identical; a group whose values are all equal gets R = 0.
    """
    by_group = np.argsort(codes, kind="stable")
    starts = np.searchsorted(codes[by_group], np.arange(n_groups))
    lo = np.minimum.reduceat(x[by_group], starts)
    hi = np.maximum.reduceat(x[by_group], starts)
    span = hi - lo
    flat = span == 0
    r = (x - lo[codes]) / np.where(flat, 1.0, span)[codes]
    r[flat[codes]] = 0.0
    return r, lo, hi


def rank_grouped(
    codes: np.ndarray, score: np.ndarray, p: np.ndarray, x: np.ndarray, name_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rank per row, row order by group then rank, start of each group in that order).

    `name_ids` numbers the names in alphabetical order (np.unique's inverse), so that
    the last tie-break sorts integers, not strings.
    """
    order = np.lexsort((name_ids, x, -p, -score, codes))  # the last key is the primary one
    starts = np.searchsorted(codes[order], np.arange(int(codes.max()) + 1))
    rank = np.empty(len(codes), dtype=np.int64)
    rank[order] = np.arange(len(codes)) - starts[codes[order]] + 1
    return rank, order, starts


def find_duplicates(
    names: np.ndarray, name_ids: np.ndarray, codes: np.ndarray, groups: list[str]
) -> list[tuple[str, str]]:
    """(group, name) pairs that occur more than once."""
    order = np.lexsort((name_ids, codes))
    c, k = codes[order], name_ids[order]
    again = order[1:][(c[1:] == c[:-1]) & (k[1:] == k[:-1])]
    found = {(groups[int(codes[i])], str(names[i])): None for i in again.tolist()}
    return list(found)


def score_table(
    table: Table, *, mode: str = "pool", scales: dict[str, float] | None = None
) -> Leaderboard:
    """Normalise every resource within each group, compute PePR and rank each group."""
    if len(table) == 0:
        raise InputError("empty table: no rows to score", hint="pass at least one model")
    group_names, codes = group_codes(table.groups)
    name_ids = np.unique(table.names, return_inverse=True)[1].ravel()
    n = len(group_names)
    variants: list[Variant] = []
    labels: set[str] = set()
    starts = np.zeros(n, dtype=np.int64)
    for column, x in table.resources.items():
        scale = None
        if mode == "pool":
            r, lo, hi = pool_normalize_grouped(x, codes, n)
            over = np.zeros(len(x), dtype=bool)
        else:
            scale = (scales or {})[column]
            r, over = np.minimum(x / scale, 1.0), x > scale
            lo, hi = np.zeros(n), np.full(n, scale)
        score = np.asarray(pepr(table.performance, r))  # type: ignore[arg-type]  # elementwise
        rank, order, starts = rank_grouped(codes, score, table.performance, x, name_ids)
        label = variant_label(column)
        if label in labels:  # e.g. both co2 and carbon_kg: keep the columns apart
            label = f"PePR[{column}]"
        labels.add(label)
        variants.append(Variant(column, label, x, r, score, rank, order, lo, hi, over, scale))
    dups = find_duplicates(table.names, name_ids, codes, group_names)
    return Leaderboard(table, mode, group_names, codes, starts, variants, dups)


def export_rows(lb: Leaderboard) -> list[dict[str, Any]]:
    """Every row, by group then by the first variant's rank, as plain Python values."""
    t = lb.table
    out: list[dict[str, Any]] = []
    for i in lb.variants[0].order.tolist():
        row: dict[str, Any] = {
            "group": lb.group_names[int(lb.codes[i])],
            "name": str(t.names[i]),
            "P": float(t.performance[i]),
        }
        for v in lb.variants:
            row[v.column] = float(v.value[i])
            row[f"{v.column}_R"] = float(v.R[i])
            row[v.label] = float(v.pepr[i])
            row[f"{v.label}_rank"] = int(v.rank[i])
            if lb.mode == "scale":
                row[f"{v.column}_over_scale"] = bool(v.over_scale[i])
        out.append(row)
    return out
