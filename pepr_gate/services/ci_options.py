"""What `pepr-gate ci` is asked to do (the action's inputs), in a module of its own so that
`ci` and `ci_measure` both use it without importing each other."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class CiOptions:
    config: str
    comment: str = "always"
    fail_on_regression: bool = True
    repeats: int | Literal["auto"] | None = None
    store: str | None = None
    threshold: float | None = None
    meter: str | None = None
    dashboard: bool = False
    dashboard_path: str | None = None
