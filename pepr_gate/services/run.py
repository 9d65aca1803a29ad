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
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pepr_gate.config import Config
from pepr_gate.errors import (
    ConfigError,
    InputError,
    Interrupted,
    PeprError,
    StoreError,
    signal_of,
)
from pepr_gate.fileio.atomic import write_atomic
from pepr_gate.measure.gitinfo import git_info
from pepr_gate.measure.jobenv import job_environment
from pepr_gate.measure.meter.base import MeterResult
from pepr_gate.measure.meter.estimate import Intensity, carbon_intensity
from pepr_gate.measure.stages import StageSpec
from pepr_gate.publish.live import open_live
from pepr_gate.records import RunRecord
from pepr_gate.records.ranges import require_branch
from pepr_gate.services.preflight import runs_dir_for, withheld_note, writable_store
from pepr_gate.services.run_one import one_run
from pepr_gate.services.stops import kept_after_interrupt
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
    n, group = _repeats(config, repeats, repeat_group)
    outcome = Outcome()
    unstored: list[Path] = []  # record files written but not (yet) in the store
    try:
        for i in range(first_index, first_index + n):
            repeat = _repeat_label(i, n)
            record, result, error = one_run(
                config, stages, env, meter, intensity, git, record_trace, live, repeat
            )
            record = record.model_copy(
                update={"repeat_group": group, "repeat_index": i, **(label or {})})
            record.notes.extend(_notes(withheld, note))
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


def _repeats(config: Config, repeats: int | None, group: str | None) -> tuple[int, str | None]:
    """How many runs this call makes, and the repeat group they belong to."""
    configured = config.run.repeats if isinstance(config.run.repeats, int) else 1
    n = repeats or configured
    return n, group or (secrets.token_hex(4) if n > 1 else None)


def _notes(withheld: list[str], note: str | None) -> list[str]:
    return ([withheld_note(withheld)] if withheld else []) + ([note] if note else [])


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
