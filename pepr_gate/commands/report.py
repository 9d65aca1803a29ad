"""`pepr-gate report`: re-render a stored check result (`pepr-gate check --json`)."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("report", help="re-render a check result",
                       description="Re-render a check result written by `pepr-gate check "
                       "--json` in the terminal, as the Markdown PR comment, or as JSON.")
    p.add_argument("file", metavar="FILE.json", help="a check result file")
    p.add_argument("--markdown", metavar="OUT", help="also write the PR comment body here")
    p.add_argument("--format", choices=("terminal", "markdown", "json"), default="terminal",
                   help="what to print on stdout (default: terminal)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pepr_gate.commands.check import write_output
    from pepr_gate.publish.markdown import render_markdown
    from pepr_gate.records import load_check_result

    result = load_check_result(args.file)
    if args.markdown:
        write_output(args.markdown, render_markdown(result))
    if args.format == "markdown":
        sys.stdout.write(render_markdown(result))
    elif args.format == "json":
        sys.stdout.write(result.to_json() + "\n")
    else:
        from pepr_gate.publish.terminal import render_terminal

        render_terminal(result)
    return 0
