"""One measured run (or N repeats): stages under the meter, metrics, score, record, store.

Everything that can be checked before the job starts is checked first (stages, workdir,
store, the `.pepr/runs` folder, carbon settings), so a long training job is never run
only to fail at the end on a typo. Failed runs are written and stored with
`status: failed`; an interrupted run (Ctrl-C, or SIGTERM from a cancelled CI job) keeps
its record file, marked failed, and is not stored: the error says how to import it.
"""

from __future__ import annotations

import os
import secrets
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pepr_gate import __version__
from pepr_gate.atomic import write_atomic
from pepr_gate.config import Config
from pepr_gate.errors import (
    CommandFailed,
    ConfigError,
    InputError,
    Interrupted,
    MetricsError,
    PeprError,
    StoreError,
    signal_of,
)
from pepr_gate.measure.conditions import ConditionsProbe, gpu_start_temperature
from pepr_gate.measure.gitinfo import git_info
from pepr_gate.measure.hardware import describe
from pepr_gate.measure.jobenv import job_environment
from pepr_gate.measure.meter.base import MeterResult, MeterSession, Window
from pepr_gate.measure.meter.estimate import Intensity, carbon_intensity
from pepr_gate.measure.meter.factory import build_session
from pepr_gate.measure.metrics import mapping_of, read_metrics
from pepr_gate.measure.stages import StageSpec, describe_failure, run_stage
from pepr_gate.publish.live import LiveLine, open_live
from pepr_gate.record_ranges import require_branch
from pepr_gate.records import GitInfo, Performance, Resources, RunRecord, Stage, utcnow
from pepr_gate.score import resource_value, score_scaled
from pepr_gate.services.preflight import runs_dir_for, withheld_note, writable_store
from pepr_gate.services.stops import kept_after_interrupt, report_leftovers, stage_interrupted
from pepr_gate.store import Store


@dataclass
class Outcome:
    records: list[RunRecord] = field(default_factory=list)
    record_paths: list[Path] = field(default_factory=list)
    error: PeprError | None = None
    meter_results: list[MeterResult] = field(default_factory=list)
    # With `unstored_ok`: why the runs could not be stored (each is kept as a file).
    unstored: StoreError | None = None


def _stages(config: Config, argv: list[str] | None) -> list[StageSpec]:
    if argv:
        return [StageSpec(name="cmd", argv=list(argv))]
    if not config.run.stages:
        where = config.source or "the config"
        raise ConfigError(
            f"{where}: field 'run.stages' is empty: there is nothing to run",
            hint="add a [[run.stages]] table with name and cmd, or give the command after `--`",
        )
    return [StageSpec(s.name, s.argv, s.shell, s.timeout_s) for s in config.run.stages]


def execute(
    config: Config,
    *,
    argv: list[str] | None = None,
    repeats: int | None = None,
    meter: str | None = None,
    store_url: str | None = None,
    no_store: bool = False,
    out: Path | None = None,
    branch: str | None = None,
    sha: str | None = None,
    record_trace: Path | None = None,
    quiet: bool = False,
    repeat_group: str | None = None,
    first_index: int = 0,
    label: Mapping[str, Any] | None = None,
    note: str | None = None,
    unstored_ok: bool = False,
) -> Outcome:
    """Run `repeats` times (an int; "auto" is `services.adaptive`'s loop).

    `repeat_group`/`first_index` continue a repeat group that earlier calls started;
    `label` sets more record fields (`paired` for `pepr-gate ab`); `note` is added to each
    record's notes (`ci`: the merge commit that was measured). `unstored_ok`: a store
    that refuses the runs (a token that cannot push) is no error; `Outcome.unstored` says
    why, and `ci` still gives the verdict from the history it could read.
    """
    stages = _stages(config, argv)
    intensity = _check_inputs(config, meter, record_trace)
    env, withheld = job_environment(os.environ, config.run.env)
    live = open_live(quiet=quiet, interval_s=config.run.progress_interval_s,
                     budgets=config.gate.budgets, g_per_kwh=intensity.g_per_kwh,
                     pue=config.carbon.pue, env=os.environ)
    runs_dir = runs_dir_for(config, out)
    store = None if no_store else writable_store(store_url or config.store.url, config)
    git = git_info(Path(config.root), branch=branch, sha=sha)
    require_branch(git.branch if git else None, "the run's branch")
    configured = config.run.repeats if isinstance(config.run.repeats, int) else 1
    n = repeats or configured
    group = repeat_group or (secrets.token_hex(4) if n > 1 else None)
    outcome = Outcome()
    unstored: list[Path] = []  # record files written but not (yet) in the store
    try:
        for i in range(first_index, first_index + n):
            repeat = _repeat_label(i, n)
            record, result, error = _one_run(
                config, stages, env, meter, intensity, git, record_trace, live, repeat
            )
            record = record.model_copy(
                update={"repeat_group": group, "repeat_index": i, **(label or {})})
            record.notes.extend([withheld_note(withheld)] if withheld else [])
            record.notes.extend([note] if note else [])
            path = _record_path(runs_dir, out, record, i)
            if _keep(outcome, unstored, store, record, result, error, path, unstored_ok):
                break
    except KeyboardInterrupt as exc:  # SIGINT or SIGTERM between stages or while storing
        stop = Interrupted(f"interrupted by {signal.Signals(signal_of(exc)).name}",
                           signum=signal_of(exc))
        raise kept_after_interrupt(stop, unstored, store) from None
    finally:
        if store is not None:
            store.close()
    return outcome


def _stop(session: MeterSession) -> float:
    """Close the meter's window now (the last job just exited); returns the time."""
    t = time.monotonic()
    session.stop(t)
    return t


def _check_inputs(config: Config, meter: str | None, record_trace: Path | None) -> Intensity:
    """What can be refused before any job starts; returns the carbon intensity to use."""
    workdir = config.workdir
    if not workdir.is_dir():
        raise ConfigError(
            f"{config.source or 'config'}: field 'run.workdir': {workdir} is not a folder",
            hint="set [run] workdir relative to the config file's folder",
        )
    spec = meter or config.meter.kind
    if record_trace is not None and spec != "auto":
        raise InputError(
            f"--record-trace needs the real meter (auto), not {spec!r}",
            hint="drop --meter, or record on a GPU machine with --meter auto",
        )
    try:
        return carbon_intensity(config.carbon.country, config.carbon.intensity_g_per_kwh)
    except ConfigError as exc:
        if config.source is None:
            raise
        raise ConfigError(f"{config.source}: {exc.message}", hint=exc.hint) from None


def _repeat_label(i: int, n: int) -> str:
    """`, repeat 2/3` for the live line; an adaptive loop (n = 1 per call) has no total."""
    if n > 1:
        return f", repeat {i + 1}/{n}"
    return f", repeat {i + 1}" if i else ""


def _keep(outcome: Outcome, unstored: list[Path], store: Store | None, record: RunRecord,
          result: MeterResult, error: PeprError | None, path: Path,
          unstored_ok: bool = False) -> bool:
    """Write the run's record file and store the run; True when no repeat may follow."""
    try:
        write_atomic(path, record.to_json())
    except StoreError as exc:
        # The disk is full (or the folder went away): the run is still stored.
        if store is not None:
            _append(store, record, None)
        stored = f"; the run is stored in {store.url}" if store is not None else ""
        outcome.error = StoreError(f"{exc.message}{stored}", hint=exc.hint)
        return True
    outcome.records.append(record)
    outcome.record_paths.append(path)
    outcome.meter_results.append(result)
    if isinstance(error, Interrupted):  # kept as a file, never stored as a run
        unstored.append(path)
        outcome.error = kept_after_interrupt(error, unstored, store)
        return True
    if store is not None and outcome.unstored is None:
        unstored.append(path)
        try:
            _append(store, record, path)
        except StoreError as exc:
            if not unstored_ok:
                raise
            outcome.unstored = exc  # later repeats are kept as files without trying again
        else:
            unstored.remove(path)
    outcome.error = error
    return error is not None


def _append(store: Store, record: RunRecord, path: Path | None) -> None:
    try:
        store.append(record)
    except StoreError as exc:
        if path is None:
            raise StoreError(f"{exc.message} (and the run record file could not be written)",
                             hint=exc.hint) from None
        raise StoreError(
            f"{exc.message} (the run record is kept in {path})",
            hint=exc.hint or f"store it later with the record file {path}",
        ) from None


def _record_path(runs_dir: Path, out: Path | None, record: RunRecord, i: int) -> Path:
    if out is None:
        return runs_dir / f"{record.id}.json"
    return out if i == 0 else out.with_name(f"{out.stem}-r{i + 1}{out.suffix}")


def _one_run(
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
    created = utcnow()
    session = build_session(meter or config.meter.kind, config=config, job_env=env)
    wall_start = time.time()
    metrics_before = _metrics_stat(config)
    done: list[Stage] = []
    stage_notes: list[str] = []
    user = sys_ = 0.0
    max_rss = 0
    error: PeprError | None = None
    budget = config.run.timeout_s
    ended: list[float] = []  # when the last stage's job exited
    session.open()
    t0 = session.t_start  # after the meters' start-up: the window is the job's alone
    probe = ConditionsProbe.start()
    with live.watching(session):
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
                                on_exit=(lambda: ended.append(_stop(session))) if last else None)
            except CommandFailed as exc:
                done.append(Stage(name=spec.name, argv=spec.argv, shell=spec.shell))
                error = exc
                break
            done.append(res.stage)
            user += res.cpu_user_s
            sys_ += res.cpu_sys_s
            max_rss = max(max_rss, res.max_rss_bytes)
            stage_notes += report_leftovers(spec.name, res.leftovers)
            if res.interrupted:
                error = stage_interrupted(res)
                break
            why = describe_failure(res.stage, limit)
            if why:
                error = CommandFailed(why, hint="see the job's output above; fix it and re-run")
                break
    # The window ends when the last stage's job exited, before its leftovers' grace.
    t1 = ended[0] if ended else time.monotonic()
    window = Window(t0, t1, user, sys_, max_rss)
    conditions = probe.finish(window.duration_s, window.cpu_time_s)
    result = session.close(window)
    conditions = conditions.model_copy(
        update={"gpu_temperature_c": gpu_start_temperature(result.components)})
    trace_error: PeprError | None = None
    if record_trace is not None:
        try:
            _write_trace(session.sources, record_trace)
        except PeprError as exc:  # the run itself stands; its record is still kept
            trace_error = exc

    perf, params, error = _performance(config, error, wall_start, metrics_before)

    energy = result.energy_kwh
    carbon = None if energy is None else energy * config.carbon.pue * intensity.g_per_kwh / 1000
    resources = Resources(
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
        cpu_user_s=user,
        cpu_sys_s=sys_,
        peak_rss_bytes=result.peak_rss_bytes,
        peak_rss_single_bytes=result.peak_rss_single_bytes,
        gpu_peak_memory_bytes=result.gpu_peak_memory_bytes,
        params=params,
    )
    resource = config.score.resource
    scale, source = config.scale_for(resource)
    score = score_scaled(perf.value, resource_value(resources, resource), resource, scale, source)
    notes = list(result.notes) + stage_notes
    if config.performance is None:
        notes.append("no [performance] configured: P was not read, so PePR is not computed")
    record = RunRecord(
        id=f"{created:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}",
        created_at=created,
        status="failed" if error else "ok",
        failure=error.message if error else None,
        stages=done,
        performance=perf,
        resources=resources,
        components=result.components,
        hardware=describe(result.gpus, result.driver_version, result.cuda_version),
        git=git,
        config_hash=config.config_hash(),
        config_keys=config.config_keys(),
        score=score,
        meter=session.name,
        telemetry_ok=result.telemetry_ok,
        low_confidence=result.low_confidence,
        exclusive=result.exclusive,
        notes=notes,
        pepr_gate_version=__version__,
        conditions=conditions,
    )
    return record, result, error or trace_error


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
