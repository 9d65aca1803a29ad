"""Config error messages: a pydantic `ValidationError` turned into lines a user can act on.

Owns naming the file and the dotted field (`run.stages.0.cmd`), showing the value that was
given, and suggesting the closest known key for a misspelt one. `pepr_gate.config` owns
the models and loading; it calls `describe` when validation fails.
"""

from __future__ import annotations

import difflib
import math
from typing import Any

from pydantic import BaseModel, ValidationError


def describe(
    exc: ValidationError, data: dict[str, Any], source: str, prefix: str, root: type[BaseModel]
) -> str:
    """One line per error: the file, the dotted field, what is wrong and the value given."""
    lines = []
    for err in exc.errors():
        # pydantic names the member of a union (`cmd: list[str] | str`) in the location;
        # it is not a key the user wrote, so it is left out of the field name.
        loc = [str(x) for x in err["loc"] if not str(x).startswith(("function-after", "list["))
               and str(x) not in _UNION_TAGS]
        field = prefix + ".".join(loc)
        if err["type"] == "extra_forbidden":
            known = _known_keys(root, loc[:-1])
            close = difflib.get_close_matches(loc[-1], known, n=1)
            tip = f"; did you mean '{close[0]}'?" if close else f"; known keys: {', '.join(known)}"
            lines.append(f"{source}: unknown key '{field}'{tip}")
        else:
            value = _lookup(data, err["loc"])
            shown = "" if value is _MISSING else f" (got {value!r})"
            msg = str(err["msg"]).removeprefix("Value error, ")
            lines.append(f"{source}: field '{field}': {msg}{shown}")
    return "\n".join(lines)


_MISSING = object()
_UNION_TAGS = frozenset({"str", "int", "float", "bool"})


def _lookup(data: Any, loc: tuple[Any, ...]) -> Any:
    cur = data
    for part in loc:
        in_dict = isinstance(cur, dict) and part in cur
        in_list = isinstance(cur, list) and isinstance(part, int) and part < len(cur)
        if in_dict or in_list:
            cur = cur[part]
        else:
            return _MISSING
    if isinstance(cur, float) and not math.isfinite(cur):
        return cur
    return cur


def _known_keys(root: type[BaseModel], parent: list[str]) -> list[str]:
    """The keys a user may write in the section at `parent` (a path of field names)."""
    model: Any = root
    for part in parent:
        if part.isdigit():
            continue
        field = model.model_fields.get(part)
        if field is None:
            return []
        ann = field.annotation
        model = next(
            (a for a in getattr(ann, "__args__", (ann,)) if isinstance(a, type)
             and issubclass(a, BaseModel)),
            None,
        )
        if model is None:
            args = getattr(ann, "__args__", ())
            inner = [getattr(a, "__args__", ()) for a in args]
            model = next(
                (x for group in inner for x in group if isinstance(x, type)
                 and issubclass(x, BaseModel)),
                None,
            )
            if model is None:
                return []
    return sorted(k for k in model.model_fields if k not in {"source", "root"})

