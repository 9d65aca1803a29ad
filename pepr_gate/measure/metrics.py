"""Reading the performance P from the metrics file the job wrote."""

from __future__ import annotations

import json
import math
import stat
from pathlib import Path
from typing import Any

from pepr_gate.config import PerformanceConfig, metric_map
from pepr_gate.errors import MetricsError
from pepr_gate.fileio.readfile import read_text_limited

_ROUNDING = 1e-9  # a job's float arithmetic may land this far outside [0, 1]


class _LongInt:
    """An integer literal too long for Python's int() digit limit; reported by key."""

    def __init__(self, text: str) -> None:
        self.digits = len(text.lstrip("-"))

    def __repr__(self) -> str:
        return f"an integer of {self.digits} digits"


def _parse_int(text: str) -> int | _LongInt:
    return int(text) if len(text) <= 400 else _LongInt(text)


def _dig(data: Any, key: str, path: Path) -> Any:
    cur = data
    walked: list[str] = []
    for part in key.split("."):
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            where = ".".join(walked) or "the top level"
            keys = sorted(cur) if isinstance(cur, dict) else []
            listing = ", ".join(keys[:30]) if keys else "(not an object)"
            raise MetricsError(
                f"{path}: key '{key}' not found: no '{part}' at {where}; keys there: {listing}",
                hint="set [performance] key to a dotted path into the file, e.g. 'test.accuracy'",
            )
        walked.append(part)
    return cur


def _number(value: Any, what: str, path: Path) -> float:
    if isinstance(value, _LongInt):
        raise MetricsError(
            f"{path}: {what} is an integer of {value.digits} digits, too large for a number",
            hint="make the job write the metric itself, e.g. 0.93",
        )
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MetricsError(
            f"{path}: {what} is {value!r}, not a number",
            hint="make the job write a plain JSON number there",
        )
    if isinstance(value, int) and not _fits_float(value):
        digits = len(str(abs(value)))
        raise MetricsError(
            f"{path}: {what} is an integer of {digits} digits, too large for a number",
            hint="make the job write the metric itself, e.g. 0.93",
        )
    if not math.isfinite(value):
        raise MetricsError(
            f"{path}: {what} is {value!r}; it must be a finite number",
            hint="the job's evaluation produced NaN or infinity; check its output",
        )
    return float(value)


def _fits_float(value: int) -> bool:
    try:
        float(value)
    except OverflowError:
        return False
    return True


def mapping_of(perf: PerformanceConfig) -> str | None:
    """The mapping from the metric to P in words, when lower is better; else None."""
    if perf.to_p is None:
        return None
    return metric_map.describe(perf.key, perf.to_p, perf.best, perf.worst, perf.scale)


def _to_p(raw: float, perf: PerformanceConfig, path: Path) -> float:
    """P in [0, 1] from the metric: raw / scale, through `to_p` when lower is better."""
    x = raw / perf.scale
    value = x if perf.to_p is None else metric_map.to_p(x, perf.to_p, perf.best, perf.worst)
    if -_ROUNDING <= value < 0.0 or 1.0 < value <= 1.0 + _ROUNDING:
        value = min(max(value, 0.0), 1.0)  # floating-point rounding in the job, not an error
    if 0.0 <= value <= 1.0:
        return value
    if perf.to_p is not None:
        how = mapping_of(perf)
        domain = metric_map.domain(perf.to_p, perf.best, perf.worst)
        raise MetricsError(
            f"{path}: '{perf.key}' = {raw:g} gives P = {value:g} by {how}, outside [0, 1]",
            hint=f"to_p = \"{perf.to_p}\" needs {domain}; pick the mapping that fits the "
                 f"metric ({metric_map.DOCS})")
    tip = (metric_map.out_of_range_hint(raw) if perf.scale == 1.0
           else "P must lie in [0, 1]; set [performance] scale so that value / scale does")
    raise MetricsError(
        f"{path}: '{perf.key}' = {raw:g} gives P = {value:g}, outside [0, 1]", hint=tip)


class _DuplicateKey(Exception):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key[:80])
        out[key] = value
    return out


def read_metrics(perf: PerformanceConfig, workdir: Path) -> tuple[float, float, int | None]:
    """Return (P in [0, 1], the raw value, parameter count or None)."""
    path = (workdir / perf.file) if not Path(perf.file).is_absolute() else Path(perf.file)
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise MetricsError(
                f"metrics file {path} is not a regular file (a FIFO, device, socket or "
                "folder); pepr-gate reads the metrics only from a plain file",
                hint="make the job write a plain JSON file there",
            )
        text = read_text_limited(path)
    except FileNotFoundError:
        raise MetricsError(
            f"metrics file {path} was not written by the run",
            hint="make the job write it, or fix [performance] file (relative to [run] workdir)",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MetricsError(f"cannot read metrics file {path}: {exc}") from None
    try:
        data = json.loads(text, parse_int=_parse_int, object_pairs_hook=_no_duplicates)
    except _DuplicateKey as exc:
        raise MetricsError(
            f"{path}: the key {exc.args[0]!r} appears twice in one object; which value is P "
            "would depend on the JSON reader",
            hint="make the job write each key once") from None
    except json.JSONDecodeError as exc:
        raise MetricsError(
            f"{path}: not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
            hint="the job must write a JSON object such as {\"accuracy\": 0.93}",
        ) from None
    except RecursionError:
        raise MetricsError(f"{path}: JSON nested too deeply to read",
                           hint="the job must write a JSON object such as {\"accuracy\": 0.93}"
                           ) from None
    except ValueError as exc:
        raise MetricsError(f"{path}: unreadable number: {exc}",
                           hint="make the job write plain numbers such as 0.93") from None
    raw = _number(_dig(data, perf.key, path), f"'{perf.key}'", path)
    value = _to_p(raw, perf, path)
    params = None
    if perf.params_key:
        p = _number(_dig(data, perf.params_key, path), f"'{perf.params_key}'", path)
        if p < 0 or p != int(p):
            raise MetricsError(f"{path}: '{perf.params_key}' = {p:g} is not a parameter count")
        params = int(p)
    return value, raw, params
