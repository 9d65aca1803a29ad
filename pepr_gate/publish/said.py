"""What a check result's reasons say, asked by each reason's code, never by its wording.

`decide.rules` gives every reason a code (`too-noisy`, `budget-energy_kwh`, ...) and the
check result keeps them in `reason_codes`, one per reason in the same order. Publishers
ask `Said` which reasons were given, so a reason's sentence can be reworded without
changing the next step or the headline.

Check results written before codes were kept (`reason_codes` empty, e.g. an older
`check.json` given to `pepr-gate report` or `comment --from`) are read by the English
sentences those versions wrote; that fallback exists only for such older files.
"""

from __future__ import annotations

import re

from pepr_gate.records import CheckResult

# The codes asked about here; each is made in `decide` (tests/test_reason_codes.py checks).
CODES = ("conditions", "too-noisy", "shared-gpu", "candidate-failed", "energy-method",
         "energy-scope", "telemetry", "no-score", "guardrail", "no-baseline",
         "not-comparable-", "budget-")
_BUDGET = re.compile(r"\[gate\.budgets\] (\w+)")
_GUARDRAIL = "[gate] max_performance_drop"


class Said:
    """The questions the headline and the next step ask of a result's reasons."""

    def __init__(self, result: CheckResult) -> None:
        self.codes = list(result.reason_codes)
        self.coded = bool(self.codes)
        self.text = " ".join(result.reasons)  # only for results written before codes
        self.reasons = result.reasons
        self.paired = result.baseline_mode == "paired"

    def _any(self, *codes: str) -> bool:
        return any(code in self.codes for code in codes)

    def conditions_differ(self) -> bool:
        return self._any("conditions") if self.coded else "conditions differ" in self.text

    def too_noisy(self) -> bool:
        """Too noisy to decide, from stored history (not a paired A/B)."""
        if self.coded:
            return self._any("too-noisy") and not self.paired
        return "too noisy to decide" in self.text and "`pepr-gate ab --pairs" not in self.text

    def too_noisy_paired(self) -> bool:
        """Too noisy to decide from the pairs of `pepr-gate ab`: more pairs may settle it."""
        if self.coded:
            return self._any("too-noisy") and self.paired
        return "too noisy to decide" in self.text and "`pepr-gate ab --pairs" in self.text

    def shared_gpu(self) -> bool:
        return self._any("shared-gpu") if self.coded else \
            "another process used the GPU" in self.text

    def candidate_failed(self) -> bool:
        if self.coded:
            return self._any("candidate-failed")
        return "candidate run" in self.text and " failed" in self.text

    def no_baseline(self) -> bool:
        if self.coded:
            return any(c.startswith(("no-baseline", "not-comparable-")) for c in self.codes)
        return "No baseline:" in self.text.replace("No comparable", "No")

    def energy_differs(self) -> bool:
        """Energy was read another way (method or scope) for the two sides."""
        return self._any("energy-method", "energy-scope") if self.coded else \
            "Energy was" in self.text

    def telemetry(self) -> bool:
        return self._any("telemetry") if self.coded else "telemetry" in self.text

    def no_score(self) -> bool:
        return self._any("no-score") if self.coded else "cannot be computed" in self.text

    def paired_pairs(self) -> bool:
        """The reasons name `pepr-gate ab --pairs` (a paired A/B too noisy to decide)."""
        return self.too_noisy_paired() if self.coded else "ab --pairs" in self.text

    def budgets(self) -> list[str]:
        """The `[gate.budgets]` keys exceeded, in the reasons' order."""
        if self.coded:
            return [c.removeprefix("budget-") for c in self.codes if c.startswith("budget-")]
        return [key for reason in self.reasons for key in _BUDGET.findall(reason)]

    def guardrail(self) -> bool:
        if self.coded:
            return self._any("guardrail")
        return any(_GUARDRAIL in reason for reason in self.reasons)
