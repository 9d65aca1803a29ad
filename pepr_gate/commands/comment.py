"""`pepr-gate comment`: post or update the PR comment from a check-result file.

Made for the second half of the fork-safe pattern: a `workflow_run` job downloads the
artifact an unprivileged job wrote and comments from it. The file is data only: it is
validated as a `pepr-gate/check/1` result and re-rendered, never executed or echoed raw.
"""

from __future__ import annotations

import argparse
import os
import re
from typing import Any

from pepr_gate.errors import InputError
from pepr_gate.publish.github import COMMENT_MODES


def register(sub: Any) -> None:
    p = sub.add_parser(
        "comment",
        help="post or update the sticky PR comment from a check result JSON",
        description="Post or update pepr-gate's one comment on a pull request from a "
        "check result (`.pepr/ci/check.json`), using GITHUB_TOKEN and GITHUB_API_URL.",
    )
    p.add_argument(
        "--from",
        dest="source",
        required=True,
        metavar="CHECK.json",
        help="check result written by `pepr-gate ci` or `pepr-gate check --json`",
    )
    p.add_argument("--pr", required=True, metavar="N", help="pull request number")
    p.add_argument("--repo", metavar="OWNER/NAME", help="repository (default: GITHUB_REPOSITORY)")
    p.add_argument(
        "--comment", default="always", choices=COMMENT_MODES, help="comment mode (default always)"
    )
    p.add_argument(
        "--expect-head-sha",
        metavar="SHA",
        help="refuse a result for another commit, and skip when the PR has moved past SHA "
        "(pass github.event.workflow_run.head_sha)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pepr_gate.publish.github.writers import set_outputs
    from pepr_gate.records import load_check_result
    from pepr_gate.services.comment import Moved, comment_from_result

    env = os.environ
    number = _pr_number(args.pr)
    repo = (args.repo or env.get("GITHUB_REPOSITORY", "")).strip()
    if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", repo):
        raise InputError(
            f"--repo {repo[:80]!r} is not OWNER/NAME",
            hint="pass --repo OWNER/NAME or set GITHUB_REPOSITORY",
        )
    if not env.get("GITHUB_TOKEN", ""):
        raise InputError(
            "GITHUB_TOKEN is empty: commenting needs a token",
            hint="set `env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}` on the step",
        )
    result = load_check_result(args.source)
    expect = (args.expect_head_sha or "").strip().lower() or None
    if expect and (result.head_sha or "").lower() != expect:
        raise InputError(
            f"{args.source}: reports commit {str(result.head_sha)[:40]!r}, not {expect}",
            hint="the artifact belongs to another run; download the one of this workflow_run",
        )
    done = comment_from_result(result, repo, number, mode=args.comment, expect_head=expect,
                               env=env)
    if isinstance(done, Moved):
        print(f"pepr-gate: PR #{number} is now at {done.head[:12]}, not {(expect or '')[:12]}: "
              "a newer run will comment; nothing posted")
        return 0
    print(
        f"pepr-gate: comment {done.action}: {done.reason}" + (f" ({done.url})" if done.url else "")
    )
    set_outputs({"comment-url": done.url or ""}, env)
    return 0


def _pr_number(text: str) -> int:
    cleaned = text.strip().lstrip("#")
    if not re.fullmatch(r"[0-9]{1,10}", cleaned) or int(cleaned) == 0:
        raise InputError(f"--pr {text[:40]!r} is not a pull request number", hint="e.g. --pr 42")
    return int(cleaned)
