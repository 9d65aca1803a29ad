"""`run_check`: load the candidate and the baseline, let the gate decide, return the result.

This is the service behind `pepr-gate check` and `pepr-gate ci`: it reads (files, the
history store, git) but never writes. Which runs are compared is `decide.select`'s
choice and the verdict is `decide.gate.evaluate`'s; nothing here decides.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from pepr_gate.config import Config
from pepr_gate.decide import gate, select
from pepr_gate.errors import InputError
from pepr_gate.measure.gitinfo import head_branch
from pepr_gate.records import CheckResult, RunRecord, utcnow
from pepr_gate.store import Store

GROUP_SCAN = 500  # newest runs of the head branch searched for a candidate's repeat group
MISMATCH_SCAN = 200  # newest base-branch runs inspected to say why none matched


def validate_threshold(threshold: float | None) -> None:
    if threshold is not None and (not math.isfinite(threshold) or not 0 <= threshold < 1):
        raise InputError(
            f"--threshold {threshold!r}: must be a fraction in [0, 1), e.g. 0.05 for 5%",
            hint="pass the largest allowed relative PePR drop, or set [gate] max_pepr_drop",
        )


def _is_git(url: str | None) -> bool:
    return (url or "").strip().lower().startswith("git:")


def base_branch_for(config: Config, baseline_branch: str | None) -> str:
    return (baseline_branch or config.gate.base_branch
            or os.environ.get("GITHUB_BASE_REF") or "main")


def current_branch(root: Path) -> str | None:
    """The branch being checked: the PR head on GitHub, else git's current branch."""
    for var in ("GITHUB_HEAD_REF", "GITHUB_REF_NAME"):
        if os.environ.get(var):
            return os.environ[var]
    return head_branch(root)


def _latest(store: Store, branch: str) -> RunRecord:
    latest = store.latest(branch)
    if latest is None:
        raise InputError(
            f"no run of branch {branch!r} in the store {store.url}",
            hint="run `pepr-gate run` on this branch first, or pass --candidate FILE.json",
        )
    return latest


def _load(store: Store, config: Config, candidates: list[RunRecord] | None,
          head: str | None, base_branch: str,
          window: int) -> tuple[select.Selection, select.NoBaseline | None]:
    """Read what the decision needs from the store; `select` makes every choice."""
    if not candidates:
        head = head or current_branch(Path(config.root))
        if head is None:
            raise InputError(
                "cannot tell the current branch (detached HEAD or not a git repository)",
                hint="pass --candidate FILE.json, or run inside the branch's checkout",
            )
        candidates = [_latest(store, head)]
    branch_runs: list[RunRecord] = []
    if len(candidates) == 1 and candidates[0].repeat_group is not None:
        branch_runs = store.runs(candidates[0].branch, limit=GROUP_SCAN)
    group = select.repeat_group(candidates[0], branch_runs) if len(candidates) == 1 \
        else list(candidates)
    primary = select.newest(group)
    history = max(window, gate.NOISE_HISTORY)
    found = store.runs(base_branch, status="ok", fingerprint=primary.hardware.fingerprint,
                       config_hash=primary.config_hash, limit=history + len(group))
    chosen = select.select(group, [], found, base_branch=base_branch, window=window,
                           history=history)
    if chosen.window:
        return chosen, None
    recent = store.runs(base_branch, limit=MISMATCH_SCAN)
    empty = not recent and store.latest() is None
    why = select.diagnose(primary, recent, base_branch=base_branch, store_empty=empty,
                          own=(c.id for c in group))
    return chosen, why


def run_check(
    config: Config,
    *,
    candidates: list[RunRecord] | None = None,
    candidate_latest: bool = False,
    baselines: list[RunRecord] | None = None,
    baseline_branch: str | None = None,
    head_branch: str | None = None,
    store_url: str | None = None,
    threshold: float | None = None,
    strict: bool | None = None,
    labels: list[str] | None = None,
    max_looks: int = 1,
    store_must_exist: bool = True,
) -> CheckResult:
    """Compare the candidate with the baseline; raises PeprError (exit 2) on bad input.

    `candidates`: one run (its stored repeat group joins it) or a whole repeat group.
    `labels`: the pull request's labels (`[gate] accept_label` turns a fail into accepted).
    `max_looks`: with adaptive repeats, how many times the loop may call this (each call
    then tests at a share of the false-alarm rate; see `decide.sequential`).
    `store_must_exist=False` (`ci`, whose first stored run creates the data branch): a
    git store's missing branch is an empty history, not a typo.
    """
    validate_threshold(threshold)
    settings = gate.Settings.from_config(config, threshold=threshold, strict=strict,
                                         looks=max_looks)
    base_branch = base_branch_for(config, baseline_branch)
    notes: list[str] = []
    if candidates:
        candidates, note = select.unique(candidates, "candidate")
        notes += [note] if note else []
    if baselines:
        baselines, note = select.unique(baselines, "baseline")
        notes += [note] if note else []
    given = None if candidate_latest else candidates
    why = None
    if baselines and given:
        own = {c.id for c in given}
        window, history = [b for b in baselines if b.id not in own], list[RunRecord]()
        group = list(given)
    else:
        from pepr_gate.store import open_store

        # A reader: a mistyped store path is an error, never a new empty store.
        url = store_url or config.store.url
        with open_store(url, root=Path(config.root),
                        must_exist=store_must_exist or not _is_git(url)) as store:
            chosen, why = _load(store, config, given, head_branch, base_branch,
                                settings.window)
        group = chosen.candidates
        own = {c.id for c in group}
        if baselines:
            window, history = [b for b in baselines if b.id not in own], []
        else:
            window, history = chosen.window, chosen.history
    ctx = gate.Context(
        created_at=utcnow(),
        base_branch=base_branch,
        head_branch=head_branch or select.newest(group).branch,
        config_path=config.source,
        no_baseline=why if not baselines else None,
        labels=list(labels or []),
        notes=notes,
    )
    return gate.evaluate(group, window, history, settings, ctx)


def exit_code_for(result: CheckResult) -> int:
    """0 for pass, warn, accepted and (unless strict) inconclusive; 1 for fail or
    strict-inconclusive."""
    if result.verdict == "fail" or (result.verdict == "inconclusive" and result.strict):
        return 1
    return 0
