"""Write the key tables of docs/configuration.md from the config models.

    python scripts/config_reference.py           # rewrite the tables in the page
    python scripts/config_reference.py --check   # exit 1 when the page is stale

One table per section (`[run]`, `[[run.stages]]`, `[gate.budgets]` ...), with each key's
type and default read from `pepr_gate.config` and its meaning from the field's
description, else from MEANINGS below. A key with neither stops the script: a new key
cannot reach a release undocumented (`tests/test_config_reference.py` runs `--check`).
"""

from __future__ import annotations

import argparse
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union

from annotated_types import Ge, Gt, Le, Lt, MinLen
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "configuration.md"
START = "<!-- config-reference:start (scripts/config_reference.py writes this part) -->"
END = "<!-- config-reference:end -->"

MEANINGS = {
    "run.stages": "the commands to run, in order, metered as one window (tables below)",
    "run.timeout_s": "limit for the whole run, in seconds; past it the job's process group "
                     "is killed",
    "run.workdir": "folder the stages run in, relative to the config file",
    "run.env": "variables added to the job's environment, e.g. `{ OMP_NUM_THREADS = \"4\" }`",
    "run.repeats": "runs per `pepr-gate run` (the gate uses their median), or `\"auto\"`: "
                   "`ci` runs one at a time until the verdict is decided",
    "run.max_repeats": "the most runs `repeats = \"auto\"` makes",
    "run.progress_interval_s": "seconds between plain progress lines when the output is not "
                               "a terminal; 0 turns them off ([live line](live.md))",
    "run.cooldown": "before the window opens, wait for the GPUs to cool (table below; "
                    "[measuring](measuring.md))",
    "run.cooldown.max_temp_c": "start once every metered GPU is at or below this temperature, "
                               "in °C",
    "run.cooldown.timeout_s": "wait at most this long, then start warm and say so",
    "performance.better": "`higher` (accuracy, Dice, AUC ...) or `lower` (a loss, perplexity "
                          "or error rate, mapped to P by `to_p`)",
    "performance.to_p": "with `better = \"lower\"`: `exp(-x)`, `1-x`, `1/x` or `linear` "
                        "([performance metrics](performance-metrics.md))",
    "performance.best": "`to_p = \"linear\"`: the metric's value at P = 1",
    "performance.worst": "`to_p = \"linear\"`: the metric's value at P = 0",
    "meter.prometheus.exporter": "a preset that sets metric, unit, node label and match: "
                                 "`dcgm`, `kepler`, `scaphandre` or `node` "
                                 "([Prometheus](prometheus.md))",
    "meter.prometheus.gpu_energy_unit": "the GPU counter's unit: `J`, `mJ` or `uJ` (unset: "
                                        "from the preset or the metric's name)",
    "meter.prometheus.cpu_energy_unit": "the CPU counter's unit: `J`, `mJ` or `uJ` (unset: "
                                        "from the preset or the metric's name)",
    "export.mlflow": "log each run to MLflow ([integrations](integrations.md))",
    "export.mlflow.experiment": "the MLflow experiment the runs go to (created if missing)",
    "export.mlflow.tags": "tags added to every MLflow run, e.g. `{ team = \"vision\" }`",
    "export.mlflow.timeout_s": "seconds per request to the tracker (one retry); a tracker "
                               "that is down costs a warning, never the run",
    "run.stages.name": "the stage's name in tables and records (unique)",
    "run.stages.cmd": "an argv list like `[\"python\", \"train.py\"]`; a string only with "
                      "`shell = true`",
    "run.stages.shell": "run a string `cmd` through `/bin/sh`, on purpose",
    "run.stages.timeout_s": "limit for this stage, in seconds",
    "performance.file": "JSON file the job writes, relative to `[run] workdir`",
    "performance.key": "dotted path to P in that file, e.g. `test.accuracy`",
    "performance.name": "P's label in tables and comments (default: the key's last part)",
    "performance.scale": "divides the value: 100 when the job writes percentages",
    "performance.params_key": "dotted path to the parameter count (enables PePR-P)",
    "score.resource": "what R measures: energy (PePR-E), carbon (PePR-C), time (PePR-T), "
                      "gpu_memory (PePR-M) or params (PePR-P)",
    "score.scale": "the amount of each resource that counts as R = 1 (table below)",
    "score.scale.energy": "kWh that count as R = 1",
    "score.scale.carbon": "kg CO2eq that count as R = 1",
    "score.scale.time": "seconds that count as R = 1",
    "score.scale.gpu_memory": "GB of peak GPU memory that count as R = 1",
    "score.scale.params": "parameters that count as R = 1",
    "carbon.country": "ISO 3166 alpha-3 code for codecarbon's offline intensity table "
                      "(neither this nor `intensity_g_per_kwh`: the world average, 475 g/kWh)",
    "carbon.intensity_g_per_kwh": "your own grid intensity in g CO2eq per kWh (not with "
                                  "`country`)",
    "carbon.pue": "data-centre overhead (power usage effectiveness), from 1 to 5",
    "store.url": "history store: `sqlite:///PATH`, `postgresql://...` or `git:BRANCH` "
                 "([History stores](history.md))",
    "meter.kind": "`auto`, `process`, `prometheus` or `replay:TRACE.json` "
                  "([What is measured](measuring.md))",
    "meter.gpu": "read NVIDIA GPUs through NVML",
    "meter.rapl": "read CPU and DRAM energy from RAPL (powercap)",
    "meter.prometheus": "the cluster's Prometheus, for `kind = \"prometheus\"` (table below)",
    "meter.prometheus.url": "the server's base URL; a password in it never reaches a message "
                            "or the store",
    "meter.prometheus.nodes": "the job's nodes, or `\"env:SLURM_JOB_NODELIST\"` (Slurm "
                              "hostlist syntax)",
    "meter.prometheus.node_label": "the series label that holds the node name",
    "meter.prometheus.gpu_energy": "GPU energy counter series, in mJ",
    "meter.prometheus.cpu_energy": "CPU energy counter series, in J (optional)",
    "meter.prometheus.match": "extra label matchers, e.g. `'{namespace=\"ml\"}'`",
    "meter.prometheus.timeout_s": "seconds to wait for each query",
    "gate.window": "the baseline is the median of the last this-many comparable base runs",
    "gate.max_pepr_drop": "relative PePR drop that fails, when it is also beyond the noise",
    "gate.max_performance_drop": "absolute drop in P that fails, whatever PePR does",
    "gate.strict": "`true`: an inconclusive verdict exits 1 instead of 0",
    "gate.base_branch": "the branch to compare with (default: the PR's base, else `main`)",
    "gate.budgets": "hard ceilings that fail even without a baseline (table below)",
    "gate.baseline": "`history`: stored base runs; `paired`: the PR's base commit and head "
                     "run alternately; `auto`: history while the runner's conditions match "
                     "the base runs', pairs when not ([The gate](gate.md))",
    "gate.accept_label": "a PR label that turns a `fail` into `accepted`",
    "gate.budgets.energy_kwh": "energy ceiling, kWh",
    "gate.budgets.carbon_kg": "carbon ceiling, kg CO2eq",
    "gate.budgets.duration_s": "wall-time ceiling, seconds",
    "gate.budgets.gpu_memory_gb": "peak GPU memory ceiling, GB",
    "dashboard.title": "the dashboard page's title",
    "dashboard.repo_url": "base URL for commit links (default: `origin`, or GitHub's "
                          "environment)",
}


class MissingMeaning(Exception):
    pass


def _flat(metadata: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in metadata:
        out += _flat(item.metadata) if isinstance(item, FieldInfo) else [item]
    return out


def _constraints(metadata: list[Any]) -> list[str]:
    items = _flat(metadata)
    bounds = {type(i).__name__.lower(): getattr(i, type(i).__name__.lower())
              for i in items if isinstance(i, (Gt, Ge, Lt, Le))}
    words = []
    if "ge" in bounds and "le" in bounds:
        words.append(f"from {bounds.pop('ge'):g} to {bounds.pop('le'):g}")
    if "ge" in bounds and "lt" in bounds:
        words.append(f"from {bounds.pop('ge'):g}, under {bounds.pop('lt'):g}")
    signs = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
    words += [f"{signs[k]} {v:g}" for k, v in bounds.items()]
    for item in items:
        if isinstance(item, MinLen) and item.min_length > 0:
            words.append("not empty")
        pattern = getattr(item, "pattern", None)
        if pattern == r"^[A-Z]{3}$":
            words.append("3 capital letters")
        elif pattern:
            words.append("a URL" if "http" in pattern else f"matching `{pattern}`")
    return words


def type_name(annotation: Any, metadata: list[Any] = ()) -> str:  # type: ignore[assignment]
    """`float >= 0`, `int 1..100 or "auto"`, `list of strings`: how a person writes it."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return type_name(args[0], list(args[1:]) + list(metadata))
    if origin in (Union, types.UnionType):
        parts = [type_name(a) for a in args if a is not type(None)]
        text = " or ".join(p if p.startswith("`") or " " not in p else f"{p}," for p in parts)
        text = text.rstrip(",")
        extra = _constraints(list(metadata))
        return text + (f" ({', '.join(extra)})" if extra else "")
    if origin is Literal:
        return " \\| ".join(f'`"{a}"`' for a in args)
    if origin is list:
        return f"list of {type_name(args[0])}s"
    if origin is dict:
        return "table of strings"
    names = {str: "string", int: "integer", float: "number", bool: "boolean"}
    base = names.get(annotation, getattr(annotation, "__name__", str(annotation)))
    extra = _constraints(list(metadata))
    return base + (f" {' '.join(extra)}" if extra else "")


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    if field.default_factory is not None:
        made = field.default_factory()  # type: ignore[call-arg]
        return {"[]": "none", "{}": "none"}.get(repr(made), "see below")
    value = field.default
    if value is None or value is PydanticUndefined:
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str):
        return f'`"{value}"`'
    return f"`{value:g}`" if isinstance(value, float) else f"`{value}`"


def _model_of(annotation: Any) -> type[BaseModel] | None:
    for candidate in (annotation, *typing.get_args(annotation)):
        inner = typing.get_args(candidate)
        for item in (candidate, *inner):
            if isinstance(item, type) and issubclass(item, BaseModel):
                return item
    return None


def sections(model: type[BaseModel], path: str = "") -> list[tuple[str, list[list[str]]]]:
    """(heading, rows) per section, depth first; rows are [key, type, default, meaning]."""
    rows: list[list[str]] = []
    nested: list[tuple[str, list[list[str]]]] = []
    for name, field in model.model_fields.items():
        if field.exclude:
            continue
        dotted = f"{path}.{name}" if path else name
        sub = _model_of(field.annotation)
        if path and sub is None:
            meaning = field.description or MEANINGS.get(dotted)
            if not meaning:
                raise MissingMeaning(
                    f"[{path}] {name} has no meaning: give the field a description, or add "
                    f"{dotted!r} to MEANINGS in scripts/config_reference.py")
            kind = type_name(field.annotation, field.metadata)
            rows.append([f"`{name}`", kind, _default(field), meaning])
        if sub is not None:
            if path:
                meaning = field.description or MEANINGS.get(dotted, "")
                rows.append([f"`{name}`", "table", _default(field), meaning])
            nested += sections(sub, dotted)
    heading = f"[[{path}]]" if path == "run.stages" else f"[{path}]"
    return ([(heading, rows)] if path else []) + nested


def render() -> str:
    from pepr_gate.config import Config

    out = [START, ""]
    for heading, rows in sections(Config):
        out += [f"#### `{heading}`", "", "| key | type | default | meaning |",
                "| --- | --- | --- | --- |"]
        out += ["| " + " | ".join(cell.replace("|", "\\|") if i != 1 else cell
                                  for i, cell in enumerate(row)) + " |" for row in rows]
        out.append("")
    out.append(END)
    return "\n".join(out)


def updated(page: str) -> str:
    if START not in page or END not in page:
        raise SystemExit(f"{PAGE}: the markers {START!r} and {END!r} are missing")
    head, rest = page.split(START, 1)
    tail = rest.split(END, 1)[1]
    return head + render() + tail


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when the page differs from what this script writes")
    args = parser.parse_args(argv)
    page = PAGE.read_text(encoding="utf-8")
    try:
        new = updated(page)
    except MissingMeaning as exc:
        print(f"config_reference: {exc}", file=sys.stderr)
        return 1
    if args.check:
        if new != page:
            print(f"{PAGE} is stale: run python scripts/config_reference.py", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(new, encoding="utf-8")
    print(f"wrote the key tables in {PAGE}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
