"""A model card's YAML front matter read before and after `report --model-card --update`.

The edit itself is line by line (every other key, comment and the body keep their bytes);
PyYAML reads the front matter first, so a card that is not a mapping of keys or not valid
YAML is refused naming its line, and again after the edit, so a card whose other keys or
new block would not read back exactly as meant is refused instead of written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from pepr_gate.errors import InputError

_HINT = ("fix the card's front matter by hand (`python -c \"import yaml; yaml.safe_load(...)\"` "
         "shows the same error), or leave out --update and paste the printed block yourself")
_KEY = re.compile(r"^([ \t]*)([A-Za-z_][\w-]*)\s*:")


def read(lines: Iterable[str], *, first_line: int = 2) -> dict[str, Any]:
    """The front matter (the lines between the `---` lines) as a mapping; exit 2 when it is
    not valid YAML or not a mapping of keys."""
    import yaml

    try:
        data = yaml.safe_load("".join(lines))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + first_line}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"{where}the card's front matter is not valid YAML ({problem})",
                         hint=_HINT) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(f"line {first_line}: the card's front matter is a YAML "
                         f"{type(data).__name__}, not a mapping of keys such as `license: mit`",
                         hint=_HINT)
    return data


def kept_lines(old: Any, key_line: str, body: list[str], ours: set[str | None],
               newline: str) -> list[str]:
    """What stays of the old value: the owner's keys that the new block does not set (a
    training_type written by hand stays when --training-type is not given). From a block
    mapping its own lines are kept; from a flow mapping (`{emissions: 5, ...}`) each kept
    key is written again in block style. A list or a scalar is replaced whole."""
    if not isinstance(old, dict):
        return []
    inline = key_line.split(":", 1)[1].strip()
    if inline and not inline.startswith("#"):
        return [f"  {k}: {json.dumps(v, ensure_ascii=False, default=str)}{newline}"
                for k, v in old.items() if k not in ours]
    out: list[str] = []
    keep, indent = False, None
    for line in body:
        found = _KEY.match(line)
        if found and (indent is None or len(found.group(1)) <= indent):
            indent = len(found.group(1))
            keep = found.group(2) not in ours
        if keep and line.strip():
            out.append(line)
    return out


def check_after(before: dict[str, Any], lines: list[str], block: str, key: str,
                line_no: int) -> None:
    """The edited front matter must read back with every other key as before and `key`
    holding the new block plus the owner's kept keys; else nothing is written (exit 2)."""
    import yaml

    new = yaml.safe_load(block)[key]
    old = before.get(key)
    kept = {k: v for k, v in old.items() if k not in new} if isinstance(old, dict) else {}
    try:
        after = read(lines)
    except InputError:
        after = None
    others = {k: v for k, v in before.items() if k != key}
    if after is None or {k: v for k, v in after.items() if k != key} != others \
            or after.get(key) != {**new, **kept}:
        raise InputError(f"line {line_no + 1}: {key} cannot be replaced safely in this front "
                         "matter (the edited card would not read back as written); the card "
                         "is left as it was", hint=_HINT)
