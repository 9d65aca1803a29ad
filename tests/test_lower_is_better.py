"""Lower-is-better metrics (a loss, perplexity, an error rate): `[performance] better =
"lower"` with `to_p` maps them to P, the mapping is stated in the record and the comment,
and a value outside [0, 1] without it is refused with a hint naming both cases."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from pepr_gate.config import metric_map, parse_config
from pepr_gate.errors import ConfigError

try:
    from tests.harness import assert_exit, job, pepr_gate, write_config
except ImportError:
    from harness import assert_exit, job, pepr_gate, write_config  # type: ignore[no-redef]


def project(tmp_path: Path, metrics: dict[str, float], performance: str = "") -> None:
    (tmp_path / "src.json").write_text(json.dumps(metrics), encoding="utf-8")
    copy = "import shutil; shutil.copy('src.json', 'metrics.json')"
    write_config(tmp_path, f"[[run.stages]]\nname = \"train\"\ncmd = {job(copy)}\n\n"
                 f"[performance]\nfile = \"metrics.json\"\nkey = \"val_loss\"\n{performance}\n"
                 "[score.scale]\ntime = 60.0\n\n[meter]\nkind = \"process\"\n")


def test_a_loss_without_a_mapping_is_refused_with_both_hints(tmp_path: Path) -> None:
    project(tmp_path, {"val_loss": 2.43})
    proc = pepr_gate("run", "--no-store", cwd=tmp_path)
    # Not only "set scale = 100": that would make a worse model (higher loss) score higher.
    assert_exit(proc, 2, "'val_loss' = 2.43", "outside [0, 1]", "scale = 100",
                'better = "lower"', "to_p")


def test_a_loss_with_exp_minus_x_is_scored_and_the_mapping_recorded(tmp_path: Path) -> None:
    project(tmp_path, {"val_loss": 2.43}, 'better = "lower"\nto_p = "exp(-x)"\n')
    assert_exit(pepr_gate("run", "--no-store", "--out", "r.json", cwd=tmp_path), 0)
    perf = json.loads((tmp_path / "r.json").read_text())["performance"]
    assert perf["value"] == pytest.approx(math.exp(-2.43)) and perf["raw_value"] == 2.43
    assert perf["mapping"] == "P = exp(-x), x = val_loss (lower is better)"
    # The comment says it too.
    (tmp_path / "b.json").write_text((tmp_path / "r.json").read_text())
    project(tmp_path, {"val_loss": 2.60}, 'better = "lower"\nto_p = "exp(-x)"\n')
    assert_exit(pepr_gate("run", "--no-store", "--out", "c.json", cwd=tmp_path), 0)
    proc = pepr_gate("check", "--candidate", "c.json", "--baseline", "b.json",
                     "--markdown", "c.md", "--json", "c.json.out", cwd=tmp_path)
    assert proc.returncode in (0, 1), proc.stderr
    body = (tmp_path / "c.md").read_text()
    assert (r"P is computed from val\_loss: P = exp\(-x\), x = val\_loss \(lower is better\)"
            in body)
    result = json.loads((tmp_path / "c.json.out").read_text())
    # A higher loss is a lower P: the candidate's performance fell.
    assert result["candidate"]["performance"] < result["baseline"]["performance"]


def test_a_value_outside_the_mappings_domain_names_it(tmp_path: Path) -> None:
    project(tmp_path, {"val_loss": 0.4}, 'better = "lower"\nto_p = "1/x"\n')
    assert_exit(pepr_gate("run", "--no-store", cwd=tmp_path), 2, "P = 1/x",
                'to_p = "1/x" needs x >= 1')


@pytest.mark.parametrize(("keys", "message"), [
    ('better = "lower"', 'better = "lower" needs to_p'),
    ('to_p = "1-x"', 'set better = "lower" too'),
    ('better = "lower"\nto_p = "linear"', "needs best and worst"),
    ('better = "lower"\nto_p = "linear"\nbest = 3.0\nworst = 0.5', "best (3.0) must be below"),
    ('better = "lower"\nto_p = "1-x"\nbest = 0.1', "best and worst are for"),
    ('better = "lower"\nto_p = "log"', "to_p"),
])
def test_bad_mapping_keys_are_config_errors(tmp_path: Path, keys: str, message: str) -> None:
    import tomllib

    data = tomllib.loads(f'[performance]\nfile = "m.json"\nkey = "loss"\n{keys}\n')
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_config(data, source="pepr.toml", root=str(tmp_path))


def test_each_mapping_keeps_the_order_lower_is_better() -> None:
    for how, xs in (("exp(-x)", (0.1, 2.0, 5.0)), ("1-x", (0.05, 0.2, 0.9)),
                    ("1/x", (1.5, 20.0, 300.0))):
        ps = [metric_map.to_p(x, how) for x in xs]  # type: ignore[arg-type]
        assert ps == sorted(ps, reverse=True) and all(0 <= p <= 1 for p in ps)
    assert metric_map.to_p(1.0, "linear", best=0.5, worst=3.0) == pytest.approx(0.8)
    # Perplexity through 1/x gives the same P as its loss through exp(-x).
    assert metric_map.to_p(math.exp(2.43), "1/x") == pytest.approx(
        metric_map.to_p(2.43, "exp(-x)"))


def test_the_config_hash_is_unchanged_for_higher_is_better(tmp_path: Path) -> None:
    data = {"performance": {"file": "m.json", "key": "acc"}}
    plain = parse_config(data, source="a", root=str(tmp_path))
    assert "performance.better" not in plain.config_keys()
    lower = parse_config({"performance": {"file": "m.json", "key": "acc", "better": "lower",
                                          "to_p": "1-x"}}, source="a", root=str(tmp_path))
    assert lower.config_hash() != plain.config_hash()


def test_linear_ends_whose_difference_overflows_are_refused(tmp_path: Path) -> None:
    # worst - best = inf made every P = (worst - x) / inf = 0, silently.
    project(tmp_path, {"val_loss": 0.0},
            'better = "lower"\nto_p = "linear"\nbest = -1.7e308\nworst = 1.7e308\n')
    assert_exit(pepr_gate("run", "--no-store", cwd=tmp_path), 2, "worst - best",
                "overflows to infinity")


@pytest.mark.parametrize(("x", "how"), [
    (5e-324, "1/x"), (-5e-324, "1/x"),  # 1/x overflows to +-inf
    (-1e308, "exp(-x)"), (-700.5, "exp(-x)"), (-1.0, "exp(-x)"),  # exp(-x) > 1 or overflows
    (-1.7e308, "1-x"), (math.inf, "1-x"),
])
def test_overflowing_mappings_land_outside_0_1_never_inside(x: float, how: str) -> None:
    p = metric_map.to_p(x, how)  # type: ignore[arg-type]
    assert not 0.0 <= p <= 1.0
    # Linear with huge but finite ends: x far past worst is out of range, not P = 0.
    assert metric_map.to_p(-1.7e308, "linear", best=0.0, worst=1e308) > 1.0


def test_a_tiny_perplexity_is_refused_as_p_out_of_range(tmp_path: Path) -> None:
    project(tmp_path, {"val_loss": 5e-324}, 'better = "lower"\nto_p = "1/x"\n')
    assert_exit(pepr_gate("run", "--no-store", cwd=tmp_path), 2, "gives P = inf",
                'to_p = "1/x" needs x >= 1')
