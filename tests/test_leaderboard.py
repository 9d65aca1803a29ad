"""The leaderboard core: grouped normalisation, the ranking rule, validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pepr_gate.errors import InputError
from pepr_gate.leaderboard.io import read_csv
from pepr_gate.leaderboard.table import (
    Table,
    pool_normalize_grouped,
    score_table,
    variant_label,
)
from pepr_gate.score import pool_normalize


def table(names: list[str], p: list[float], x: list[float], groups: list[str] | None = None,
          column: str = "energy") -> Table:
    n = len(names)
    return Table(np.array(names), np.array(groups or ["all"] * n), np.array(p, dtype=float),
                 {column: np.array(x, dtype=float)}, [f"row {i + 1}" for i in range(n)])


def test_grouped_pool_is_bit_identical_to_scalar_pool() -> None:
    rng = np.random.default_rng(7)
    x = rng.lognormal(size=2000)
    codes = rng.integers(0, 37, size=2000)
    r, lo, hi = pool_normalize_grouped(x, codes, 37)
    for g in range(37):
        expected, e_lo, e_hi = pool_normalize(x[codes == g].tolist())
        assert r[codes == g].tolist() == expected
        assert (lo[g], hi[g]) == (e_lo, e_hi)


def test_all_equal_resources_give_r_zero_and_pepr_equal_to_p() -> None:
    lb = score_table(table(["a", "b", "c"], [0.5, 0.9, 0.7], [3.0, 3.0, 3.0]))
    v = lb.variants[0]
    assert v.R.tolist() == [0.0, 0.0, 0.0]
    assert v.pepr.tolist() == [0.5, 0.9, 0.7]
    assert [str(lb.table.names[i]) for i in lb.ranked(v, 0)] == ["b", "c", "a"]


def test_groups_are_normalised_apart_and_listed_in_input_order() -> None:
    lb = score_table(table(["a", "b", "c", "d"], [0.8, 0.8, 0.8, 0.8], [1.0, 3.0, 100.0, 300.0],
                           ["zeta", "zeta", "alpha", "alpha"]))
    assert lb.group_names == ["zeta", "alpha"]
    assert lb.variants[0].R.tolist() == [0.0, 1.0, 0.0, 1.0]
    assert lb.variants[0].rank.tolist() == [1, 2, 1, 2]


def test_ties_break_by_higher_p_then_lower_resource_then_name() -> None:
    # scale mode, X = 10: x >= 10 gives R = 1, x = 0 gives R = 0.
    t = table(["low-p", "high-p", "cheap", "costly", "b-name", "a-name"],
              [0.4, 0.8, 0.6, 0.6, 0.3, 0.3],
              [0.0, 10.0, 12.0, 50.0, 20.0, 20.0])
    lb = score_table(t, mode="scale", scales={"energy": 10.0})
    v = lb.variants[0]
    assert v.pepr.tolist() == [0.4, 0.4, 0.3, 0.3, 0.15, 0.15]
    order = [str(t.names[i]) for i in lb.ranked(v, 0)]
    assert order == ["high-p", "low-p", "cheap", "costly", "a-name", "b-name"]
    assert v.over_scale.tolist() == [False, False, True, True, True, True]


def test_duplicate_names_within_a_group_are_reported_and_kept() -> None:
    lb = score_table(table(["m", "m", "m", "n"], [0.5, 0.6, 0.7, 0.8], [1, 2, 3, 4],
                           ["g1", "g1", "g2", "g1"]))
    assert lb.duplicates == [("g1", "m")]
    assert len(lb.ranked(lb.variants[0], 0)) == 3


@pytest.mark.parametrize(("column", "label"), [
    ("energy", "PePR-E"), ("co2", "PePR-C"), ("carbon", "PePR-C"), ("train_time", "PePR-T"),
    ("time", "PePR-T"), ("memR", "PePR-M"), ("memory", "PePR-M"), ("gpu_memory", "PePR-M"),
    ("params", "PePR-P"), ("num_param", "PePR-P"), ("flops", "PePR[flops]"),
])
def test_variant_labels(column: str, label: str) -> None:
    assert variant_label(column) == label


def test_same_label_twice_keeps_columns_apart(tmp_path: Path) -> None:
    f = tmp_path / "t.csv"
    f.write_text("model,P,co2,carbon\na,0.5,1,2\nb,0.6,2,1\n", encoding="utf-8")
    lb = score_table(read_csv(f, performance=None, resources=["co2", "carbon"], name=None,
                              group=None))
    assert [v.label for v in lb.variants] == ["PePR-C", "PePR[carbon]"]


def test_performance_scale_turns_percentages_into_fractions(tmp_path: Path) -> None:
    f = tmp_path / "t.csv"
    f.write_text("name,accuracy,energy\na,91.5,2\nb,80,1\n", encoding="utf-8")
    t = read_csv(f, performance=None, resources=None, name=None, group=None,
                 performance_scale=100)
    assert t.performance.tolist() == [0.915, 0.8]
    with pytest.raises(InputError, match=r"line 2, column 'accuracy'.*91.5.*outside \[0, 1\]"):
        read_csv(f, performance=None, resources=None, name=None, group=None)


def test_blank_lines_are_skipped_and_line_numbers_kept(tmp_path: Path) -> None:
    f = tmp_path / "t.csv"
    f.write_text("model,P,energy\na,0.5,1\n\nb,0.6,x\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"t.csv line 4, column 'energy': not a number: 'x'"):
        read_csv(f, performance=None, resources=None, name=None, group=None)
