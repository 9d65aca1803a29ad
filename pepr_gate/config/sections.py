"""The sections of `pepr.toml` but the meter's: run, performance, score, carbon, store, gate,
dashboard, export. Every model forbids unknown keys and is frozen; nothing is coerced.
"""

from __future__ import annotations

import sys
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pepr_gate.config import metric_map
from pepr_gate.records import Resource

if sys.version_info >= (3, 11):
    pass
else:  # pragma: no cover
    pass


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
