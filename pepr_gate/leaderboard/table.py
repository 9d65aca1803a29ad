"""Leaderboards: many models scored and ranked the way the PePR paper does.

Owns the leaderboard data model (`Table`, `Variant`, `Leaderboard`), grouped
normalisation, scoring, ranking and `export_rows`. Reading and validating input files
into a `Table` lives in `pepr_gate.leaderboard.io`.

A `Table` holds one row per model (name, group, P and any number of resource columns);
`score_table` normalises each resource within each group and ranks every group. All of
it is numpy-vectorised so that 100,000 rows score in well under a second; the formula
itself is `pepr_gate.score.pepr`, applied to whole arrays.

Ranking rule (documented in the README, "Paper mode"): PePR descending, then P descending,
then the raw resource ascending, then the name ascending; rows equal in all four keep input order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pepr_gate.errors import InputError
from pepr_gate.score import pepr


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
