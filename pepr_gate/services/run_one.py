"""One measured run: the stages under the meter, P from the metrics file, the record.

`services.run.execute` calls `one_run` once per repeat and keeps what it returns.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pepr_gate import __version__
from pepr_gate.config import Config
from pepr_gate.errors import CommandFailed, InputError, MetricsError, PeprError
from pepr_gate.measure.conditions import ConditionsProbe, gpu_start_temperature
from pepr_gate.measure.hardware import describe
from pepr_gate.measure.meter.base import MeterResult, MeterSession, Window
from pepr_gate.measure.meter.estimate import Intensity
from pepr_gate.measure.meter.factory import build_session
from pepr_gate.measure.metrics import mapping_of, read_metrics
from pepr_gate.measure.stages import StageSpec, describe_failure, run_stage
from pepr_gate.publish.live import LiveLine
from pepr_gate.records import GitInfo, Performance, Resources, RunRecord, Score, Stage, utcnow
from pepr_gate.score import resource_value, score_scaled
from pepr_gate.services.stops import report_leftovers, stage_interrupted


def _stop(session: MeterSession) -> float:
    """Close the meter's window now (the last job just exited); returns the time."""
    t = time.monotonic()
    session.stop(t)
    return t


@dataclass
class _Stages:
    """What the stages left: each stage's row, CPU time, peak RSS, notes and the error."""

    done: list[Stage] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    user: float = 0.0
    sys_: float = 0.0
    max_rss: int = 0
    error: PeprError | None = None
    ended: list[float] = field(default_factory=list)  # when the last stage's job exited


def _run_stages(config: Config, stages: list[StageSpec], env: dict[str, str],
                session: MeterSession, live: LiveLine, repeat: str, t0: float) -> _Stages:
    ran = _Stages()
    budget = config.run.timeout_s
    for k, spec in enumerate(stages, 1):
        live.stage(spec.name, k, len(stages), repeat)
        timeout = spec.timeout_s
        limit = f"the stage's timeout_s = {timeout:g} s" if timeout else ""
        if budget is not None:
            left = max(0.001, budget - (time.monotonic() - t0))
            if timeout is None or left < timeout:
                timeout, limit = left, f"[run] timeout_s = {budget:g} s for all stages"
        spec = StageSpec(spec.name, spec.argv, spec.shell, timeout)
        last = k == len(stages)
        try:
            res = run_stage(spec, cwd=config.workdir, env=env, on_start=session.track,
                            on_exit=(lambda: ran.ended.append(_stop(session))) if last else None)
        except CommandFailed as exc:
            ran.done.append(Stage(name=spec.name, argv=spec.argv, shell=spec.shell))
            ran.error = exc
            break
        ran.done.append(res.stage)
        ran.user += res.cpu_user_s
        ran.sys_ += res.cpu_sys_s
        ran.max_rss = max(ran.max_rss, res.max_rss_bytes)
        ran.notes += report_leftovers(spec.name, res.leftovers)
        if res.interrupted:
            ran.error = stage_interrupted(res)
            break
        why = describe_failure(res.stage, limit)
        if why:
            ran.error = CommandFailed(why, hint="see the job's output above; fix it and re-run")
            break
    return ran


def one_run(
    config: Config,
    stages: list[StageSpec],
    env: dict[str, str],
    meter: str | None,
    intensity: Intensity,
    git: GitInfo | None,
    record_trace: Path | None,
    live: LiveLine,
    repeat: str = "",
) -> tuple[RunRecord, MeterResult, PeprError | None]:
    """One measured run of every stage: its record, the meter's result and the error."""
    created = utcnow()
    session = build_session(meter or config.meter.kind, config=config, job_env=env)
    wall_start = time.time()
    metrics_before = _metrics_stat(config)
    session.open()
    t0 = session.t_start  # after the meters' start-up: the window is the job's alone
    probe = ConditionsProbe.start()
    with live.watching(session):
        ran = _run_stages(config, stages, env, session, live, repeat, t0)
    # The window ends when the last stage's job exited, before its leftovers' grace.
    t1 = ran.ended[0] if ran.ended else time.monotonic()
    window = Window(t0, t1, ran.user, ran.sys_, ran.max_rss)
    conditions = probe.finish(window.duration_s, window.cpu_time_s)
    result = session.close(window)
    conditions = conditions.model_copy(
        update={"gpu_temperature_c": gpu_start_temperature(result.components)})
    trace_error = _trace(session, record_trace)

    perf, params, error = _performance(config, ran.error, wall_start, metrics_before)
    resources = _resources(config, result, intensity, window, ran, params)
    notes = list(result.notes) + ran.notes
    if config.performance is None:
        notes.append("no [performance] configured: P was not read, so PePR is not computed")
    record = RunRecord(
        id=f"{created:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}",
        created_at=created,
        status="failed" if error else "ok",
        failure=error.message if error else None,
        stages=ran.done,
        performance=perf,
        resources=resources,
        components=result.components,
        hardware=describe(result.gpus, result.driver_version, result.cuda_version),
        git=git,
        config_hash=config.config_hash(),
        config_keys=config.config_keys(),
        score=_score(config, perf, resources),
        meter=session.name,
        telemetry_ok=result.telemetry_ok,
        low_confidence=result.low_confidence,
        exclusive=result.exclusive,
        notes=notes,
        pepr_gate_version=__version__,
        conditions=conditions,
    )
    return record, result, error or trace_error


def _score(config: Config, perf: Performance, resources: Resources) -> Score:
    resource = config.score.resource
    scale, source = config.scale_for(resource)
    return score_scaled(perf.value, resource_value(resources, resource), resource, scale, source)


def _trace(session: MeterSession, path: Path | None) -> PeprError | None:
    """Write `--record-trace`; a failure is returned: the run itself stands."""
    if path is not None:
        try:
            _write_trace(session.sources, path)
        except PeprError as exc:  # the run itself stands; its record is still kept
            return exc
    return None


def _resources(config: Config, result: MeterResult, intensity: Intensity, window: Window,
               ran: _Stages, params: int | None) -> Resources:
    energy = result.energy_kwh
    carbon = None if energy is None else energy * config.carbon.pue * intensity.g_per_kwh / 1000
    return Resources(
        energy_kwh=energy,
        energy_method=result.energy_method,
        energy_measured_kwh=result.energy_measured_kwh,
        energy_estimated_kwh=result.energy_estimated_kwh,
        carbon_kg=carbon,
        carbon_intensity_g_per_kwh=intensity.g_per_kwh,
        carbon_source=intensity.source,
        pue=config.carbon.pue,
        duration_s=window.duration_s,
        cpu_time_s=window.cpu_time_s,
        cpu_user_s=ran.user,
        cpu_sys_s=ran.sys_,
        peak_rss_bytes=result.peak_rss_bytes,
        peak_rss_single_bytes=result.peak_rss_single_bytes,
        gpu_peak_memory_bytes=result.gpu_peak_memory_bytes,
        params=params,
    )


def _performance(
    config: Config, error: PeprError | None, wall_start: float,
    metrics_before: tuple[int, int, int, int] | None,
) -> tuple[Performance, int | None, PeprError | None]:
    """P from the metrics file once the stages succeeded; (performance, params, error).

    A failed or interrupted run still names its metric: its P is missing, not unconfigured.
    """
    pc = config.performance
    if pc is None:
        return Performance(name="performance"), None, error
    perf = Performance(name=pc.label, file=pc.file, key=pc.key, mapping=mapping_of(pc))
    if error is not None:
        return perf, None, error
    try:
        _check_fresh(config, wall_start, metrics_before)
        value, raw, params = read_metrics(pc, config.workdir)
    except PeprError as exc:
        return perf, None, exc
    return perf.model_copy(update={"value": value, "raw_value": raw}), params, None


def _metrics_stat(config: Config) -> tuple[int, int, int, int] | None:
    """The metrics file's identity and timestamps before the run (None when absent)."""
    if config.performance is None:
        return None
    try:
        st = (config.workdir / config.performance.file).stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _check_fresh(
    config: Config, wall_start: float, before: tuple[int, int, int, int] | None
) -> None:
    """A metrics file left over from an earlier run must not be read as this run's."""
    assert config.performance is not None
    path = config.workdir / config.performance.file
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return  # read_metrics reports the missing file
    # The mtime test alone misses a file written less than a second earlier (the previous
    # repeat); an unchanged inode, size and timestamps mean the job did not write it.
    if mtime < wall_start - 1.0 or (before is not None and before == _metrics_stat(config)):
        raise MetricsError(
            f"metrics file {path} was not updated by this run (last written before the run began)",
            hint="make the job write [performance] file on every run",
        )


def _write_trace(sources: Sequence[object], path: Path) -> None:
    for src in sources:
        trace = getattr(src, "trace", None)
        if callable(trace):
            from pepr_gate.measure.meter.replay import write_trace

            write_trace(path, trace())
            return
    raise InputError(
        f"--record-trace {path}: no GPU source in this meter to record from",
        hint="record traces with --meter auto on a machine with NVIDIA GPUs",
    )
