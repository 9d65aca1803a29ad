"""The run record and the check result: what pepr-gate writes, stores and reads back.

Records are plain data (pydantic v2). `RUN_SCHEMA` names the JSON layout; a reader
refuses any other value so that a newer pepr-gate's records are never misread.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pepr_gate.errors import InputError
from pepr_gate.readfile import read_text_limited

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


_M = TypeVar("_M", bound=BaseModel)


def _parse(data: Any, source: str, model: type[_M], schema: str, what: str, hint: str) -> _M:
    if not isinstance(data, dict):
        raise InputError(f"{source}: not a pepr-gate {what} (expected a JSON object)", hint=hint)
    found = data.get("schema")
    if found != schema:
        raise InputError(
            f"{source}: not a pepr-gate {what} this version reads: unknown record schema "
            f"{found!r} (expected {schema!r})",
            hint=hint,
        )
    try:
        # Strict: `true` or "12" where a number belongs is an error, never coerced.
        parsed = model.model_validate_json(json.dumps(data), strict=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        from pepr_gate.record_ranges import printable

        where = printable(".".join(str(p) for p in first["loc"]))
        raise InputError(
            f"{source}: invalid {what} at field '{where}': {first['msg']}", hint=hint
        ) from None
    if isinstance(parsed, (RunRecord, CheckResult)):
        from pepr_gate.record_consistency import check_problem
        from pepr_gate.record_ranges import range_problem

        problem = (range_problem(parsed) if isinstance(parsed, RunRecord)
                   else check_problem(parsed))
        if problem is not None:
            raise InputError(
                f"{source}: invalid {what} at field '{problem[0]}': {problem[1]}", hint=hint
            )
    return parsed


def _load(path: str | Path, model: type[_M], schema: str, what: str, hint: str) -> _M:
    p = Path(path)
    try:
        text = read_text_limited(p)
    except FileNotFoundError:
        raise InputError(f"{p}: {what} not found", hint="check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: cannot read {what}: {exc}", hint=hint) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{p}: not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})", hint=hint
        ) from None
    except RecursionError:
        raise InputError(f"{p}: JSON nested too deeply to read", hint=hint) from None
    return _parse(data, str(p), model, schema, what, hint)


_RUN_HINT = "pass a run record written by `pepr-gate run --out` (or re-create it with this version)"
_CHECK_HINT = "pass a file written by `pepr-gate check --json` (in CI: .pepr/ci/check.json)"


def parse_run_record(data: Any, source: str) -> RunRecord:
    """Validate a decoded run record; `source` names it in the error."""
    return _parse(data, source, RunRecord, RUN_SCHEMA, "run record", _RUN_HINT)


def load_run_record(path: str | Path) -> RunRecord:
    return _load(path, RunRecord, RUN_SCHEMA, "run record", _RUN_HINT)


def load_check_result(path: str | Path) -> CheckResult:
    return _load(path, CheckResult, CHECK_SCHEMA, "check result", _CHECK_HINT)


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
