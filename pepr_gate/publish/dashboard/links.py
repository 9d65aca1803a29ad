"""The repository's web address for commit links, with any credentials taken out.

A remote URL can carry a token (`https://x-access-token:TOKEN@github.com/o/r.git`); the
site is public, so only scheme, host, port and path ever reach it.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pepr_gate.redact import redact as mask_secrets

_SCP = re.compile(r"^(?:[^@/]+@)?(?P<host>[A-Za-z0-9.-]+):(?P<path>(?!/)[^\s]+)$")


_PLAIN_PATH = re.compile(r"[A-Za-z0-9._~/%+-]+")
_USERINFO = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@")


def redact(url: str) -> str:
    """`url` without user name, password, query or fragment (tokens hide in all four).

    Works on store URLs too (`postgresql://user:pw@host/db`, `sqlite:////abs/path.db`):
    only the credentials part is cut, the rest stays as written.
    """
    text = _USERINFO.sub(r"\g<scheme>", url.strip())
    text = re.split(r"[?#]", text, maxsplit=1)[0]
    if text.startswith("sqlite:////"):  # the runner's folders are nobody's business
        text = "sqlite:///…/" + text.rsplit("/", 1)[-1]
    return mask_secrets(text)  # and any token it was given


def web_url(remote: str | None) -> str | None:
    """The https address of a git remote, or None for a local path or an unknown form.

    `git@github.com:o/r.git`, `ssh://git@github.com/o/r.git` and
    `https://TOKEN@github.com/o/r.git` all give `https://github.com/o/r`.
    """
    if not remote:
        return None
    text = remote.strip()
    scp = _SCP.match(text)
    if scp and "://" not in text:
        host, path = scp["host"], scp["path"]
    else:
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https", "ssh", "git") or not parts.hostname:
            return None
        host, path = parts.hostname, parts.path
        if parts.scheme in ("http", "https") and parts.port:
            host = f"{host}:{parts.port}"
    path = path.strip("/")
    if path.endswith(".git"):
        path = path[: -len(".git")]
    if not path or not _PLAIN_PATH.fullmatch(path) or not re.fullmatch(r"[A-Za-z0-9.:-]+", host):
        return None  # markup or quotes in the address would reach the page's links
    scheme = "http" if text.startswith("http://") else "https"
    return f"{scheme}://{host}/{path}"


def checked_repo_url(url: str | None) -> str | None:
    """A user-given repository URL, kept only when it is http(s); credentials removed."""
    if not url or not url.strip().lower().startswith(("https://", "http://")):
        return None
    return web_url(redact(url))
