"""`pepr.toml` (or `[tool.pepr-gate]` in `pyproject.toml`), loaded and validated in one place.

Every model forbids unknown keys and is frozen. `load_config` turns any problem into a
`ConfigError` that names the file, the field and what to do (the wording is
`pepr_gate.config.errors`'s); nothing is coerced silently.
Relative paths (`run.workdir`, a relative SQLite store) are resolved against the
directory holding the config file, so `pepr-gate run` behaves the same from any cwd.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from pepr_gate.config.errors import describe
from pepr_gate.config.meter import (
    MAX_QUERY_TIMEOUT_S as MAX_QUERY_TIMEOUT_S,
)
from pepr_gate.config.meter import (
    PROM_NEW_KEYS as PROM_NEW_KEYS,
)
from pepr_gate.config.meter import (
    MeterConfig as MeterConfig,
)
from pepr_gate.config.meter import (
    PrometheusConfig as PrometheusConfig,
)
from pepr_gate.config.sections import (
    DEFAULT_STORE as DEFAULT_STORE,
)
from pepr_gate.config.sections import (
    HASHED_SECTIONS as HASHED_SECTIONS,
)
from pepr_gate.config.sections import (
    BudgetConfig as BudgetConfig,
)
from pepr_gate.config.sections import (
    CarbonConfig as CarbonConfig,
)
from pepr_gate.config.sections import (
    CooldownConfig as CooldownConfig,
)
from pepr_gate.config.sections import (
    DashboardConfig as DashboardConfig,
)
from pepr_gate.config.sections import (
    ExportConfig as ExportConfig,
)
from pepr_gate.config.sections import (
    GateConfig as GateConfig,
)
from pepr_gate.config.sections import (
    MlflowExportConfig as MlflowExportConfig,
)
from pepr_gate.config.sections import (
    PerformanceConfig as PerformanceConfig,
)
from pepr_gate.config.sections import (
    PositiveFloat as PositiveFloat,
)
from pepr_gate.config.sections import (
    RunConfig as RunConfig,
)
from pepr_gate.config.sections import (
    ScaleConfig as ScaleConfig,
)
from pepr_gate.config.sections import (
    ScoreConfig as ScoreConfig,
)
from pepr_gate.config.sections import (
    StageConfig as StageConfig,
)
from pepr_gate.config.sections import (
    StoreConfig as StoreConfig,
)
from pepr_gate.config.sections import (
    _Section as _Section,
)
from pepr_gate.errors import ConfigError
from pepr_gate.fileio.readfile import CONFIG_LIMIT, read_text_limited

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

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
