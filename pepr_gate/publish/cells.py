"""CSV cells that a spreadsheet will not run: the OWASP CSV-injection rule.

A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is read as a
formula by Excel, LibreOffice and Google Sheets; model names, branch names and column
headers come from people who may craft one. Such text is prefixed with `'`, which the
spreadsheet shows as plain text. Numbers (negative ones too) are written as numbers.
"""

from __future__ import annotations

import math
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text)) and text.strip() == text
    except ValueError:
        return False


def csv_cell(value: Any) -> Any:
    """`value` as a safe CSV cell: text that would start a formula gets a leading `'`."""
    if isinstance(value, float):
        return repr(value)
    if not isinstance(value, str) or not value.startswith(FORMULA_START):
        return value
    return value if _is_number(value) else "'" + value
