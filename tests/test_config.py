"""Loading `pepr.toml` / `[tool.pepr-gate]`: defaults, paths, and every mistake named."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError

from pepr_gate.config import DEFAULT_STORE, Config, find_config, load_config
from pepr_gate.errors import EXIT_BAD_INPUT, ConfigError

STAGE = '[[run.stages]]\nname = "train"\ncmd = ["python", "train.py"]\n'


def write(folder: Path, body: str, name: str = "pepr.toml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def error_of(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert exc.value.exit_code == EXIT_BAD_INPUT
    return exc.value


def test_minimal_config_gets_documented_defaults(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, STAGE))
    assert cfg.run.stages[0].argv == ["python", "train.py"]
    assert cfg.run.stages[0].shell is False
    assert cfg.run.timeout_s is None and cfg.run.repeats == 1 and cfg.run.env == {}
    assert cfg.performance is None
    assert cfg.score.resource == "energy"
    assert cfg.carbon.pue == 1.0 and cfg.carbon.country is None
    assert cfg.store.url == DEFAULT_STORE == "sqlite:///.pepr/history.db"
    assert cfg.meter.kind == "auto"
    assert cfg.source == str(tmp_path / "pepr.toml")
    assert cfg.workdir == tmp_path.resolve()


def test_full_example_config_loads(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, """\
        [run]
        timeout_s = 600
        workdir = "src"
        env = { OMP_NUM_THREADS = "2" }
        repeats = 3

        [[run.stages]]
        name = "train"
        cmd = ["python", "train.py", "--width", "8"]
        timeout_s = 500

        [[run.stages]]
        name = "eval"
        cmd = "python eval.py > eval.log"
        shell = true

        [performance]
        file = "metrics.json"
        key = "test.accuracy"
        name = "accuracy"
        scale = 100
        params_key = "params"

        [score]
        resource = "carbon"
        [score.scale]
        carbon = 0.002

        [carbon]
        country = "DNK"
        pue = 1.2

        [gate]
        window = 3
        max_pepr_drop = 0.1
        [gate.budgets]
        duration_s = 900
        """))
    assert cfg.run.repeats == 3 and cfg.run.env == {"OMP_NUM_THREADS": "2"}
    assert cfg.run.stages[1].argv == ["python eval.py > eval.log"]
    assert cfg.run.stages[0].timeout_s == 500
    assert cfg.performance is not None and cfg.performance.label == "accuracy"
    assert cfg.performance.scale == 100
    assert cfg.scale_for("carbon") == (0.002, "config")
    assert cfg.scale_for("time") == (900, "budget")
    assert cfg.scale_for("energy") == (None, None)
    assert cfg.workdir == (tmp_path / "src").resolve()


def test_performance_label_defaults_to_the_last_key_part(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, '[performance]\nfile = "m.json"\nkey = "eval.top1"\n'))
    assert cfg.performance is not None and cfg.performance.label == "top1"


def test_pyproject_tool_table(tmp_path: Path) -> None:
    write(tmp_path, """\
        [project]
        name = "x"
        [tool.pepr-gate.performance]
        file = "m.json"
        key = "acc"
        """, name="pyproject.toml")
    assert find_config(tmp_path) == tmp_path / "pyproject.toml"
    cfg = load_config(tmp_path / "pyproject.toml")
    assert cfg.performance is not None and cfg.performance.key == "acc"


def test_pepr_toml_wins_over_pyproject(tmp_path: Path) -> None:
    write(tmp_path, '[tool.pepr-gate.performance]\nfile = "a"\nkey = "a"\n',
          name="pyproject.toml")
    write(tmp_path, '[performance]\nfile = "b"\nkey = "b"\n')
    assert find_config(tmp_path) == tmp_path / "pepr.toml"


def test_pyproject_without_the_table_is_not_a_config(tmp_path: Path) -> None:
    write(tmp_path, '[project]\nname = "x"\n', name="pyproject.toml")
    assert find_config(tmp_path) is None
    err = error_of(tmp_path / "pyproject.toml")
    assert "[tool.pepr-gate]" in err.message


def test_no_config_found_names_the_folder_and_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as exc:
        load_config()
    assert str(tmp_path) in exc.value.message and "pepr.toml" in exc.value.message
    assert exc.value.hint and "--config" in exc.value.hint
    assert load_config(required=False) == Config()


def test_missing_config_path(tmp_path: Path) -> None:
    err = error_of(tmp_path / "nope.toml")
    assert "nope.toml" in err.message and "not found" in err.message


def test_config_path_may_be_a_folder(tmp_path: Path) -> None:
    write(tmp_path, STAGE)
    assert load_config(tmp_path).source == str(tmp_path / "pepr.toml")
    empty = tmp_path / "empty"
    empty.mkdir()
    err = error_of(empty)
    assert str(empty) in err.message and "pepr.toml" in err.message
    assert err.hint and "--config" in err.hint


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[run]\ntimeout_s = 5\n\n[performance]\nfile = "m.json\n')
    err = error_of(path)
    assert str(path) in err.message and "line 5" in err.message


@pytest.mark.parametrize(
    ("body", "field", "suggestion"),
    [
        ("[run]\ntimout_s = 5\n", "run.timout_s", "timeout_s"),
        ('[preformance]\nfile = "m"\nkey = "k"\n', "preformance", "performance"),
        ('[[run.stages]]\nname = "t"\ncommand = ["x"]\n', "run.stages.0.command", "cmd"),
        ('[[run.stages]]\nname = "t"\ncmd = ["x"]\nzzz = 1\n', "run.stages.0.zzz", None),
        ("[score.scale]\nenergies = 1.0\n", "score.scale.energies", "energy"),
        ("[gate.budgets]\nenergy = 1.0\n", "gate.budgets.energy", "energy_kwh"),
    ],
)
def test_unknown_key_is_named_with_the_close_match(
    tmp_path: Path, body: str, field: str, suggestion: str | None
) -> None:
    err = error_of(write(tmp_path, body))
    assert f"unknown key '{field}'" in err.message
    if suggestion:
        assert f"did you mean '{suggestion}'" in err.message
    else:  # nothing close: list what is allowed
        assert "known keys:" in err.message and "cmd" in err.message


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('[run]\ntimeout_s = "600"\n', "run.timeout_s"),
        ("[run]\nrepeats = 2.5\n", "run.repeats"),
        ('[run]\nrepeats = "3"\n', "run.repeats"),
        ("[run]\nenv = { N = 2 }\n", "run.env.N"),
        ('[[run.stages]]\nname = "t"\ncmd = ["python", 3]\n', "run.stages.0.cmd"),
        ('[meter]\ngpu = "yes"\n', "meter.gpu"),
        ('[score]\nresource = "watts"\n', "score.resource"),
        ('[performance]\nfile = "m"\nkey = "k"\nscale = "100"\n', "performance.scale"),
    ],
)
def test_wrong_type_names_the_field_and_is_never_coerced(
    tmp_path: Path, body: str, field: str
) -> None:
    err = error_of(write(tmp_path, body))
    assert f"field '{field}'" in err.message, err.message
    assert ".str'" not in err.message  # no union member named as if it were a key
    assert str(tmp_path / "pepr.toml") in err.message


@pytest.mark.parametrize(
    "body",
    [
        "[run]\ntimeout_s = 0\n",
        "[run]\ntimeout_s = -1\n",
        "[run]\ntimeout_s = nan\n",
        "[run]\ntimeout_s = inf\n",
        '[[run.stages]]\nname = "t"\ncmd = ["x"]\ntimeout_s = 0\n',
        "[run]\nrepeats = 0\n",
        '[performance]\nfile = "m"\nkey = "k"\nscale = 0\n',
        "[score.scale]\nenergy = -0.1\n",
        "[carbon]\npue = 0.5\n",
        "[carbon]\nintensity_g_per_kwh = -3\n",
    ],
)
def test_out_of_range_numbers_are_refused(tmp_path: Path, body: str) -> None:
    err = error_of(write(tmp_path, body))
    assert "field '" in err.message


def test_empty_cmd_and_empty_name(tmp_path: Path) -> None:
    assert "cmd is empty" in error_of(write(tmp_path, '[[run.stages]]\nname = "t"\ncmd = []\n'
                                            )).message
    assert "cmd is empty" in error_of(write(tmp_path, '[[run.stages]]\nname = "t"\n'
                                                      'cmd = ["  "]\n')).message
    assert "cmd is empty" in error_of(write(tmp_path, '[[run.stages]]\nname = "t"\ncmd = " "\n'
                                                      "shell = true\n")).message
    err = error_of(write(tmp_path, '[[run.stages]]\nname = ""\ncmd = ["x"]\n'))
    assert "run.stages.0.name" in err.message


def test_string_cmd_needs_shell(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, '[[run.stages]]\nname = "t"\ncmd = "make train"\n'))
    assert "shell = true" in err.message and "argv list" in err.message


def test_duplicate_stage_names(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, STAGE + STAGE))
    assert "unique" in err.message and "train" in err.message


@pytest.mark.parametrize("country", ["dnk", "DK", "DENMARK"])
def test_country_must_be_iso_alpha_3(tmp_path: Path, country: str) -> None:
    err = error_of(write(tmp_path, f'[carbon]\ncountry = "{country}"\n'))
    assert "carbon.country" in err.message and country in err.message


def test_country_and_intensity_are_exclusive(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, '[carbon]\ncountry = "DNK"\nintensity_g_per_kwh = 100\n'))
    assert "either country or intensity_g_per_kwh" in err.message


def test_several_mistakes_are_reported_together(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, '[run]\ntimeout_s = -1\nrepeats = 0\n'))
    assert "run.timeout_s" in err.message and "run.repeats" in err.message


def test_pyproject_errors_name_the_tool_table(tmp_path: Path) -> None:
    path = write(tmp_path, "[tool.pepr-gate.run]\ntimeout_s = -1\n", name="pyproject.toml")
    assert "tool.pepr-gate.run.timeout_s" in error_of(path).message


def test_config_is_frozen(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, STAGE))
    with pytest.raises(ValidationError):
        cfg.run.timeout_s = 5  # type: ignore[misc]


def test_workdir_and_root_do_not_depend_on_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "proj" / "src").mkdir(parents=True)
    write(tmp_path / "proj", '[run]\nworkdir = "src"\n')
    monkeypatch.chdir(tmp_path)
    assert load_config(Path("proj/pepr.toml")).workdir == (tmp_path / "proj" / "src").resolve()


def test_config_hash_follows_what_makes_runs_comparable(tmp_path: Path) -> None:
    base = '[performance]\nfile = "m.json"\nkey = "acc"\n'
    h0 = load_config(write(tmp_path, STAGE + base)).config_hash()
    # a PR changes the model's command, timeouts or gate settings: still comparable
    other_cmd = '[[run.stages]]\nname = "train"\ncmd = ["python", "train.py", "--width", "64"]\n'
    assert load_config(write(tmp_path, other_cmd + base + "[run]\ntimeout_s = 9\n"
                             "[gate]\nwindow = 2\n")).config_hash() == h0
    # another metric, resource, scale, carbon setting or meter: not comparable
    for extra in ('[score]\nresource = "time"\n', "[score.scale]\nenergy = 0.1\n",
                  '[carbon]\ncountry = "USA"\n', '[meter]\nkind = "process"\n'):
        assert load_config(write(tmp_path, STAGE + base + extra)).config_hash() != h0
    other_key = '[performance]\nfile = "m.json"\nkey = "f1"\n'
    assert load_config(write(tmp_path, STAGE + other_key)).config_hash() != h0


def test_cosmetic_keys_leave_the_config_hash_alone(tmp_path: Path) -> None:
    base = '[performance]\nfile = "m.json"\nkey = "acc"\n'
    unnamed = load_config(write(tmp_path, STAGE + base))
    assert unnamed.config_hash() == "b9876e8c66abe578"  # as before the name was left out
    named = load_config(write(tmp_path, STAGE + base + 'name = "accuracy"\n'))
    assert named.config_hash() == unnamed.config_hash()
    assert named.config_keys() == unnamed.config_keys()
    timeout = '[meter.prometheus]\nurl = "http://p:9090"\nnodes = ["a"]\n'
    assert load_config(write(tmp_path, STAGE + timeout)).config_hash() == load_config(
        write(tmp_path, STAGE + timeout + "timeout_s = 30\n")).config_hash()


def test_the_prometheus_table_leaves_other_configs_hashes_alone(tmp_path: Path) -> None:
    # the hash every config without [meter.prometheus] had before the table existed:
    # stored baselines must keep matching after an upgrade
    assert load_config(write(tmp_path, STAGE)).config_hash() == "96bf4bb9996824aa"
    prom = '[meter.prometheus]\nurl = "http://p:9090"\nnodes = ["gpu-a1"]\n'
    h1 = load_config(write(tmp_path, STAGE + prom)).config_hash()
    assert load_config(write(tmp_path, STAGE + prom + "timeout_s = 3\n")).config_hash() == h1
    other = prom.replace("gpu-a1", "gpu-a2")
    assert load_config(write(tmp_path, STAGE + other)).config_hash() != h1


@pytest.mark.parametrize(("line", "needle"), [
    ('url = "prometheus:9090"', "field 'meter.prometheus.url': give the server's base URL"),
    ('nodes = "gpu-a[1-2]"', "field 'meter.prometheus.nodes': a string must name a variable"),
    ("nodes = []", "field 'meter.prometheus.nodes': empty"),
    ("match = 'namespace=\"ml\"'", "field 'meter.prometheus.match': write label matchers"),
    ('gpu_energy = "DCGM energy"', "field 'meter.prometheus.gpu_energy': not a Prometheus"),
])
def test_prometheus_table_errors_name_the_field(tmp_path: Path, line: str, needle: str) -> None:
    keys = {"url": 'url = "http://p:9090"', "nodes": 'nodes = ["gpu-a1"]'}
    keys[line.split(" ")[0]] = line
    body = STAGE + "[meter.prometheus]\n" + "\n".join(keys.values()) + "\n"
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, body))
    assert needle in err.value.message


@pytest.mark.parametrize("seconds", ["1e300", "3601", "inf"])
def test_a_prometheus_timeout_past_an_hour_is_refused_naming_the_field(
        tmp_path: Path, seconds: str) -> None:
    # 1e300 overflowed the HTTP deadline after the job ran: exit 4, "timestamp out of range".
    import subprocess
    import sys

    (tmp_path / "pepr.toml").write_text(textwrap.dedent(f"""\
        [[run.stages]]
        name = "train"
        cmd = ["{sys.executable}", "-c", "pass"]

        [performance]
        file = "m.json"
        key = "acc"

        [meter]
        kind = "prometheus"

        [meter.prometheus]
        url = "http://127.0.0.1:9"
        nodes = ["node-1"]
        timeout_s = {seconds}
        """))
    done = subprocess.run([sys.executable, "-m", "pepr_gate", "run", "--no-store"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == EXIT_BAD_INPUT, done.stderr
    assert "field 'meter.prometheus.timeout_s'" in done.stderr
    assert "Traceback" not in done.stderr
    if seconds != "inf":
        assert "at most 3600 s" in done.stderr
    assert not (tmp_path / ".pepr").exists()  # refused before the job
