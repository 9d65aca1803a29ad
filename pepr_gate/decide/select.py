"""Which runs are compared: the candidate's repeat group and the base branch's window. Pure.

`services/check.py` loads records (files, a store) and hands lists of `RunRecord` here;
nothing in this module reads a file or a store, so every choice is testable on lists.

- The candidate is its own repeat group: the runs sharing the newest candidate's
  `repeat_group`, never every run on the branch.
- The baseline window is the NEWEST `window` ok runs of the base branch with the
  candidate's hardware fingerprint and config hash; the noise history is the newest
  `history` of them (the window included). The candidate's own runs never count.
- When nothing matches, `diagnose` says why, as a typed `NoBaseline` with the one step
  that fixes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from pepr_gate.decide.hardware_diff import hardware_changes
from pepr_gate.records import RunRecord

NoBaselineKind = Literal["no-store", "empty-store", "no-base-runs", "only-own-runs", "no-ok-runs",
                         "hardware", "config", "hardware-and-config", "no-match"]


@dataclass(frozen=True)
class Selection:
    candidates: list[RunRecord]
    window: list[RunRecord]  # newest first
    history: list[RunRecord]  # newest first; the window's runs included


@dataclass(frozen=True)
class NoBaseline:
    """Why no base run could be compared, and the one step that fixes it."""

    kind: NoBaselineKind
    detail: str
    fix: str
    changed_keys: list[str] = field(default_factory=list)

    def sentence(self) -> str:
        return f"No baseline: {self.detail}. To fix: {self.fix}."


def newest_first(runs: Iterable[RunRecord]) -> list[RunRecord]:
    return sorted(runs, key=lambda r: r.created_at, reverse=True)


def repeat_group(primary: RunRecord, branch_runs: Sequence[RunRecord]) -> list[RunRecord]:
    """The runs of `primary`'s repeat group (itself included), in repeat order."""
    if primary.repeat_group is None:
        return [primary]
    found = {r.id: r for r in branch_runs
             if r.repeat_group == primary.repeat_group and r.branch == primary.branch}
    found[primary.id] = primary
    return sorted(found.values(), key=lambda r: (r.repeat_index, r.created_at))


def unique(runs: Sequence[RunRecord], what: str) -> tuple[list[RunRecord], str | None]:
    """`runs` with each run id once (the first kept), and a note when any were dropped:
    the same file given twice is one run, never two repeats."""
    seen: dict[str, RunRecord] = {}
    for run in runs:
        seen.setdefault(run.id, run)
    dropped = len(runs) - len(seen)
    if not dropped:
        return list(runs), None
    return list(seen.values()), (f"{dropped} duplicate {what} record(s) dropped: the same run "
                                 "id was given more than once and counts as one run")


def newest(runs: Sequence[RunRecord]) -> RunRecord:
    return max(runs, key=lambda r: r.created_at)


def matches(primary: RunRecord, run: RunRecord, base_branch: str | None) -> bool:
    """An ok run on the base branch with the candidate's hardware and config hash."""
    return (run.status == "ok"
            and (base_branch is None or run.branch == base_branch)
            and run.hardware.fingerprint == primary.hardware.fingerprint
            and run.config_hash == primary.config_hash)


def baseline(primary: RunRecord, base_runs: Sequence[RunRecord], *, base_branch: str | None,
             window: int, history: int, own: Iterable[str] = ()) -> tuple[list[RunRecord],
                                                                        list[RunRecord]]:
    """(window, history): the newest comparable base runs, newest first.

    `base_branch=None` keeps runs of any branch (baseline files given by the user).
    """
    skip = set(own) | {primary.id}
    same = newest_first(r for r in base_runs
                        if r.id not in skip and matches(primary, r, base_branch))
    return same[:window], same[:max(window, history)]


def select(candidates: Sequence[RunRecord], branch_runs: Sequence[RunRecord],
           base_runs: Sequence[RunRecord], *, base_branch: str | None, window: int,
           history: int) -> Selection:
    """The whole choice: candidate group (from `branch_runs` when one run is given), then
    the baseline window and noise history from `base_runs`."""
    group = list(candidates)
    if len(group) == 1:
        group = repeat_group(group[0], branch_runs)
    primary = newest(group)
    win, hist = baseline(primary, base_runs, base_branch=base_branch, window=window,
                         history=history, own=(c.id for c in group))
    return Selection(candidates=group, window=win, history=hist)


def changed_keys(ours: Mapping[str, str] | None, theirs: Mapping[str, str] | None) -> list[str]:
    """Config keys whose value digest differs (keys set on one side only included)."""
    if ours is None or theirs is None:
        return []
    return sorted(k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k))


def hardware_label(record: RunRecord) -> str:
    hw = record.hardware
    gpus = [g.name for g in hw.gpus if g.visible]
    gpu = f"{len(gpus)} x {gpus[0]}" if gpus else "no GPU"
    return f"{gpu}, {hw.cpu_model} ({hw.cpu_count} CPUs)"


def _mismatch(primary: RunRecord, ok: Sequence[RunRecord], where: str) -> NoBaseline:
    newest_ok = newest(ok)
    hw = any(r.hardware.fingerprint == primary.hardware.fingerprint for r in ok)
    cfg = any(r.config_hash == primary.config_hash for r in ok)
    parts: list[str] = []
    keys: list[str] = []
    if not hw:
        changed = hardware_changes(primary.hardware, newest_ok.hardware)
        parts.append(
            f"hardware differs (fingerprint {primary.hardware.fingerprint}: "
            f"{hardware_label(primary)}; the newest base run has "
            f"{newest_ok.hardware.fingerprint}: {hardware_label(newest_ok)}"
            + (f"; changed: {'; '.join(changed)}" if changed else "") + ")")
    if not cfg:
        keys = changed_keys(primary.config_keys, newest_ok.config_keys)
        which = (f"changed keys: {', '.join(keys)}" if keys else
                 "the metric, score, carbon or meter settings changed")
        parts.append(f"config hash differs ({primary.config_hash} vs {newest_ok.config_hash} "
                     f"on the newest base run: {which})")
    kind: NoBaselineKind = ("hardware-and-config" if not hw and not cfg else
                            "hardware" if not hw else "config" if not cfg else "no-match")
    fix = {
        "hardware": "run the base branch once on this runner (same hardware), or pin the job "
                    "to the runner the base branch was measured on",
        "config": "run `pepr-gate run` (or the workflow) on the base branch with this config, "
                  "or revert the changed keys",
        "hardware-and-config": "run `pepr-gate run` on the base branch on this runner with "
                               "this config",
        "no-match": "run `pepr-gate run` on the base branch on this runner with this config",
    }[kind]
    if not parts:
        parts.append("no run matches both the hardware fingerprint and the config hash")
    return NoBaseline(kind, f"{where} has {len(ok)} ok run(s), but " + " and ".join(parts),
                      fix, keys)


def diagnose(primary: RunRecord, base_runs: Sequence[RunRecord], *, base_branch: str,
             store_empty: bool = False, own: Iterable[str] = ()) -> NoBaseline:
    """Why `base_runs` (recent runs of the base branch, any status) gave no baseline."""
    where = f"the base branch {base_branch}"
    run_it = f"run `pepr-gate run` (or the workflow) on {base_branch} to store a baseline"
    if store_empty:
        return NoBaseline("empty-store", "the history store holds no run yet", run_it)
    skip = set(own) | {primary.id}
    others = [r for r in base_runs if r.id not in skip]
    if not base_runs:
        return NoBaseline("no-base-runs", f"{where} has no run in the history store", run_it)
    if not others:
        return NoBaseline("only-own-runs", f"the only runs on {base_branch} are the "
                          "candidate's own; a run cannot be its own baseline", run_it)
    ok = [r for r in others if r.status == "ok"]
    if not ok:
        return NoBaseline("no-ok-runs", f"{where} has {len(others)} run(s), none of them ok",
                          f"fix the failing run on {base_branch} and run it again")
    return _mismatch(primary, ok, where)


def diagnose_given(primary: RunRecord, given: Sequence[RunRecord]) -> NoBaseline:
    """Why none of the baseline files given on the command line is comparable."""
    ok = [r for r in given if r.status == "ok"]
    if not ok:
        return NoBaseline("no-ok-runs", "none of the given baseline runs is ok",
                          "pass baseline records of successful runs")
    return _mismatch(primary, ok, "the given baseline")
