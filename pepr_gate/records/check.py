"""The check result: what `pepr-gate check --json` writes and the comment job reads back."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from pepr_gate.records.model import (
    CHECK_SCHEMA,
    VARIANTS,
    Conditions,
    EnergyMethod,
    Hardware,
    Normalization,
    Resource,
    VariantName,
    VerdictName,
    _Model,
)


class _Finite(_Model):
    # A check result may come from an untrusted artifact (the fork comment job): every
    # number in it must be a real number before it is rendered.
    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)


class Side(_Finite):
    """One side of a comparison: the median over its runs."""

    run_ids: list[str]
    pepr: float | None
    pepr_spread: float | None = None
    performance: float | None
    resource_value: float | None
    R: float | None
    over_scale: bool = Field(
        default=False, description="the resource was over the scale, so R is capped at 1")
    energy_kwh: float | None = None
    carbon_kg: float | None = None
    duration_s: float | None = None
    gpu_peak_memory_bytes: int | None = None
    energy_method: EnergyMethod | None = None
    branch: str | None = None
    sha: str | None = None
    conditions: Conditions | None = Field(
        default=None, description="median conditions over the side's runs that recorded them")
    oldest_at: datetime | None = Field(default=None, description="when its oldest run ran")
    newest_at: datetime | None = Field(default=None, description="when its newest run ran")


class CheckResult(_Finite):
    """The verdict of `pepr-gate check`, re-renderable by `pepr-gate report`."""

    schema_: Literal["pepr-gate/check/1"] = Field(default=CHECK_SCHEMA, alias="schema")
    created_at: datetime
    verdict: VerdictName
    reasons: list[str]
    reason_codes: list[str] = Field(
        default_factory=list, description="each reason's code (`decide.rules`), in the order "
        "of `reasons`; empty in check results written before codes were kept")
    variant: VariantName
    resource: Resource
    performance_name: str
    candidate: Side
    baseline: Side | None = None
    pepr_change: float | None = Field(default=None, description="relative change, -0.05 = -5%")
    noise: float | None = Field(default=None, description="noise band on the relative change")
    threshold: float
    normalization: Normalization | None = None
    base_branch: str | None = None
    head_branch: str | None = None
    head_sha: str | None = None
    hardware: Hardware | None = None
    methods: list[str] = Field(default_factory=list)
    trend: list[tuple[str, float]] = Field(default_factory=list)
    strict: bool = False
    config_path: str | None = None
    noise_z: float | None = Field(default=None, description="fail needs a drop > noise_z x noise")
    spread: float | None = Field(default=None, description="per-run relative spread used")
    noise_run_ids: list[str] = Field(default_factory=list)
    repeats_needed: int | None = None
    notes: list[str] = Field(default_factory=list)
    noise_source: Literal["measured", "assumed"] | None = Field(
        default=None, description="spread measured from the runs, or assumed from a prior")
    noise_runs: int | None = Field(
        default=None, description="runs the spread was measured from (or available, if assumed)")
    no_baseline: str | None = Field(
        default=None, description="why no baseline: empty-store, no-base-runs, hardware, "
        "config, ... (None when a baseline was found)")
    changed_config_keys: list[str] = Field(default_factory=list)
    labels: list[str] = Field(default_factory=list, description="the pull request's labels")
    accepted_by: str | None = Field(
        default=None, description="the label that turned a fail into accepted")
    conditions_differ: str | None = Field(
        default=None, description="how the candidate's conditions differ from the baseline "
        "window's beyond the bound (`decide.conditions`); None when they match or are unknown")
    baseline_mode: Literal["history", "paired"] | None = Field(
        default=None, description="how the baseline was measured: stored history or pairs")

    @model_validator(mode="after")
    def _variant_matches_resource(self) -> CheckResult:
        if VARIANTS[self.resource] != self.variant:
            raise ValueError(f"variant {self.variant} does not score resource {self.resource}")
        return self

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, indent=2)
