"""`pepr-gate score` reproduces every published PePR score of Selvan et al. (NLDL 2025).

The authors' table (tests/data/pepr-paper, MIT) holds 8 experiments x 131 models with
the four published variants; scoring `energy`, `co2`, `train_time` and `memR` with
P = test_09 within each `dataset` must give the same numbers and the same rankings.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from pepr_gate.cli import main
from pepr_gate.leaderboard.io import read_csv
from pepr_gate.leaderboard.table import score_table

PAPER = Path(__file__).parent / "data" / "pepr-paper" / "full_data_pepr_dataset_level.csv"
VARIANTS = {  # resource column -> (published score column, label)
    "energy": ("pepr_e", "PePR-E"),
    "co2": ("pepr_c", "PePR-C"),
    "train_time": ("pepr_t", "PePR-T"),
    "memR": ("pepr_m", "PePR-M"),
}
DATASETS = {"derma_pt", "derma", "derma_small", "derma_smallest",
            "lidc", "lidc_small", "pneumonia", "pneumonia_small"}


@pytest.fixture(scope="module")
def published() -> list[dict[str, str]]:
    with PAPER.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def expected_ranks(
    rows: list[dict[str, str]], column: str, resource: str
) -> dict[tuple[str, str], int]:
    """The ranking the published scores imply, by the documented rule."""
    ranks: dict[tuple[str, str], int] = {}
    for dataset in DATASETS:
        group = [r for r in rows if r["dataset"] == dataset]
        group.sort(key=lambda r: (-float(r[column]), -float(r["test_09"]),
                                  float(r[resource]), r["model"]))
        ranks.update({(dataset, r["model"]): k + 1 for k, r in enumerate(group)})
    return ranks


def test_library_matches_every_published_score(published: list[dict[str, str]]) -> None:
    table = read_csv(PAPER, performance="test_09", resources=list(VARIANTS), name=None,
                     group="dataset")
    lb = score_table(table)
    assert set(lb.group_names) == DATASETS
    assert len(table) == 1048
    for variant in lb.variants:
        column, label = VARIANTS[variant.column]
        assert variant.label == label
        for i, row in enumerate(published):
            assert table.names[i] == row["model"]
            assert abs(variant.pepr[i] - float(row[column])) <= 1e-9, (row["model"], label)


def test_cli_reproduces_scores_and_rankings(tmp_path: Path, published: list[dict[str, str]],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "paper.json"
    code = main(["score", str(PAPER), "--performance", "test_09",
                 "--resource", "energy,co2,train_time,memR", "--group", "dataset",
                 "--json", str(out)])
    assert code == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert [v["label"] for v in doc["variants"]] == ["PePR-E", "PePR-C", "PePR-T", "PePR-M"]
    assert len(doc["rows"]) == 1048
    got = {(r["group"], r["name"]): r for r in doc["rows"]}
    for resource, (column, label) in VARIANTS.items():
        ranks = expected_ranks(published, column, resource)
        for row in published:
            mine = got[(row["dataset"], row["model"])]
            assert abs(mine[label] - float(row[column])) <= 1e-9
            assert mine[f"{label}_rank"] == ranks[(row["dataset"], row["model"])]
    # The terminal shows the paper's derma_pt winner for every variant.
    screen = capsys.readouterr().out
    assert "derma_pt · PePR-E (energy)" in screen
    assert "ghostnet_100" in screen


def test_derma_pt_top5_as_documented(capsys: pytest.CaptureFixture[str]) -> None:
    """The README's excerpt (Reproducing the paper): derma_pt PePR-E top 5 and the best P."""
    code = main(["score", str(PAPER), "--performance", "test_09", "--resource", "energy",
                 "--group", "dataset", "--only", "derma_pt", "--top", "5"])
    assert code == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if "│" in ln]
    names = [ln.split("│")[2].strip() for ln in lines]
    assert names == ["ghostnet_100", "ese_vovnet19b_dw", "fbnetc_100", "mobilenetv2_050",
                     "mnasnet_100", "edgenext_base ★"]
    assert lines[-1].split("│")[1].strip() == "38"
