"""How noisy one run is: measured from the runs when there are enough, else a stated prior.

The spread is the standard deviation of log PePR from one run to the next (0.05 = about
5% per run). It is measured, pooled, from two groups, each around its own mean: the base
runs (the window and older comparable runs on the base branch) and the candidate's
repeats. With fewer than MIN_DOF = 2 degrees of freedom a spread cannot be estimated at
all, so a prior per energy method stands in and every report says "assumed". From 2 on,
the decision uses Student's t on those degrees of freedom, which widens the band for a
spread measured from few runs (x3.0 at 2, x1.6 at 4, x1.2 at 10, against a known
spread), so a lucky small spread from two runs that agree by chance does not turn into
false alarms.

The priors are per-run PePR spreads a shared CI runner really shows, not floors:
- estimated energy (TDP x utilisation, or wall time itself): 10%. On a busy 2-core runner
  the bundled example's PePR-E varied 4-9% run to run (energy 16-28%); 10% is above that.
- measured energy (NVML counters, RAPL): 5%. Counters remove the model's error but not
  the load that other jobs put on a shared host (RAPL counts the whole package).
- replayed energy (a recorded trace): 2%. The energy repeats exactly; P and time may not.
- peak GPU memory and parameter counts: 2%; they barely move between identical runs.
A prior below the true spread causes false alarms (a 1% floor gave 11-29%), which is why
these sit at the top of what was observed; `docs/gate.md` has the figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pepr_gate.decide.stats import pooled

MIN_DOF = 2
PRIORS: dict[str, float] = {
    "estimated": 0.10,
    "mixed": 0.10,
    "unavailable": 0.10,
    "measured": 0.05,
    "replayed": 0.02,
    "steady": 0.02,
}
WIDEN = 1.5  # low-confidence or shared-GPU runs: the spread is widened by this factor


@dataclass(frozen=True)
class Noise:
    spread: float
    source: Literal["measured", "assumed"]
    runs: int  # runs it was measured from; when assumed, the runs there were
    dof: int
    prior_key: str
    widened: bool = False

    @property
    def measured(self) -> bool:
        return self.source == "measured"

    def label(self) -> str:
        wider = f", widened {WIDEN:g}x for flagged runs" if self.widened else ""
        if self.measured:
            return f"measured from {self.runs} runs{wider}"
        return (f"assumed (prior for {self.prior_key}: {self.runs} runs are too few to "
                f"measure){wider}")

    def widen(self, factor: float = WIDEN) -> Noise:
        return Noise(self.spread * factor, self.source, self.runs, self.dof, self.prior_key,
                     widened=True)


def prior_key(resource: str, energy_method: str | None, replayed: bool) -> str:
    """Which prior applies: by energy method for energy and carbon, by kind otherwise."""
    if resource in ("gpu_memory", "params"):
        return "steady"
    if resource == "time":
        return "estimated"  # wall time on a shared runner moves like estimated energy
    if replayed:
        return "replayed"
    return energy_method if energy_method in PRIORS else "estimated"


def estimate(groups: Sequence[Sequence[float]], key: str) -> Noise:
    """Spread of log values pooled over the groups, or the prior `key` below MIN_DOF."""
    spread, dof = pooled(*groups)
    runs = sum(len(g) for g in groups)
    if spread is not None and dof >= MIN_DOF:
        return Noise(spread, "measured", runs, dof, key)
    return Noise(PRIORS[key], "assumed", runs, dof, key)
