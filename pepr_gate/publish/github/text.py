"""Text a PR author may control, on its way into GitHub Markdown.

Inline text goes through `pepr_gate.publish.markdown.escape_md`, the one escaper the
comment and the summary share; this module adds the fenced block for error messages.
"""

from __future__ import annotations

import re


def code_block(text: str) -> str:
    """A fenced block longer than any backtick run inside, so the text cannot close it."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"
