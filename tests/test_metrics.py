"""Reading P from the job's metrics file: dotted keys, scale, and each way it can be wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pepr_gate.config import PerformanceConfig
from pepr_gate.errors import EXIT_BAD_INPUT, MetricsError
from pepr_gate.measure.metrics import read_metrics


def perf(key: str = "test.accuracy", **kw: object) -> PerformanceConfig:
    return PerformanceConfig(file="metrics.json", key=key, **kw)  # type: ignore[arg-type]


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "metrics.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def failure(tmp_path: Path, cfg: PerformanceConfig) -> MetricsError:
    with pytest.raises(MetricsError) as exc:
        read_metrics(cfg, tmp_path)
    assert exc.value.exit_code == EXIT_BAD_INPUT
    return exc.value


def test_dotted_key_and_list_index(tmp_path: Path) -> None:
    write(tmp_path, {"test": {"accuracy": 0.91}, "folds": [{"auc": 0.7}, {"auc": 0.8}]})
    assert read_metrics(perf(), tmp_path) == (0.91, 0.91, None)
    assert read_metrics(perf("folds.1.auc"), tmp_path)[0] == 0.8


def test_integers_and_the_bounds_are_valid(tmp_path: Path) -> None:
    write(tmp_path, {"a": 1, "b": 0, "c": 0.0})
    assert read_metrics(perf("a"), tmp_path)[0] == 1.0
    assert read_metrics(perf("b"), tmp_path)[0] == 0.0
    assert read_metrics(perf("c"), tmp_path)[0] == 0.0


def test_scale_turns_percentages_into_p(tmp_path: Path) -> None:
    write(tmp_path, {"acc": 93.5})
    value, raw, _ = read_metrics(perf("acc", scale=100.0), tmp_path)
    assert value == pytest.approx(0.935) and raw == 93.5


def test_params_key(tmp_path: Path) -> None:
    write(tmp_path, {"acc": 0.5, "model": {"params": 57418}})
    assert read_metrics(perf("acc", params_key="model.params"), tmp_path) == (0.5, 0.5, 57418)
    write(tmp_path, {"acc": 0.5, "model": {"params": 1.5}})
    err = failure(tmp_path, perf("acc", params_key="model.params"))
    assert "not a parameter count" in err.message


def test_absolute_file_path(tmp_path: Path) -> None:
    path = write(tmp_path, {"acc": 0.3})
    cfg = PerformanceConfig(file=str(path), key="acc")
    assert read_metrics(cfg, tmp_path / "elsewhere")[0] == 0.3


def test_missing_file_names_the_path_and_the_setting(tmp_path: Path) -> None:
    err = failure(tmp_path, perf())
    assert str(tmp_path / "metrics.json") in err.message
    assert err.hint and "[performance] file" in err.hint


def test_not_json_names_line_and_column(tmp_path: Path) -> None:
    write(tmp_path, '{\n  "acc": 0.9,\n  oops\n}')
    err = failure(tmp_path, perf("acc"))
    assert "not JSON" in err.message and "line 3" in err.message and "metrics.json" in err.message


def test_missing_key_lists_keys_at_the_deepest_level_reached(tmp_path: Path) -> None:
    write(tmp_path, {"test": {"acc": 0.9, "loss": 0.2}, "train": {}})
    err = failure(tmp_path, perf("test.accuracy"))
    assert "no 'accuracy' at test" in err.message and "acc, loss" in err.message
    err = failure(tmp_path, perf("valid.accuracy"))
    assert "the top level" in err.message and "test, train" in err.message


def test_key_through_a_non_object(tmp_path: Path) -> None:
    write(tmp_path, {"test": 0.9})
    err = failure(tmp_path, perf("test.accuracy"))
    assert "not an object" in err.message


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('{"acc": "0.9"}', "not a number"),
        ('{"acc": true}', "not a number"),
        ('{"acc": false}', "not a number"),
        ('{"acc": null}', "not a number"),
        ('{"acc": [0.9]}', "not a number"),
        ('{"acc": NaN}', "finite"),
        ('{"acc": Infinity}', "finite"),
        ('{"acc": 1e400}', "finite"),
    ],
)
def test_value_must_be_a_finite_number(tmp_path: Path, text: str, needle: str) -> None:
    write(tmp_path, text)
    err = failure(tmp_path, perf("acc"))
    assert needle in err.message and "'acc'" in err.message


def test_percentage_without_scale_hints_at_scale_100(tmp_path: Path) -> None:
    write(tmp_path, {"acc": 87.0})
    err = failure(tmp_path, perf("acc"))
    assert "outside [0, 1]" in err.message
    assert err.hint and "scale = 100" in err.hint


@pytest.mark.parametrize(("raw", "scale"), [(-0.01, 1.0), (250.0, 1.0), (101.0, 100.0)])
def test_out_of_range_hints_at_performance_scale(tmp_path: Path, raw: float, scale: float) -> None:
    write(tmp_path, {"acc": raw})
    err = failure(tmp_path, perf("acc", scale=scale))
    assert "outside [0, 1]" in err.message
    assert err.hint and "[performance] scale" in err.hint
