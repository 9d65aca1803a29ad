"""The run record: what `pepr-gate run` writes, the store keeps and every reader loads.

Records are plain data (pydantic v2). `RUN_SCHEMA` names the JSON layout; a reader
refuses any other value so that a newer pepr-gate's records are never misread.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

RUN_SCHEMA: Final = "pepr-gate/run/1"
CHECK_SCHEMA: Final = "pepr-gate/check/1"

Method = Literal["measured", "replayed", "estimated", "unavailable"]
EnergyMethod = Literal["measured", "replayed", "mixed", "estimated", "unavailable"]
# What a reading covers: the job's share of a part (estimates), a whole GPU (NVML counts
# every process on it, idle power included), a whole CPU socket (RAPL, the same).
Scope = Literal["job-share", "whole-device", "whole-device-shared", "whole-socket"]
Resource = Literal["energy", "carbon", "time", "gpu_memory", "params"]
VerdictName = Literal["pass", "warn", "fail", "inconclusive", "accepted"]
VariantName = Literal["PePR-E", "PePR-C", "PePR-T", "PePR-M", "PePR-P"]

VARIANTS: dict[str, str] = {
    "energy": "PePR-E",
    "carbon": "PePR-C",
    "time": "PePR-T",
    "gpu_memory": "PePR-M",
    "params": "PePR-P",
}
UNITS: dict[str, str] = {
    "energy": "kWh",
    "carbon": "kg CO2eq",
    "time": "s",
    "gpu_memory": "GB",
    "params": "parameters",
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Component(_Model):
    """One reading: a GPU, a RAPL domain, the CPU or RAM estimate, the process tree."""

    kind: Literal["gpu", "cpu", "dram", "ram", "process"]
    name: str
    method: Method
    detail: str | None = Field(
        default=None,
        description="How it was obtained: counter, power-integration, rapl, tdp-estimate ...",
    )
    energy_kwh: float | None = None
    counts_toward_total: bool = True
    scope: Scope | None = None  # None in records written before scopes were recorded
    coverage: float | None = Field(
        default=None, description="fraction of the run's window the reading covers (0..1)"
    )
    reason: str | None = None
    hint: str | None = None
    notes: list[str] = Field(default_factory=list)
    extra: dict[str, Any] = Field(default_factory=dict)


class Stage(_Model):
    name: str
    argv: list[str]
    shell: bool = False
    exit_code: int | None = None
    signal: int | None = None
    timed_out: bool = False
    duration_s: float = 0.0


class Performance(_Model):
    name: str
    value: float | None = None
    raw_value: float | None = None
    file: str | None = None
    key: str | None = None
    mapping: str | None = Field(
        default=None, description="how a lower-is-better metric became P ([performance] "
        "better = \"lower\", to_p), e.g. \"P = exp(-x), x = val_loss (lower is better)\"")


class Resources(_Model):
    energy_kwh: float | None = None
    energy_method: EnergyMethod = "unavailable"
    energy_measured_kwh: float | None = None
    energy_estimated_kwh: float | None = None
    carbon_kg: float | None = None
    carbon_intensity_g_per_kwh: float | None = None
    carbon_source: str | None = None
    pue: float = 1.0
    duration_s: float = 0.0
    cpu_time_s: float = 0.0
    cpu_user_s: float = 0.0
    cpu_sys_s: float = 0.0
    peak_rss_bytes: int | None = None
    peak_rss_single_bytes: int | None = None
    gpu_peak_memory_bytes: int | None = None
    params: int | None = None


class GpuInfo(_Model):
    index: int | None = None
    name: str
    uuid: str | None = None
    memory_total_bytes: int | None = None
    visible: bool = True
    # "whole-gpu", or the MIG profile(s) the job was given ("1g.10gb"); None: not known
    mig_profile: str | None = None
    power_limit_w: float | None = None  # the enforced power limit at the window's start


class Hardware(_Model):
    cpu_model: str
    cpu_count: int
    ram_bytes: int
    platform: str
    gpus: list[GpuInfo] = Field(default_factory=list)
    driver_version: str | None = None
    cuda_version: str | None = None
    container: bool = False
    fingerprint: str


class GitInfo(_Model):
    sha: str | None = None
    branch: str | None = None
    dirty: bool | None = None


class Normalization(_Model):
    mode: Literal["pool", "scale"]
    scale: float | None = None
    scale_source: str | None = None
    min: float | None = None
    max: float | None = None
    over_scale: bool = False


class Score(_Model):
    variant: str
    resource: Resource
    resource_value: float | None
    R: float | None
    pepr: float | None
    normalization: Normalization | None = None


class Pairing(_Model):
    """A run of a paired A/B session (`pepr-gate ab`): which side of which pair."""

    session: str
    side: Literal["base", "head"]
    index: int = Field(ge=0, description="the pair, 0-based; pairs run in ABBA order")
    base_sha: str | None = None
    head_sha: str | None = None


MAX_LOAD = 1e6  # a load average (and a CPU count) no machine reaches
MAX_WALL_CPU_RATIO = 1e9  # a job that slept 30 years on one second of CPU


class Conditions(_Model):
    """What else the runner was doing during the run's window (`measure.conditions`).

    Every field is optional: a reading this machine cannot give is left out, and records
    written before conditions were recorded have none at all.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)

    # Bounds no real machine reaches, so that a hand-made record cannot carry a number
    # whose arithmetic overflows (a load of 1e308 averaged to "load inf").
    load_start: float | None = Field(default=None, ge=0, le=MAX_LOAD,
                                     description="1-minute load average when the job started")
    load_end: float | None = Field(default=None, ge=0, le=MAX_LOAD,
                                   description="1-minute load average when the job ended")
    other_cpu_share: float | None = Field(
        default=None, ge=0, le=1, description="share of the machine's CPU time that other "
        "processes used during the window (/proc/stat busy time minus the job's)")
    wall_cpu_ratio: float | None = Field(
        default=None, gt=0, le=MAX_WALL_CPU_RATIO, description="the job's wall time / its CPU "
        "time: about 1.0 for a single-threaded job that never waited; 2-3 when it queued "
        "for a CPU")
    gpu_temperature_c: float | None = Field(default=None, ge=-100, le=200,
                                            description="GPU temperature, °C")
    cpu_count: int | None = Field(default=None, ge=1, le=MAX_LOAD,
                                  description="logical CPUs of the machine")

    @property
    def load(self) -> float | None:
        """The load over the window: the mean of its two ends (either, if one is missing)."""
        ends = [x for x in (self.load_start, self.load_end) if x is not None]
        return sum(ends) / len(ends) if ends else None


class RunRecord(_Model):
    schema_: Literal["pepr-gate/run/1"] = Field(default=RUN_SCHEMA, alias="schema")
    id: str
    created_at: datetime
    status: Literal["ok", "failed"]
    failure: str | None = None
    stages: list[Stage]
    performance: Performance
    resources: Resources
    components: list[Component] = Field(default_factory=list)
    hardware: Hardware
    git: GitInfo | None = None
    config_hash: str
    config_keys: dict[str, str] | None = Field(
        default=None,
        description="digest of each setting behind config_hash (dotted key -> short hash), "
        "so a changed hash can name the keys that changed",
    )
    score: Score | None = None
    meter: str = "process"
    telemetry_ok: bool = True
    low_confidence: bool = False
    exclusive: bool | None = None
    repeat_group: str | None = None
    repeat_index: int = 0
    adaptive_looks: int | None = Field(
        default=None, ge=1,
        description="set on the repeats of an adaptive loop (`repeats = \"auto\"`): the "
        "most looks it could take ([run] max_repeats); `check` judges the group as that "
        "loop did, look n at its share of the false-alarm rate")
    notes: list[str] = Field(default_factory=list)
    pepr_gate_version: str | None = None
    paired: Pairing | None = Field(
        default=None, description="set on runs of a paired A/B session (`pepr-gate ab`)")
    conditions: Conditions | None = Field(
        default=None, description="the runner's load during the run (None in older records)")

    @property
    def branch(self) -> str | None:
        return self.git.branch if self.git else None

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, indent=2)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
