"""Builds the meter session a run asks for.

    auto            process tree + CPU/RAM estimate + NVML GPUs + RAPL (each only if enabled
                    in [meter]; what cannot be read is recorded as unavailable, with why)
    process         process tree + CPU/RAM estimate only
    prometheus      process tree + the job's nodes' GPU (and CPU) energy counters from the
                    cluster's Prometheus ([meter.prometheus]); NVML on this node, when
                    readable, only as a cross-check; no local estimate (it would see only
                    the launcher, not the nodes)
    replay:TRACE    process tree + CPU/RAM estimate + GPUs played from a recorded trace
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import psutil

from pepr_gate.config import Config
from pepr_gate.errors import ConfigError
from pepr_gate.measure.hardware import cpu_model, cpu_topology
from pepr_gate.measure.meter.base import MeterSession, Source
from pepr_gate.measure.meter.estimate import EstimateSource
from pepr_gate.measure.meter.process import ProcessSource

KINDS = ("auto", "process", "prometheus", "replay:TRACE.json")


def build_session(spec: str, *, config: Config, job_env: Mapping[str, str]) -> MeterSession:
    process = ProcessSource()
    sockets, vm = cpu_topology()
    estimate = EstimateSource(
        cpu_model(), os.cpu_count() or 1, psutil.virtual_memory().total, process,
        sockets=sockets, vm=vm,
    )
    sources: list[Source] = [process, estimate]
    if spec == "prometheus":
        return MeterSession([process, _prometheus(config, job_env)], name=spec)
    if spec == "auto":
        if config.meter.gpu:
            from pepr_gate.measure.meter.nvml import NvmlSource

            sources.append(NvmlSource(job_env, cooldown=_cooldown(config)))
        if config.meter.rapl:
            from pepr_gate.measure.meter.rapl import RaplSource

            sources.append(RaplSource())
    elif spec.startswith("replay:"):
        from pepr_gate.measure.meter.replay import ReplaySource

        trace = Path(spec.removeprefix("replay:"))
        if not trace.is_absolute():
            trace = Path(config.root) / trace if not trace.exists() else trace
        sources.append(ReplaySource(trace))
    elif spec != "process":
        raise ConfigError(
            f"unknown meter {spec!r}",
            hint=f"use one of: {', '.join(KINDS)} (--meter or [meter] kind)",
        )
    return MeterSession(sources, name=spec.split(":", 1)[0])


def _prometheus(config: Config, job_env: Mapping[str, str]) -> Source:
    from pepr_gate.measure.meter.prometheus import PrometheusSource
    from pepr_gate.measure.meter.promql import resolve_nodes

    cfg = config.meter.prometheus
    if cfg is None:
        raise ConfigError(
            f"{config.source or 'the config'}: the prometheus meter needs a [meter.prometheus] "
            "table (url and nodes at least)",
            hint='add [meter.prometheus] with url = "http://prometheus:9090" and nodes = '
                 '"env:SLURM_JOB_NODELIST"; docs/prometheus.md shows every key',
        )
    nvml: Source | None = None
    if config.meter.gpu:
        from pepr_gate.measure.meter.nvml import NvmlSource

        nvml = NvmlSource(job_env, cooldown=_cooldown(config))
    return PrometheusSource(cfg, resolve_nodes(cfg.nodes, job_env), nvml=nvml)


def _cooldown(config: Config) -> tuple[float, float] | None:
    c = config.run.cooldown
    return None if c is None else (c.max_temp_c, c.timeout_s)
