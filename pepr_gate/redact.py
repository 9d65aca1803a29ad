"""Secrets out of every message: URL userinfo, header values and known tokens.

A remote URL may carry a token (`https://x-access-token:SECRET@host/o/r.git`), and a
git config value may be an `Authorization` header. Anything pepr-gate prints or writes
(errors, annotations, the job summary, `.pepr/ci/error.json`, `report.md`) passes through
`redact` first: an artifact is not masked by the runner's log filter.
"""

from __future__ import annotations

import re

MASK = "***"

# scheme://user[:password]@host  ->  scheme://***@host
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<info>[^/@\s'\"<>]+)@")
# "Authorization: basic abc=", "extraheader = AUTHORIZATION: bearer x", "PRIVATE-TOKEN: x"
_HEADER = re.compile(
    r"(?P<name>\b(?:proxy-)?authorization|\bprivate-token|\bx-[a-z-]*token)(?P<sep>\s*[:=]\s*)"
    r"(?P<value>[^\r\n'\"]+)",
    re.IGNORECASE,
)
# A git config line whose key holds credentials: the whole value goes.
_CONFIG_VALUE = re.compile(
    r"(?P<key>\b(?:http\.[^\s=]*\.)?extraheader|\bcredential\.[^\s=]*\.?(?:password|helper))"
    r"(?P<sep>\s*=\s*|\s+)(?P<value>[^\r\n'\"]+)",
    re.IGNORECASE,
)

_known: set[str] = set()


def add_secret(value: str | None) -> None:
    """Mask this exact value from now on (a token pepr-gate was given), like `::add-mask::`."""
    if value and len(value) >= 4:
        _known.add(value)


def redact(text: str) -> str:
    """`text` with URL userinfo, header and credential config values, and known secrets masked."""
    if not text:
        return text
    for secret in sorted(_known, key=len, reverse=True):
        text = text.replace(secret, MASK)
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", text)
    text = _CONFIG_VALUE.sub(lambda m: f"{m['key']}{m['sep']}{MASK}", text)
    return _HEADER.sub(lambda m: f"{m['name']}{m['sep']}{MASK}", text)


def redact_url(url: str) -> str:
    """A URL fit to show: its userinfo (user and password or token) replaced by ***."""
    return _USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", url)
