"""`run_check`: load the candidate and the baseline, let the gate decide, return the result.

This is the service behind `pepr-gate check` and `pepr-gate ci`: it reads (files, the
history store, git) but never writes; the verdict itself comes from `gate.evaluate`.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from pepr_gate.config import Config
from pepr_gate.decide import gate
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


def base_branch_for(config: Config, baseline_branch: str | None) -> str:
    return (baseline_branch or config.gate.base_branch
            or os.environ.get("GITHUB_BASE_REF") or "main")


def current_branch(root: Path) -> str | None:
    """The branch being checked: the PR head on GitHub, else git's current branch."""
    for var in ("GITHUB_HEAD_REF", "GITHUB_REF_NAME"):
        if os.environ.get(var):
            return os.environ[var]
    return head_branch(root)


def _group(store: Store, primary: RunRecord) -> list[RunRecord]:
    """Every stored run of the candidate's repeat group (the candidate itself included)."""
    if primary.repeat_group is None:
        return [primary]
    found = {r.id: r for r in store.runs(primary.branch, limit=GROUP_SCAN)
             if r.repeat_group == primary.repeat_group}
    found[primary.id] = primary
    return sorted(found.values(), key=lambda r: r.repeat_index)


def _latest(store: Store, branch: str) -> RunRecord:
    latest = store.latest(branch)
    if latest is None:
        raise InputError(
            f"no run of branch {branch!r} in the store {store.url}",
            hint="run `pepr-gate run` on this branch first, or pass --candidate FILE.json",
        )
    return latest


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
) -> CheckResult:
    """Compare the candidate with the baseline; raises PeprError (exit 2) on bad input."""
    validate_threshold(threshold)
    settings = gate.Settings.from_config(config, threshold=threshold, strict=strict)
    base_branch = base_branch_for(config, baseline_branch)
    ctx_notes: list[str] = []
    mismatch = None
    noise: list[RunRecord] = []
    need_store = candidate_latest or not candidates or not baselines
    store: Store | None = None
    if need_store:
        from pepr_gate.store import open_store

        # A reader: a mistyped store path is an error, never a new empty store.
        store = open_store(store_url or config.store.url, root=Path(config.root),
                           must_exist=True)
    try:
        if candidate_latest or not candidates:
            assert store is not None
            head = head_branch or current_branch(Path(config.root))
            if head is None:
                raise InputError(
                    "cannot tell the current branch (detached HEAD or not a git repository)",
                    hint="pass --candidate FILE.json, or run inside the branch's checkout",
                )
            candidates = [_latest(store, head)]
        if store is not None and len(candidates) == 1:
            candidates = _group(store, candidates[0])
        primary = max(candidates, key=lambda r: r.created_at)
        own = {c.id for c in candidates}
        if baselines:
            window = [b for b in baselines if b.id not in own]
        else:
            assert store is not None
            found = store.runs(
                base_branch, status="ok", fingerprint=primary.hardware.fingerprint,
                config_hash=primary.config_hash,
                limit=max(settings.window, gate.NOISE_HISTORY) + len(own),
            )
            found = [r for r in found if r.id not in own][:max(settings.window, gate.NOISE_HISTORY)]
            window, noise = found[:settings.window], found
            if not window:
                recent = store.runs(base_branch, limit=MISMATCH_SCAN)
                others = [r for r in recent if r.id not in own]
                mismatch = gate.describe_mismatch(primary, others,
                                                  f"the base branch {base_branch}")
                if mismatch is None and recent and not others:
                    mismatch = (f"the only runs on {base_branch} are the candidate's own; "
                                "a run cannot be its own baseline")
    finally:
        if store is not None:
            store.close()
    ctx = gate.Context(
        created_at=utcnow(),
        base_branch=base_branch,
        head_branch=head_branch or primary.branch,
        config_path=config.source,
        mismatch=mismatch,
        notes=ctx_notes,
    )
    return gate.evaluate(candidates, window, noise, settings, ctx)


def exit_code_for(result: CheckResult) -> int:
    """0 for pass, warn and (unless strict) inconclusive; 1 for fail or strict-inconclusive."""
    if result.verdict == "fail" or (result.verdict == "inconclusive" and result.strict):
        return 1
    return 0
