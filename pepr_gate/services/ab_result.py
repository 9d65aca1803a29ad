"""What a paired A/B session is asked (`AbRequest`) and its check result: settings and
context for `gate.evaluate_paired`."""

from __future__ import annotations

from dataclasses import dataclass

from pepr_gate.config import Config
from pepr_gate.decide import gate
from pepr_gate.records import CheckResult, RunRecord, utcnow
from pepr_gate.services.check import config_name


@dataclass(frozen=True)
class AbRequest:
    base_ref: str
    pairs: int | None = None
    meter: str | None = None
    store_url: str | None = None
    no_store: bool = False
    base_branch: str | None = None  # the records' branch names
    head_branch: str | None = None
    head_sha: str | None = None
    threshold: float | None = None
    labels: tuple[str, ...] = ()


def _by_pair(runs: list[RunRecord]) -> list[RunRecord]:
    return sorted(runs, key=lambda r: r.paired.index if r.paired else r.repeat_index)


def paired_result(config: Config, base: list[RunRecord], head: list[RunRecord],
                  req: AbRequest, history: list[RunRecord]) -> CheckResult:
    settings = gate.Settings.from_config(config, threshold=req.threshold)
    n = min(len(base), len(head))
    sha = base[0].git.sha[:12] if base and base[0].git and base[0].git.sha else req.base_ref
    note = (f"Paired A/B: {n} pair(s) of base ({req.base_ref} at {sha}) and head runs, in "
            "ABBA order on this runner; the change is the mean of the per-pair changes, so "
            "drift in the runner's load cancels. Repeats needed count pairs here "
            "(`pepr-gate ab --pairs N`).")
    ctx = gate.Context(
        created_at=utcnow(),
        base_branch=req.base_branch or req.base_ref,
        head_branch=req.head_branch,
        config_path=config_name(config),
        notes=[note],
        labels=list(req.labels),
    )
    return gate.evaluate_paired(_by_pair(base)[:n], _by_pair(head)[:n], history, settings, ctx)
