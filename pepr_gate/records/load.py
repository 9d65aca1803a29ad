"""Reading a run record or a check result back: schema, strict types, ranges, consistency.

Every reader goes through here, so a file, a store row and an imported record pass the
same checks (`records.ranges`, `records.consistency`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from pepr_gate.errors import InputError
from pepr_gate.fileio.readfile import read_text_limited
from pepr_gate.records.check import CheckResult
from pepr_gate.records.model import CHECK_SCHEMA, RUN_SCHEMA, RunRecord

_M = TypeVar("_M", bound=BaseModel)


def _parse(data: Any, source: str, model: type[_M], schema: str, what: str, hint: str) -> _M:
    if not isinstance(data, dict):
        raise InputError(f"{source}: not a pepr-gate {what} (expected a JSON object)", hint=hint)
    found = data.get("schema")
    if found != schema:
        raise InputError(
            f"{source}: not a pepr-gate {what} this version reads: unknown record schema "
            f"{found!r} (expected {schema!r})",
            hint=hint,
        )
    try:
        # Strict: `true` or "12" where a number belongs is an error, never coerced.
        parsed = model.model_validate_json(json.dumps(data), strict=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        from pepr_gate.records.ranges import printable

        where = printable(".".join(str(p) for p in first["loc"]))
        raise InputError(
            f"{source}: invalid {what} at field '{where}': {first['msg']}", hint=hint
        ) from None
    if isinstance(parsed, (RunRecord, CheckResult)):
        from pepr_gate.records.consistency import check_problem
        from pepr_gate.records.ranges import range_problem

        problem = (range_problem(parsed) if isinstance(parsed, RunRecord)
                   else check_problem(parsed))
        if problem is not None:
            raise InputError(
                f"{source}: invalid {what} at field '{problem[0]}': {problem[1]}", hint=hint
            )
    return parsed


def _load(path: str | Path, model: type[_M], schema: str, what: str, hint: str) -> _M:
    p = Path(path)
    try:
        text = read_text_limited(p)
    except FileNotFoundError:
        raise InputError(f"{p}: {what} not found", hint="check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: cannot read {what}: {exc}", hint=hint) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{p}: not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})", hint=hint
        ) from None
    except RecursionError:
        raise InputError(f"{p}: JSON nested too deeply to read", hint=hint) from None
    return _parse(data, str(p), model, schema, what, hint)


_RUN_HINT = "pass a run record written by `pepr-gate run --out` (or re-create it with this version)"
_CHECK_HINT = "pass a file written by `pepr-gate check --json` (in CI: .pepr/ci/check.json)"


def parse_run_record(data: Any, source: str) -> RunRecord:
    """Validate a decoded run record; `source` names it in the error."""
    return _parse(data, source, RunRecord, RUN_SCHEMA, "run record", _RUN_HINT)


def load_run_record(path: str | Path) -> RunRecord:
    return _load(path, RunRecord, RUN_SCHEMA, "run record", _RUN_HINT)


def load_check_result(path: str | Path) -> CheckResult:
    return _load(path, CheckResult, CHECK_SCHEMA, "check result", _CHECK_HINT)
