"""Typed reads from an event payload: untrusted input, checked field by field.

GitHub sends payloads that lack fields, and a workflow may point GITHUB_EVENT_PATH at any
file, so every value is checked for its type before it is used, and a commit SHA must be
40 (SHA-1) or 64 (SHA-256) hexadecimal characters before it reaches a git command line
(`--upload-pack=...` as a "SHA" would be an option to `git fetch`). A wrong value exits 2
naming the field, never 4.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pepr_gate.errors import InputError

_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_HINT = ("the event payload (GITHUB_EVENT_PATH) is not a webhook payload GitHub sent for "
         "this event; run `pepr-gate ci` on the workflow's own event")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _wrong(field: str, value: Any, wanted: str) -> InputError:
    return InputError(f"the event payload's {field} is {_shown(value)} "
                      f"({type(value).__name__}), not {wanted}", hint=_HINT)


def obj(value: Any, field: str) -> Mapping[str, Any]:
    """An object field; missing or null reads as empty."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _wrong(field, value, "an object")
    return value


def text(value: Any, field: str) -> str | None:
    """A string field; missing or null reads as None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise _wrong(field, value, "a string")
    return value


def items(value: Any, field: str) -> list[Any]:
    """A list field; missing or null reads as empty."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise _wrong(field, value, "a list")
    return value


def sha(value: Any, field: str) -> str | None:
    """A commit SHA, lowercased; missing, null or empty reads as None."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _SHA.fullmatch(value.lower()):
        raise _wrong(field, value, "a commit SHA (40 or 64 hexadecimal characters)")
    return value.lower()
