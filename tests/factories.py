"""Realistic run records for tests: `make_record(**overrides)`.

The defaults describe an ok run of a small model on one GPU host, scored as PePR-E on a
fixed energy scale, so a test only names what it is about: `make_record(pepr=0.7)`,
`make_record(branch="feature/x", status="failed")`, `make_record(energy_kwh=0.02)`.
Anything not covered by a shortcut is a RunRecord field passed as-is
(`make_record(hardware=..., notes=[...])`).
"""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from pepr_gate.records import (
    Component,
    GitInfo,
    GpuInfo,
    Hardware,
    Normalization,
    Performance,
    Resources,
    RunRecord,
    Score,
    Stage,
)

BASE_TIME = datetime(2025, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
ENERGY_SCALE_KWH = 0.02
FINGERPRINT = "hw-5f1c0a9e2b7d4c13"
CONFIG_HASH = "cfg-3a9d0c7e41b2f865"

_counter = itertools.count()


def make_record(
    *,
    id: str | None = None,
    created_at: datetime | None = None,
    status: str = "ok",
    branch: str | None = "main",
    sha: str | None = None,
    performance: float | None = 0.91,
    energy_kwh: float | None = 0.0084,
    pepr: float | None = None,
    fingerprint: str = FINGERPRINT,
    config_hash: str = CONFIG_HASH,
    duration_s: float = 42.5,
    **overrides: Any,
) -> RunRecord:
    """A valid RunRecord; each call gets a fresh id and a created_at one minute later.

    `pepr` defaults to the score of `performance` and `energy_kwh` on a 0.02 kWh scale
    (PePR = P / (1 + min(E / 0.02, 1))); pass `pepr=` to pin it instead.
    """
    n = next(_counter)
    created = created_at or BASE_TIME + timedelta(minutes=n)
    run_id = id or f"{created:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    r_value = None if energy_kwh is None else min(energy_kwh / ENERGY_SCALE_KWH, 1.0)
    if pepr is None and performance is not None and r_value is not None and status == "ok":
        pepr = performance / (1.0 + r_value)
    stage_exit = 0 if status == "ok" else 1
    fields: dict[str, Any] = {
        "id": run_id,
        "created_at": created,
        "status": status,
        "failure": None if status == "ok" else "stage 'train' exited with code 1",
        "stages": [
            Stage(name="train", argv=["python", "train.py", "--width", "32"],
                  exit_code=stage_exit, duration_s=round(duration_s * 0.8, 3)),
            Stage(name="eval", argv=["python", "eval.py"], exit_code=0,
                  duration_s=round(duration_s * 0.2, 3)),
        ],
        "performance": Performance(
            name="accuracy", value=performance, raw_value=performance,
            file="metrics.json", key="test.accuracy",
        ),
        "resources": Resources(
            energy_kwh=energy_kwh,
            energy_method="measured" if energy_kwh is not None else "unavailable",
            energy_measured_kwh=energy_kwh,
            carbon_kg=None if energy_kwh is None else energy_kwh * 0.35,
            carbon_intensity_g_per_kwh=350.0,
            carbon_source="config",
            duration_s=duration_s,
            cpu_time_s=duration_s * 1.6,
            cpu_user_s=duration_s * 1.5,
            cpu_sys_s=duration_s * 0.1,
            peak_rss_bytes=2_400_000_000,
            peak_rss_single_bytes=1_900_000_000,
            gpu_peak_memory_bytes=5_368_709_120,
        ),
        "components": [
            Component(kind="gpu", name="NVIDIA A100-SXM4-40GB", method="measured",
                      detail="counter", energy_kwh=energy_kwh),
            Component(kind="process", name="process tree", method="measured"),
        ],
        "hardware": Hardware(
            cpu_model="AMD EPYC 7742 64-Core Processor", cpu_count=16,
            ram_bytes=128 * 1024**3, platform="Linux-6.1.0-x86_64",
            gpus=[GpuInfo(index=0, name="NVIDIA A100-SXM4-40GB",
                          uuid="GPU-6b1f3c2e-0000-4a5b-9c8d-1234567890ab",
                          memory_total_bytes=40 * 1024**3)],
            driver_version="535.129.03", cuda_version="12.2", fingerprint=fingerprint,
        ),
        "git": None if branch is None and sha is None else GitInfo(
            sha=sha or uuid.uuid5(uuid.NAMESPACE_OID, run_id).hex + "deadbeef",
            branch=branch, dirty=False,
        ),
        "config_hash": config_hash,
        "score": Score(
            variant="PePR-E", resource="energy", resource_value=energy_kwh, R=r_value,
            pepr=pepr,
            normalization=Normalization(mode="scale", scale=ENERGY_SCALE_KWH,
                                        scale_source="config",
                                        over_scale=bool(energy_kwh and
                                                        energy_kwh > ENERGY_SCALE_KWH)),
        ),
        "meter": "auto",
        "telemetry_ok": energy_kwh is not None,
        "pepr_gate_version": "0.1.0",
    }
    fields.update(overrides)
    return RunRecord.model_validate(fields)
