"""Running git for the git store: a clean environment, credentials passed in it only.

`git(..., config=PAIRS)` hands settings to one git command through
`GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n`, so a token or a remote URL with
credentials reaches fetch and push without ever being written to a config file. Every
line of git's output that may reach a message is redacted first.
"""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

from pepr_gate.errors import StoreError
from pepr_gate.redact import add_secret, redact

_SCRUBBED = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
             "GIT_COMMON_DIR", "GIT_NAMESPACE")
# Settings of the user's checkout that carry or find credentials; passed on, never copied.
AUTH_KEYS = r"^(http|credential|url)\."
# What an older version copied into the private repository's config; removed on sight.
STALE_KEYS = r"^(http|credential|url|remote)\."
ConfigPairs = tuple[tuple[str, str], ...]



def git_env(config: ConfigPairs = ()) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    # Settings for this one command, after any the caller's environment already holds.
    start = int(env.get("GIT_CONFIG_COUNT", "0") or 0) if config else 0
    for n, (key, value) in enumerate(config, start):
        env[f"GIT_CONFIG_KEY_{n}"] = key
        env[f"GIT_CONFIG_VALUE_{n}"] = value
    if config:
        env["GIT_CONFIG_COUNT"] = str(start + len(config))
    # Commits must work on a runner with no git identity; C locale keeps messages parseable;
    # no prompt may hang a CI job waiting for a password.
    env.setdefault("GIT_AUTHOR_NAME", "pepr-gate")
    env.setdefault("GIT_AUTHOR_EMAIL", "pepr-gate@localhost")
    env.setdefault("GIT_COMMITTER_NAME", env["GIT_AUTHOR_NAME"])
    env.setdefault("GIT_COMMITTER_EMAIL", env["GIT_AUTHOR_EMAIL"])
    env.update(LC_ALL="C", GIT_TERMINAL_PROMPT="0")
    return env


def git(*args: str, cwd: Path, stdin: bytes | None = None, check: bool = True,
         index: Path | None = None, config: ConfigPairs = ()) -> subprocess.CompletedProcess[bytes]:
    env = git_env(config)
    if index is not None:
        env["GIT_INDEX_FILE"] = str(index)
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, input=stdin, capture_output=True,
                              env=env, check=False)
    except FileNotFoundError:
        raise StoreError("the git store needs the `git` program, not found on PATH",
                         hint="install git, or use a sqlite:/// or postgresql:// store") from None
    if check and proc.returncode != 0:
        raise StoreError(f"git {args[0]} failed in {cwd}: {last_line(proc.stderr)}")
    return proc


def last_line(raw: bytes) -> str:
    lines = [ln.strip() for ln in redact(raw.decode(errors="replace")).splitlines() if ln.strip()]
    return lines[-1] if lines else "(no message)"


def push_reason(raw: bytes) -> str:
    """Why a push was refused: the remote's own words and the rejected ref, when given.

    git's last line ("failed to push some refs") never says why; a protected branch or a
    hook says so in `remote:` lines and a `! [remote rejected] ... (reason)` line.
    """
    lines = [ln.strip() for ln in redact(raw.decode(errors="replace")).splitlines() if ln.strip()]
    said = [ln for ln in lines if ln.startswith("remote:") and ln != "remote:"]
    refused = [ln for ln in lines if ln.startswith("! [")]
    picked = said[:3] + refused[:1]
    return "; ".join(picked) if picked else last_line(raw)


# A refusal that another try cannot change: the token may not write (GitHub's words for
# a read-only token), unlike a lost race ("fetch first", "non-fast-forward", a ref lock).
_FOR_GOOD = ("error: 403", "returned error: 403", "permission to", "permission denied",
             "authentication failed", "write access to repository not granted")


def refused_for_good(raw: bytes) -> bool:
    text = raw.decode(errors="replace").lower()
    return any(mark in text for mark in _FOR_GOOD)


def github_token(origin: str) -> tuple[str, str] | None:
    """Inside GitHub Actions: an Authorization header from GITHUB_TOKEN for an origin on
    GITHUB_SERVER_URL's host, as (config key, value); None elsewhere.

    Scoped to that host so the token never goes to another server; an origin URL that
    carries its own credentials keeps them.
    """
    token = os.environ.get("GITHUB_TOKEN", "").strip()
    if os.environ.get("GITHUB_ACTIONS") != "true" or not token:
        return None
    server = urlsplit(os.environ.get("GITHUB_SERVER_URL") or "https://github.com")
    url = urlsplit(origin)
    if url.scheme not in ("http", "https") or url.username or url.password:
        return None
    if (url.scheme, url.netloc.lower()) != (server.scheme, server.netloc.lower()):
        return None
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    add_secret(token)
    add_secret(basic)
    return f"http.{url.scheme}://{url.netloc}/.extraheader", f"AUTHORIZATION: basic {basic}"


def remote_auth(top: Path, origin: str) -> ConfigPairs:
    """What fetch and push from `origin` need, for their environment only (never written)."""
    token = github_token(origin)
    if token is not None:
        key, header = token
        # The empty value first drops any header a global config sets for this host.
        return ((key, ""), (key, header))
    # actions/checkout with persist-credentials: true keeps its token as
    # http.<url>.extraheader in the checkout's config; a credential helper or a
    # url.<base>.insteadOf may live there too.
    found = git("config", "--local", "--get-regexp", AUTH_KEYS, cwd=top, check=False)
    pairs = []
    for line in found.stdout.decode().splitlines():
        key, _, value = line.partition(" ")
        if key.lower().endswith(".extraheader"):
            add_secret(value.split(":", 1)[-1].strip())
        pairs.append((key, value))
    return tuple(pairs)
