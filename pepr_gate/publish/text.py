"""Text a PR author may control, on its way into GitHub Markdown: the one escaper.

The PR comment, the job summary and the leaderboard's Markdown all escape with
`escape_md`; Mermaid labels go through `mermaid_label`, error messages into `code_block`.
Nothing user-controlled is ever put inside a code span, where backslash escapes do not work.
"""

from __future__ import annotations

import re

MD_SPECIALS = re.compile(r"([\\`*_{}\[\]()#|~$^])")
HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}
ZWJ = "\u200d"


def escape_md(value: object) -> str:
    """Make any string inert in GitHub Markdown: no markup, HTML, mentions or table breaks."""
    text = " ".join(str(value).split())  # newlines would end a table row or a list item
    text = "".join(HTML.get(ch, ch) for ch in text)
    text = MD_SPECIALS.sub(r"\\\1", text)
    return text.replace("@", "@" + ZWJ)  # `@org/team` must never ping


def mermaid_label(value: object) -> str:
    """Mermaid has no escaping inside quoted labels: keep only harmless characters."""
    return re.sub(r"[^A-Za-z0-9 ._:/+-]", "_", str(value))[:40]


def code_block(text: str) -> str:
    """A fenced block longer than any backtick run inside, so the text cannot close it."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def plain_text(markdown: str) -> str:
    """What `escape_md` text reads as, for a log line or a console (no escapes shown)."""
    import html

    text = re.sub(r"\\([\\`*_{}\[\]()#|~$^])", r"\1", markdown)
    return html.unescape(text).replace("@" + ZWJ, "@")
