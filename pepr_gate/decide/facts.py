"""What the gate's rules read and say: `Facts` about one comparison, the `Reason`s they
give, and how a percentage is written in them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pepr_gate.decide.select import NoBaseline
from pepr_gate.records import RunRecord, Side

if TYPE_CHECKING:
    from pepr_gate.decide.noise import Noise
    from pepr_gate.decide.rule import Judgement


Level = Literal["fail", "unsure", "warn", "info", "note"]


@dataclass(frozen=True)
class Reason:
    level: Level
    code: str
    text: str


@dataclass(frozen=True)
class Comparison:
    change: float
    judgement: Judgement
    noise: Noise
    means: tuple[float, float] = (0.0, 0.0)  # (base, candidate): what `change` compares
    runs: tuple[int, int] = (1, 1)  # PePR values behind each mean


@dataclass
class Facts:
    candidates: Sequence[RunRecord]
    ok_cands: list[RunRecord]
    primary: RunRecord
    base: list[RunRecord]  # comparable window runs
    history: list[RunRecord]  # comparable noise runs (window included), newest first
    given_mismatch: NoBaseline | None  # the given window had runs, none comparable
    left_out: int  # window runs left out as not comparable
    base_side: Side | None
    cand: Side
    comparison: Comparison | None = None
    flagged: int = 0  # runs flagged low_confidence or not exclusive
    all_cands_shared: bool = False  # another process used the GPU in every candidate run
    variant: str = ""
    paired: bool = False  # `pepr-gate ab`: more pairs settle it, not more candidate runs
    scale: float | None = None  # the resource value at R = 1, and where it came from
    scale_source: str | None = None


def pct(x: float) -> str:
    return f"{abs(x) * 100:.1f}%"


def pct_limit(x: float) -> str:
    return f"{x * 100:.1f}".removesuffix(".0") + "%"
