"""`run_check`: load the candidate and the baseline, let the gate decide, return the result.

This is the service behind `pepr-gate check` and `pepr-gate ci`: it reads (files, the
history store, git) but never writes. Which runs are compared is `decide.select`'s
choice and the verdict is `decide.gate.evaluate`'s; nothing here decides.
"""

from __future__ import annotations

import math
import os
from dataclasses import replace
from pathlib import Path

from pepr_gate.config import DEFAULT_STORE, Config
from pepr_gate.decide import gate, select
from pepr_gate.decide.hardware_diff import warm_cold_note
from pepr_gate.errors import InputError
from pepr_gate.measure.gitinfo import head_branch, top_folder
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


def config_name(config: Config) -> str | None:
    """The config's path as the comment marker and the JSON name it: from the repository's
    top folder (as `ci` names it from GITHUB_WORKSPACE), else from the current folder, else
    its file name; never absolute, so the same config names the same comment everywhere."""
    if config.source is None:
        return None
    path = Path(config.source).resolve()
    for root in (top_folder(path.parent), Path.cwd()):
        if root is None:
            continue
        try:
            return path.relative_to(root.resolve()).as_posix()
        except (OSError, ValueError):
            continue
    return path.name


def no_store(config: Config, store_url: str | None) -> select.NoBaseline | None:
    """Why there is no baseline when no store was named (no --store, no [store] url) and
    the default one does not exist; None when a store was named or the default exists.
    A store that was named and is missing stays an error (exit 2): a typo must not pass."""
    if store_url is not None or "url" in config.store.model_fields_set:
        return None
    default = DEFAULT_STORE.removeprefix("sqlite:///")
    if (Path(config.root) / default).exists():
        return None
    return select.NoBaseline(
        "no-store",
        f"no history store is configured and none exists ({default}), so only the "
        "budgets were judged; the PePR change and the performance guardrail need base runs",
        "store base runs with `pepr-gate run` on the base branch (it creates the store), or "
        "name one with --store or [store] url")


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
    group, window, history, why, drift = _gather(config, given, baselines, store_url,
                                                 head_branch, base_branch, settings.window,
                                                 store_must_exist)
    settings, looks_note = _adaptive(settings, group, max_looks)
    notes += looks_note + _mappings(group) + drift
    thermal = warm_cold_note(group, window)
    notes += [thermal] if thermal else []
    ctx = gate.Context(
        created_at=utcnow(),
        base_branch=base_branch,
        head_branch=head_branch or select.newest(group).branch,
        config_path=config_name(config),
        no_baseline=why if not baselines else None,
        labels=list(labels or []),
        notes=notes,
    )
    return gate.evaluate(group, window, history, settings, ctx)


def _gather(config: Config, given: list[RunRecord] | None,
            baselines: list[RunRecord] | None, store_url: str | None,
            head_branch: str | None, base_branch: str, window_size: int,
            store_must_exist: bool = True,
            ) -> tuple[list[RunRecord], list[RunRecord], list[RunRecord],
                       select.NoBaseline | None, list[str]]:
    """(candidate group, baseline window, noise history, why no baseline, the base
    branch's drift line if any): from the files given, else from the store; no store at
    all when none was named or exists."""
    why = None if not given or baselines else no_store(config, store_url)
    if (baselines and given) or (given and why is not None):
        own = {c.id for c in given}
        return list(given), [b for b in baselines or [] if b.id not in own], [], why, []
    from pepr_gate.services.drift import drift_from_store
    from pepr_gate.store import open_store

    # A reader: a mistyped store path is an error, never a new empty store (`ci` alone
    # may find a git data branch missing: its first stored run creates it).
    url = store_url or config.store.url
    with open_store(url, root=Path(config.root),
                    must_exist=store_must_exist or not _is_git(url)) as store:
        chosen, why = _load(store, config, given, head_branch, base_branch, window_size)
        drift = drift_from_store(store, base_branch, chosen.candidates)
    own = {c.id for c in chosen.candidates}
    notes = [drift] if drift else []
    if baselines:
        return chosen.candidates, [b for b in baselines if b.id not in own], [], why, notes
    return chosen.candidates, chosen.window, chosen.history, why, notes


def _mappings(group: list[RunRecord]) -> list[str]:
    """A lower-is-better metric's mapping to P, said in the comment beside the numbers."""
    named = {r.performance.mapping: r.performance.name for r in group if r.performance.mapping}
    return [f"P is computed from {name}: {how}."
            for how, name in named.items()]


def _adaptive(settings: gate.Settings, group: list[RunRecord],
              max_looks: int) -> tuple[gate.Settings, list[str]]:
    """A repeat group made by an adaptive loop is judged as that loop judged its last
    look (the same share of alpha), so `check` afterwards gives the loop's verdict."""
    looks = {r.adaptive_looks for r in group if r.adaptive_looks}
    if max_looks > 1 or len(looks) != 1:
        return settings, []
    most = looks.pop()
    if most <= 1:
        return settings, []
    n = sum(r.status == "ok" for r in group)
    return replace(settings, looks=most), [
        f"Judged as look {n} of at most {most} of the adaptive loop that ran these repeats "
        "([run] repeats = \"auto\"): each look tests at its share of the false-alarm rate."]


def exit_code_for(result: CheckResult) -> int:
    """0 for pass, warn, accepted and (unless strict) inconclusive; 1 for fail or
    strict-inconclusive."""
    if result.verdict == "fail" or (result.verdict == "inconclusive" and result.strict):
        return 1
    return 0
