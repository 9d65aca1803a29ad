"""The release workflow's checks and notes (.github/workflows/release.yml), runnable here.

    python scripts/release.py check v1.2.0           # the tag names this version, and
                                                     # CHANGELOG.md has its dated section
    python scripts/release.py notes v1.2.0 org/repo  # the release notes: that section and
                                                     # install lines to paste

Versions follow Semantic Versioning: `pepr_gate/__init__.py` holds X.Y.Z, the tag is
vX.Y.Z, and the major tag vX moves to the newest X.y.z release (what `uses: ...@v1`
follows). A change to a documented name (command, flag, config key, record field, exit
code, action input or output) is a major version.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHANGELOG = ROOT / "CHANGELOG.md"
TAG = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")


class ReleaseError(Exception):
    pass


def package_version(root: Path = ROOT) -> str:
    text = (root / "pepr_gate" / "__init__.py").read_text(encoding="utf-8")
    found = re.search(r'^__version__ = "([^"]+)"$', text, re.M)
    if not found:
        raise ReleaseError("pepr_gate/__init__.py has no __version__ line")
    return found.group(1)


def section(version: str, changelog: Path = CHANGELOG) -> str:
    """The CHANGELOG section of `version`, which must carry its release date."""
    text = changelog.read_text(encoding="utf-8")
    found = re.search(rf"^## \[{re.escape(version)}\] - (\S+)\n(.*?)(?=^## \[|\Z)", text,
                      re.M | re.S)
    if not found:
        raise ReleaseError(f"CHANGELOG.md has no '## [{version}] - YYYY-MM-DD' section")
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", found.group(1)):
        raise ReleaseError(f"CHANGELOG.md: [{version}] is dated {found.group(1)!r}: put the "
                           "release date (YYYY-MM-DD) there before tagging")
    return found.group(2).strip()


def check(tag: str, root: Path = ROOT) -> str:
    """The version the tag releases; ReleaseError when tag, package and changelog disagree."""
    if not TAG.match(tag):
        raise ReleaseError(f"tag {tag!r} is not vX.Y.Z")
    version = package_version(root)
    if tag != f"v{version}":
        raise ReleaseError(f"tag {tag} but pepr_gate/__init__.py says {version}: bump "
                           "__version__ and tag that commit")
    section(version, root / "CHANGELOG.md")
    return version


def notes(tag: str, repo: str, root: Path = ROOT) -> str:
    version = check(tag, root)
    major = tag.split(".")[0]
    wheel = f"pepr_gate-{version}-py3-none-any.whl"
    image = f"ghcr.io/{repo.lower()}"  # registry names must be lower case
    base = f"https://github.com/{repo}"
    return f"""{section(version, root / "CHANGELOG.md")}

## Install

The GitHub Action, following every {major}.x release (or pin `@{tag}`, or its commit):

```yaml
- uses: {repo}@{major}
```

For local use, in an environment of its own (your training environment stays as it is):

```sh
pipx install {base}/releases/download/{tag}/{wheel}
uv tool install {base}/releases/download/{tag}/{wheel}
```

Into an environment, from the wheel or from the tag:

```sh
pip install {base}/releases/download/{tag}/{wheel}
pip install 'pepr-gate @ git+{base}@{tag}'
```

The container image:

```sh
docker pull {image}:{version}
```
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    sub.add_parser("check").add_argument("tag")
    p = sub.add_parser("notes")
    p.add_argument("tag")
    p.add_argument("repo", help="OWNER/NAME on GitHub")
    args = parser.parse_args(argv)
    try:
        if args.what == "check":
            print(check(args.tag))
        else:
            print(notes(args.tag, args.repo), end="")
    except ReleaseError as exc:
        print(f"release: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
