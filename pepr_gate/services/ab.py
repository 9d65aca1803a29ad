"""Paired A/B: the base commit and the head, run alternately on this runner (ABBA).

`run_ab` checks the base commit out into a temporary `git worktree`, runs the stages
for base and head in ABBA order (A B B A A B ...: a linear drift in the runner's load
cancels over each quad), stores every run labelled `paired`, and decides on the
per-pair changes (`decide.paired`). The worktree is removed afterwards whatever happens:
a failed stage, a store error, Ctrl-C or SIGTERM.

The base side runs with the head's measurement settings (metric, score, carbon, meter,
gate: one config hash for both) and the base commit's own `[run]` section when the base
has the config file (its stages may differ, e.g. a PR that changes the training command).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pepr_gate.config import Config, load_config
from pepr_gate.errors import ConfigError, InputError, PeprError, StoreError
from pepr_gate.records import CheckResult, GitInfo, Pairing, RunRecord
from pepr_gate.services.ab_git import base_worktree, branch_of, repo_top, resolve_commit
from pepr_gate.services.ab_result import AbRequest
from pepr_gate.services.run import Outcome, execute
from pepr_gate.services.stops import sigterm_interrupts
from pepr_gate.store import Store, open_store

DEFAULT_PAIRS = 4  # the fewest whose spread is measured from the pairs alone (3 dof)
SIDES = ("base", "head")
STOPPED = "paired A/B stopped by SIGTERM; the temporary worktree is removed"


@dataclass
class AbOutcome:
    outcome: Outcome = field(default_factory=Outcome)
    base: list[RunRecord] = field(default_factory=list)
    head: list[RunRecord] = field(default_factory=list)
    result: CheckResult | None = None
    base_sha: str = ""
    pairs: int = 0


def pair_count(config: Config, pairs: int | None) -> int:
    n = pairs if pairs is not None else DEFAULT_PAIRS
    if not 1 <= n <= 50:
        raise InputError(f"--pairs {n}: must be from 1 to 50",
                         hint=f"each pair is two runs; {DEFAULT_PAIRS} pairs is the default")
    return n


def abba(pairs: int) -> list[tuple[int, str]]:
    """(pair, side) in run order: base, head, head, base, base, head, ..."""
    order: list[tuple[int, str]] = []
    for i in range(pairs):
        order += [(i, s) for s in (SIDES if i % 2 == 0 else SIDES[::-1])]
    return order


def cost_line(req: AbRequest, pairs: int, base_sha: str) -> str:
    return (f"paired A/B: {pairs} pair(s) = {2 * pairs} runs of the stages "
            f"(base {req.base_ref} at {base_sha[:12]}, then the head), in ABBA order")


def run_ab(config: Config, req: AbRequest, announce: Callable[[str], None] = print) -> AbOutcome:
    """Run the session; raises the first failure (after cleaning up), returns the result."""
    from pepr_gate.services.check import validate_threshold

    validate_threshold(req.threshold)  # before any job runs
    pairs = pair_count(config, req.pairs)
    top = repo_top(Path(config.root))
    base_sha = resolve_commit(top, req.base_ref, announce)
    if req.base_branch is None:
        req = replace(req, base_branch=branch_of(top, req.base_ref))
    announce(cost_line(req, pairs, base_sha))
    done = AbOutcome(base_sha=base_sha, pairs=pairs)
    store = None if req.no_store else open_store(req.store_url or config.store.url,
                                                 root=Path(config.root))
    try:
        with sigterm_interrupts(STOPPED), base_worktree(top, base_sha) as base_top:
            sides = {"base": side_config(config, top, base_top, announce), "head": config}
            session = secrets.token_hex(4)
            runs_dir = Path(config.root) / ".pepr" / "runs"
            for index, side in abba(pairs):
                record = _one(sides[side], req, session, side, index, base_sha, runs_dir,
                              done.outcome)
                if record is None:
                    break
                (done.base if side == "base" else done.head).append(record)
                if store is not None:
                    _store(store, record, done.outcome.record_paths[-1])
    finally:
        if store is not None:
            store.close()
    if done.outcome.error is None:
        from pepr_gate.services.ab_result import paired_result

        done.result = paired_result(config, done.base, done.head, req, _history(config, req,
                                                                                done.base))
    return done


def _one(config: Config, req: AbRequest, session: str, side: str, index: int, base_sha: str,
         runs_dir: Path, total: Outcome) -> RunRecord | None:
    pairing = Pairing(session=session, side="base" if side == "base" else "head", index=index,
                      base_sha=base_sha, head_sha=req.head_sha)
    step = execute(
        config, repeats=1, meter=req.meter, no_store=True,
        out=runs_dir / f"ab-{session}-{side}.json",
        branch=req.base_branch if side == "base" else req.head_branch,
        sha=base_sha if side == "base" else req.head_sha,
        repeat_group=f"{session}-{side}", first_index=index,
        label={"paired": pairing, **_base_git(req, side, base_sha)},
    )
    total.records += step.records
    total.record_paths += step.record_paths
    total.meter_results += step.meter_results
    if step.error is not None:
        total.error = step.error
        return None
    return step.records[-1]


def _base_git(req: AbRequest, side: str, base_sha: str) -> dict[str, GitInfo]:
    """The base runs' commit and branch exactly: its detached worktree has no branch, and
    the CI's branch variables name the head's."""
    if side != "base":
        return {}
    return {"git": GitInfo(sha=base_sha, branch=req.base_branch, dirty=False)}


def _store(store: Store, record: RunRecord, path: Path) -> None:
    try:
        store.append(record)
    except StoreError as exc:
        raise StoreError(f"{exc.message} (the run record is kept in {path})",
                         hint=exc.hint) from None


def _history(config: Config, req: AbRequest, base: list[RunRecord]) -> list[RunRecord]:
    """Older paired sessions' comparable base runs (not this session's), for the spread."""
    if not base or req.base_branch is None:
        return []
    try:
        with open_store(req.store_url or config.store.url, root=Path(config.root),
                        must_exist=True) as store:
            found = store.runs(req.base_branch, status="ok", limit=200,
                               fingerprint=base[0].hardware.fingerprint,
                               config_hash=base[0].config_hash)
    except PeprError:
        return []  # no store yet: the pairs alone give the spread
    session = base[0].paired.session if base[0].paired else None
    return [r for r in found if r.paired and r.paired.session != session][:40]


def side_config(config: Config, top: Path, base_top: Path,
                announce: Callable[[str], None] = print) -> Config:
    """The config for the base side: the head's settings, rooted in the base worktree."""
    try:
        rel = Path(config.root).resolve().relative_to(top.resolve())
    except ValueError:
        raise InputError(f"the config's folder {config.root} is outside the repository {top}",
                         hint="keep pepr.toml inside the repository for paired A/B") from None
    root = base_top / rel
    update: dict[str, Any] = {"root": str(root)}
    name = Path(config.source).name if config.source else None
    if name and (root / name).is_file():
        try:
            update["run"] = load_config(root / name).run
        except ConfigError as exc:
            # An older config the head's pepr-gate cannot read: the head's [run] stands in.
            announce(f"the base commit's {name} cannot be read ({exc.message}); the base "
                     "runs the head's [run] stages instead")
    return config.model_copy(update=update)
