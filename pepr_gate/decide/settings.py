"""What a decision is told besides the runs: the gate's settings (from the config) and the
context of the comparison (when, which branches, the pull request's labels). Their own
module so that `gate` and the `rules` it runs both use them without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pepr_gate.config import Config
from pepr_gate.decide.select import NoBaseline
from pepr_gate.records import Resource


@dataclass(frozen=True)
class Settings:
    resource: Resource
    max_pepr_drop: float
    max_performance_drop: float | None
    budgets: dict[str, float]
    scale: float | None
    scale_source: str | None
    window: int
    performance_name: str
    strict: bool
    accept_label: str = "pepr-gate: accept"
    looks: int = 1  # adaptive repeats: the most candidate looks (Bonferroni divisor)

    @classmethod
    def from_config(
        cls, config: Config, *, threshold: float | None = None, strict: bool | None = None,
        looks: int = 1,
    ) -> Settings:
        scale, source = config.scale_for(config.score.resource)
        b = config.gate.budgets
        budgets = {k: v for k, v in b.model_dump().items() if v is not None}
        return cls(
            resource=config.score.resource,
            max_pepr_drop=config.gate.max_pepr_drop if threshold is None else threshold,
            max_performance_drop=config.gate.max_performance_drop,
            budgets=budgets,
            scale=scale,
            scale_source=source,
            window=config.gate.window,
            performance_name=config.performance.label if config.performance else "",
            strict=config.gate.strict if strict is None else strict,
            accept_label=config.gate.accept_label,
            looks=looks,
        )


@dataclass(frozen=True)
class Context:
    created_at: datetime
    base_branch: str | None = None
    head_branch: str | None = None
    config_path: str | None = None
    no_baseline: NoBaseline | None = None  # why the store gave no baseline, if it gave none
    notes: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)  # the pull request's labels
