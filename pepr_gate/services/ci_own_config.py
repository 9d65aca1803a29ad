"""A pull request that changes what is measured cannot pass by having no baseline.

`[performance]`, `[carbon]` and `[meter]` are the pull request's own (a new metric or meter
must be measurable in the PR that adds it); they are part of `config_hash`, so a PR that
changes them has runs no stored base run compares with. Left alone that is `inconclusive`,
exit 0: a PR could escape the gate by changing a hashed key. Here that case stays
`inconclusive` (there is no comparison to make), says plainly that the PR's own config
change is why, and fails the job like `[gate] strict`, until a reviewer adds the base's
`[gate] accept_label`, which makes it `accepted`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pepr_gate.records import CheckResult

_CONFIG_KINDS = ("config", "hardware-and-config")  # no baseline because the hash differs


def judge_own_change(result: CheckResult, changed: Sequence[str], config_name: str,
                     accept_label: str) -> CheckResult:
    """`result`, unless it is inconclusive for want of a baseline that the pull request's
    own change of hashed keys (`changed`) explains: then it fails the job, or is accepted
    with the label."""
    if not changed or result.verdict != "inconclusive" or result.no_baseline not in _CONFIG_KINDS:
        return result
    said = (f"No baseline because this pull request changes what is measured: "
            f"{', '.join(changed)} in {config_name} differ from the base's, so no stored run "
            "of the base compares with its runs. A change of the measurement cannot pass "
            "unreviewed: this inconclusive fails the job ")
    if accept_label in result.labels:
        return result.model_copy(update={
            "verdict": "accepted", "accepted_by": accept_label,
            "reasons": [said + f"unless accepted, and the label '{accept_label}' accepts it "
                        "([gate] accept_label).", *result.reasons]})
    return result.model_copy(update={
        "strict": True,
        "reasons": [said + f"until a reviewer adds the label '{accept_label}' ([gate] "
                    "accept_label), or the base branch is measured with this config.",
                    *result.reasons]})
