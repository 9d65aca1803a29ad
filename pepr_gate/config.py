"""`pepr.toml` (or `[tool.pepr-gate]` in `pyproject.toml`), loaded and validated in one place.

Every model forbids unknown keys and is frozen. `load_config` turns any problem into a
`ConfigError` that names the file, the field and what to do (the wording is
`pepr_gate.config_errors`'s); nothing is coerced silently.
Relative paths (`run.workdir`, a relative SQLite store) are resolved against the
directory holding the config file, so `pepr-gate run` behaves the same from any cwd.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pepr_gate import metric_map
from pepr_gate.config_errors import describe
from pepr_gate.errors import ConfigError
from pepr_gate.readfile import CONFIG_LIMIT, read_text_limited
from pepr_gate.records import Resource

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_STORE = "sqlite:///.pepr/history.db"
HASHED_SECTIONS = {"performance", "score", "carbon", "meter"}  # what config_hash covers

PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class StageConfig(_Section):
    name: str = Field(min_length=1)
    cmd: list[str] | str
    shell: bool = False
    timeout_s: PositiveFloat | None = None

    @field_validator("name")
    @classmethod
    def _printable_name(cls, name: str) -> str:
        # A stage's name is printed in progress lines and workflow commands (`::notice`):
        # a newline in it could start an `::error` or `::add-mask::` line of its own.
        bad = next((ch for ch in name if not ch.isprintable()), None)
        if bad is not None:
            raise ValueError(f"the stage name {name!r} contains the control character "
                             f"{bad!a}; stage names must be printable")
        return name

    @model_validator(mode="after")
    def _check_cmd(self) -> StageConfig:
        if any("\0" in part for part in self.argv):
            raise ValueError("cmd contains a NUL character (\\0), which no command line "
                             "can carry; remove it")
        if isinstance(self.cmd, str):
            if not self.shell:
                raise ValueError(
                    "cmd is a string; write it as an argv list like [\"python\", \"train.py\"], "
                    "or set shell = true on this stage to run it through /bin/sh on purpose"
                )
            if not self.cmd.strip():
                raise ValueError("cmd is empty; give the command to run")
        elif not self.cmd or not self.cmd[0].strip():
            raise ValueError(
                "cmd is empty; give the command as an argv list, e.g. [\"make\", \"train\"]"
            )
        return self

    @property
    def argv(self) -> list[str]:
        return [self.cmd] if isinstance(self.cmd, str) else list(self.cmd)


class CooldownConfig(_Section):
    """`[run] cooldown`: before the window opens, wait for the GPUs to cool (NVML)."""

    max_temp_c: Annotated[float, Field(gt=0, le=120, allow_inf_nan=False)]
    timeout_s: Annotated[float, Field(gt=0, le=3600, allow_inf_nan=False)] = 300.0


class RunConfig(_Section):
    stages: list[StageConfig] = Field(default_factory=list)
    cooldown: CooldownConfig | None = None
    timeout_s: PositiveFloat | None = None
    workdir: str = "."
    env: dict[str, str] = Field(default_factory=dict)
    # "auto": `ci` runs one repeat at a time and stops once the verdict is decided.
    repeats: Annotated[int, Field(ge=1, le=100)] | Literal["auto"] = 1
    max_repeats: int = Field(default=5, ge=1, le=100)
    progress_interval_s: Annotated[float, Field(ge=0, le=86400, allow_inf_nan=False)] = 60.0

    @field_validator("env")
    @classmethod
    def _env_names(cls, env: dict[str, str]) -> dict[str, str]:
        for name, value in env.items():
            if not name or "=" in name or "\0" in name:
                raise ValueError(f"{name!r} is not an environment variable name: names must "
                                 "be non-empty, without '=' or NUL")
            if "\0" in value:
                raise ValueError(f"the value of {name} contains a NUL character")
        return env

    @field_validator("repeats", mode="before")
    @classmethod
    def _repeats(cls, value: object) -> object:
        # One plain message instead of one per member of the union.
        ok = value == "auto" or (type(value) is int and 1 <= value <= 100)
        if not ok:
            raise ValueError('must be a whole number from 1 to 100, or "auto"')
        return value

    @field_validator("stages")
    @classmethod
    def _unique_names(cls, stages: list[StageConfig]) -> list[StageConfig]:
        names = [s.name for s in stages]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"stage names must be unique; repeated: {', '.join(sorted(dup))}")
        return stages


class PerformanceConfig(_Section):
    file: str = Field(min_length=1)
    key: str = Field(min_length=1)
    name: str | None = None
    scale: PositiveFloat = 1.0
    params_key: str | None = None
    better: metric_map.Better = "higher"  # "lower": a loss, perplexity, error rate ...
    to_p: metric_map.ToP | None = None  # ... mapped to P this way (`metric_map`)
    best: float | None = None  # to_p = "linear": the metric's value at P = 1 ...
    worst: float | None = None  # ... and at P = 0

    @model_validator(mode="after")
    def _mapping(self) -> PerformanceConfig:
        metric_map.check(self.better, self.to_p, self.best, self.worst)
        return self

    @property
    def label(self) -> str:
        return self.name or self.key.rsplit(".", 1)[-1]


class ScaleConfig(_Section):
    """The resource amount that counts as R = 1, per resource (units as in the record)."""

    energy: PositiveFloat | None = None  # kWh
    carbon: PositiveFloat | None = None  # kg CO2eq
    time: PositiveFloat | None = None  # s
    gpu_memory: PositiveFloat | None = None  # GB
    params: PositiveFloat | None = None  # parameters

    def for_resource(self, resource: str) -> float | None:
        value: float | None = getattr(self, resource)
        return value


class ScoreConfig(_Section):
    resource: Resource = "energy"
    scale: ScaleConfig = Field(default_factory=ScaleConfig)


class CarbonConfig(_Section):
    country: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    intensity_g_per_kwh: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    pue: Annotated[float, Field(ge=1.0, le=5.0, allow_inf_nan=False)] = 1.0

    @model_validator(mode="after")
    def _one_source(self) -> CarbonConfig:
        if self.country and self.intensity_g_per_kwh is not None:
            raise ValueError("set either country or intensity_g_per_kwh, not both")
        return self


class StoreConfig(_Section):
    url: str = DEFAULT_STORE


PROM_NEW_KEYS = ("exporter", "gpu_energy_unit", "cpu_energy_unit")  # unset: hash unchanged


MAX_QUERY_TIMEOUT_S = 3600.0


class PrometheusConfig(_Section):
    """`[meter.prometheus]`: read a multi-node job's energy from the cluster's Prometheus."""

    url: str
    nodes: list[str] | str
    node_label: str = "Hostname"
    gpu_energy: str = "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"
    cpu_energy: str | None = None
    match: str | None = None
    timeout_s: PositiveFloat = 10.0
    # A preset sets metric, unit and node label for the GPU and CPU counters of one
    # exporter; any of those keys given here wins (docs/prometheus.md).
    exporter: Literal["dcgm", "kepler", "scaphandre", "node"] | None = None
    gpu_energy_unit: Literal["J", "mJ", "uJ"] | None = None
    cpu_energy_unit: Literal["J", "mJ", "uJ"] | None = None

    @field_validator("timeout_s")
    @classmethod
    def _timeout(cls, seconds: float) -> float:
        # A larger value overflowed the HTTP deadline (exit 4, "timestamp out of range").
        if not seconds <= MAX_QUERY_TIMEOUT_S:
            raise ValueError(f"must be at most {MAX_QUERY_TIMEOUT_S:g} s (an "
                             "hour): a query that takes longer is a server that is "
                             "not answering; the default is 10")
        return seconds

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError("give the server's base URL, like http://prometheus:9090")
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 (a port that is not a number raises here)
        except ValueError as exc:
            raise ValueError(f"not a URL ({exc}); write it like http://prometheus:9090") from None
        if not parts.hostname:
            raise ValueError("no host; write it like http://prometheus:9090")
        if parts.query or parts.fragment or url.rstrip("/").endswith(("?", "#")):
            raise ValueError("a base URL takes no ?query or #fragment (pepr-gate adds "
                             "/api/v1/query itself); drop them")
        return url

    @field_validator("nodes")
    @classmethod
    def _nodes(cls, nodes: list[str] | str) -> list[str] | str:
        if isinstance(nodes, str) and not nodes.startswith("env:"):
            raise ValueError("a string must name a variable holding a Slurm hostlist, like "
                             "\"env:SLURM_JOB_NODELIST\"; or give a list like [\"gpu-a1\"]")
        if not nodes or not all(n.strip() for n in nodes):
            raise ValueError("empty; list the job's nodes or name an env: variable")
        return nodes

    @field_validator("node_label", "gpu_energy", "cpu_energy")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", value):
            raise ValueError("not a Prometheus metric or label name")
        return value

    @field_validator("match")
    @classmethod
    def _match(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"\{.*\}", value.strip()):
            raise ValueError("write label matchers in braces, like '{namespace=\"ml\"}'")
        return value


class MeterConfig(_Section):
    kind: str = Field(default="auto",
                      description="auto | process | prometheus | replay:TRACE.json")
    gpu: bool = True
    rapl: bool = True
    prometheus: PrometheusConfig | None = None


class BudgetConfig(_Section):
    energy_kwh: PositiveFloat | None = None
    carbon_kg: PositiveFloat | None = None
    duration_s: PositiveFloat | None = None
    gpu_memory_gb: PositiveFloat | None = None


class GateConfig(_Section):
    window: int = Field(default=5, ge=1)
    max_pepr_drop: Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)] = 0.05
    max_performance_drop: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] | None = None
    strict: bool = False
    base_branch: str | None = None
    budgets: BudgetConfig = Field(default_factory=BudgetConfig)
    # "paired": `ci` runs the PR's base commit and head alternately (ABBA) instead of
    # comparing with stored history; "auto": history while the runner's conditions match
    # the baseline window's, paired A/B on the spot when they differ (docs/gate.md).
    baseline: Literal["history", "paired", "auto"] = "history"
    accept_label: str = Field(default="pepr-gate: accept", min_length=1)

    @field_validator("max_pepr_drop", mode="before")
    @classmethod
    def _percent(cls, value: object) -> object:
        """`max_pepr_drop = "5%"` reads as 0.05, like `--threshold 5%`."""
        if isinstance(value, str):
            from pepr_gate.units import parse_fraction

            return parse_fraction(value)
        return value


class DashboardConfig(_Section):
    title: str | None = None
    repo_url: str | None = Field(default=None, pattern=r"^https?://\S+$",
                                 description="commit links: REPO_URL/commit/SHA")


class MlflowExportConfig(_Section):
    """`[export.mlflow]`: log every run to an MLflow tracking server (docs/integrations.md)."""

    tracking_uri: str | None = Field(
        default=None, min_length=1, description="default: the MLFLOW_TRACKING_URI variable")
    experiment: str = Field(default="pepr-gate", min_length=1)
    run_name: str | None = Field(default=None, min_length=1,
                                 description="default: '<branch> <sha7>' of the run")
    tags: dict[str, str] = Field(default_factory=dict)
    timeout_s: PositiveFloat = 10.0


class ExportConfig(_Section):
    mlflow: MlflowExportConfig | None = None


class Config(_Section):
    run: RunConfig = Field(default_factory=RunConfig)
    performance: PerformanceConfig | None = None
    score: ScoreConfig = Field(default_factory=ScoreConfig)
    carbon: CarbonConfig = Field(default_factory=CarbonConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    meter: MeterConfig = Field(default_factory=MeterConfig)
    gate: GateConfig = Field(default_factory=GateConfig)
    dashboard: DashboardConfig = Field(default_factory=DashboardConfig)
    export: ExportConfig = Field(default_factory=ExportConfig)

    # Where the config came from; not part of the file.
    source: str | None = Field(default=None, exclude=True)
    root: str = Field(default=".", exclude=True)

    @property
    def workdir(self) -> Path:
        return (Path(self.root) / self.run.workdir).resolve()

    def config_hash(self) -> str:
        """Hash of what makes two runs comparable.

        Covers the metric, the score variant and scale, carbon settings and the meter
        kind; leaves out the commands, environment, timeouts, store and gate settings,
        because changing the model or its training command is exactly what a pull request
        does and must still be compared with the base branch.
        """
        relevant = self._hashed()
        blob = json.dumps(relevant, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def _hashed(self) -> dict[str, Any]:
        relevant = self.model_dump(include=HASHED_SECTIONS)
        # Without [meter.prometheus] the hash stays what it was before that table existed
        # (stored baselines keep matching); its timeout changes no figure.
        perf = relevant.get("performance")
        if perf is not None:
            # The metric's display name changes no figure: hashed as unset, so adding
            # `name = "accuracy"` keeps the baseline (and unnamed configs keep their hash).
            perf["name"] = None
        if perf is not None and perf["better"] == "higher":  # as before these keys existed
            for key in ("better", "to_p", "best", "worst"):
                perf.pop(key)
        prom = relevant["meter"].pop("prometheus")
        if prom is not None:
            relevant["meter"]["prometheus"] = {k: v for k, v in prom.items() if k != "timeout_s"
                                               and (v is not None or k not in PROM_NEW_KEYS)}
        return relevant

    def config_keys(self) -> dict[str, str]:
        """A short digest per setting behind `config_hash` ("score.scale.energy" -> hash),
        stored with each run so a changed hash can name the keys that changed."""
        out: dict[str, str] = {}

        def walk(prefix: str, value: object) -> None:
            if isinstance(value, dict) and value:
                for key, sub in value.items():
                    walk(f"{prefix}.{key}", sub)
                return
            blob = json.dumps(value, sort_keys=True, default=str).encode()
            out[prefix] = hashlib.sha256(blob).hexdigest()[:8]

        for section, value in self._hashed().items():
            walk(section, value)
        return out

    def scale_for(self, resource: str) -> tuple[float | None, str | None]:
        """The explicit scale, else the budget, for a resource; (None, None) if neither."""
        explicit = self.score.scale.for_resource(resource)
        if explicit is not None:
            return explicit, "config"
        budgets = self.gate.budgets
        budget = {
            "energy": budgets.energy_kwh,
            "carbon": budgets.carbon_kg,
            "time": budgets.duration_s,
            "gpu_memory": budgets.gpu_memory_gb,
        }.get(resource)
        if budget is not None:
            return budget, "budget"
        return None, None


def find_config(start: Path | None = None) -> Path | None:
    here = start or Path.cwd()
    pepr = here / "pepr.toml"
    if pepr.exists() and not pepr.is_dir():  # a FIFO or device there is refused by name
        return pepr
    pyproject = here / "pyproject.toml"
    if pyproject.exists() and not pyproject.is_dir():
        try:
            text = read_text_limited(pyproject, CONFIG_LIMIT)
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{pyproject}: cannot read: {exc}") from None
        data = _parse_toml(text, pyproject)
        tool = data.get("tool")
        if isinstance(tool, dict) and "pepr-gate" in tool:
            return pyproject
    return None


def _parse_toml(text: str, path: Path) -> dict[str, Any]:
    """Parse TOML; an error names the line and column (a broken pyproject.toml is an error,
    never mistaken for "no config")."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        reason = str(exc)
        found = re.search(r"\(at line (\d+), column (\d+)\)", reason)
        if found:
            line, col = int(found.group(1)), int(found.group(2))
        else:  # "at end of document"
            lines = text.split("\n")
            line, col = len(lines), len(lines[-1]) + 1
        reason = re.sub(r"\s*\(at [^)]*\)$", "", reason)
        raise ConfigError(
            f"{path}: TOML syntax error at line {line}, column {col}: {reason}",
            hint="fix the TOML at that line and column",
        ) from None


def load_config(path: str | Path | None = None, *, required: bool = True) -> Config:
    """Load and validate the config; with `required=False` a missing file gives defaults."""
    if path is None:
        found = find_config()
        if found is None:
            if required:
                raise ConfigError(
                    f"no config found in {Path.cwd()}: looked for pepr.toml and "
                    "[tool.pepr-gate] in pyproject.toml",
                    hint="`pepr-gate init --cmd 'python train.py'` writes a minimal pepr.toml; "
                    "or pass --config PATH, or give the command after `--`",
                )
            return Config()
        path = found
    p = Path(path)
    if p.is_dir():
        found = find_config(p)
        if found is None:
            raise ConfigError(
                f"{p}: no config in this folder: looked for pepr.toml and [tool.pepr-gate] "
                "in pyproject.toml",
                hint="pass the config file itself with --config, or create pepr.toml there",
            )
        p = found
    try:
        text = read_text_limited(p, CONFIG_LIMIT)
    except FileNotFoundError:
        raise ConfigError(f"{p}: config file not found", hint="check --config") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read config: {exc}") from None
    data = _parse_toml(text, p)
    section = "" if p.name != "pyproject.toml" else "tool.pepr-gate."
    if p.name == "pyproject.toml":
        tool = data.get("tool", {})
        if not isinstance(tool, dict) or "pepr-gate" not in tool:
            raise ConfigError(f"{p}: no [tool.pepr-gate] table", hint="add one, or use pepr.toml")
        data = tool["pepr-gate"]
        if not isinstance(data, dict):
            raise ConfigError(
                f"{p}: [tool.pepr-gate] must be a table, not a {type(data).__name__} "
                f"({data!r:.40})",
                hint="write it as a table: a line `[tool.pepr-gate]` followed by its keys",
            )
    return parse_config(data, source=str(p), root=str(p.resolve().parent), prefix=section)


def parse_config(data: dict[str, Any], *, source: str, root: str, prefix: str = "") -> Config:
    try:
        return Config.model_validate({**data, "source": source, "root": root})
    except ValidationError as exc:
        raise ConfigError(
            describe(exc, data, source, prefix, Config),
            hint="fix the field named above; docs/configuration.md lists every key",
        ) from None
