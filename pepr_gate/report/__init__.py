"""Rendering: the PR comment (Markdown), the terminal verdict, plots. Never decides."""

from __future__ import annotations

import json
from pathlib import Path

from pepr_gate.errors import InputError
from pepr_gate.records import CHECK_SCHEMA, CheckResult


def load_check_result(path: str | Path) -> CheckResult:
    """Read a `pepr-gate check --json` file; InputError (exit 2) names what is wrong."""
    from pydantic import ValidationError

    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{p}: check result not found", hint="check the path") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{p}: cannot read check result: {exc}",
                         hint="pass a file written by `pepr-gate check --json`") from None
    schema = data.get("schema") if isinstance(data, dict) else None
    if schema != CHECK_SCHEMA:
        raise InputError(
            f"{p}: not a pepr-gate check result (schema {schema!r}, expected {CHECK_SCHEMA!r})",
            hint="pass a file written by `pepr-gate check --json`",
        )
    try:
        return CheckResult.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise InputError(f"{p}: invalid check result at field '{where}': {first['msg']}") from None
