"""Escaping for text a PR author may control, on its way into GitHub Markdown."""

from __future__ import annotations

import html
import re

# `<`, `>`, `&` and quotes are handled by html.escape; a backslash before them would show.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")


def md_text(text: str) -> str:
    """Plain text in Markdown: no HTML, no formatting, no links, no @-mentions."""
    escaped = html.escape(_MD_SPECIAL.sub(r"\\\1", text), quote=True)
    # `&#64;` renders as @ but GitHub does not turn it into a notification.
    return escaped.replace("@", "&#64;").replace("\r", " ").replace("\n", " ")


def code_block(text: str) -> str:
    """A fenced block longer than any backtick run inside, so the text cannot close it."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"
