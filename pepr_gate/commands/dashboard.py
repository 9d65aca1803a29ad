"""`pepr-gate dashboard`: write a static site of the stored history, per branch."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from pepr_gate.commands.history import _positive_int

DESCRIPTION = """\
Write a static site (index.html, data/, assets/) that charts the stored runs over time:
PePR per variant, P, energy, carbon, duration and peak GPU memory, one colour per branch,
measured and estimated figures drawn differently, verdict markers and budget lines, and a
table of the latest runs. It works offline: open index.html from disk, or publish the
folder (GitHub Pages, any static host).

examples:
  pepr-gate dashboard                                  -> .pepr/dashboard/index.html
  pepr-gate dashboard --store git:pepr-data --out site
  pepr-gate dashboard --branch main --branch dev --limit 2000 --title "ResNet PePR"
  pepr-gate dashboard --check .pepr/ci/check.json      adds that check's verdict marker
  pepr-gate dashboard --rebuild                        from every record read in full
"""


def register(sub: Any) -> None:
    p = sub.add_parser("dashboard", help="write a static HTML dashboard of the history",
                       description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", metavar="PATH", help="config file (default: ./pepr.toml)")
    p.add_argument("--store", metavar="URL",
                   help="history store (default: [store] url, else sqlite:///.pepr/history.db)")
    p.add_argument("--out", metavar="DIR", type=Path, default=Path(".pepr") / "dashboard",
                   help="folder for the site (default: .pepr/dashboard)")
    p.add_argument("--branch", dest="branches", action="append", default=[], metavar="B",
                   help="include only this branch (repeat for more); the first is shown "
                   "first (default: every branch; shown first: [gate] base_branch, else main)")
    p.add_argument("--limit", type=_positive_int, metavar="N",
                   help="at most the newest N runs per branch (default: all)")
    p.add_argument("--title", metavar="T", help="page title (default: [dashboard] title)")
    p.add_argument("--repo-url", metavar="URL",
                   help="repository web address for commit links (default: [dashboard] "
                   "repo_url, else the origin remote)")
    p.add_argument("--check", dest="checks", action="append", default=[], type=Path,
                   metavar="FILE", help="a check result (`check --json`, .pepr/ci/check.json) "
                   "whose verdict to mark; repeatable")
    p.add_argument("--rebuild", action="store_true",
                   help="read and validate every stored record in full instead of only the "
                   "fields the page draws (and the git store's summary files); slower, and "
                   "the page is the same")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pepr_gate.config import load_config
    from pepr_gate.services.dashboard import DashboardOptions, build_dashboard

    config = load_config(args.config, required=False)
    built = build_dashboard(
        DashboardOptions(store=args.store, out=args.out, branches=args.branches,
                         limit=args.limit, title=args.title, repo_url=args.repo_url,
                         checks=args.checks, rebuild=args.rebuild),
        config, dict(os.environ))
    where = "no branches" if not built.branches else (
        f"{built.branches} branch(es), {built.base_branch or '—'} shown first")
    print(f"dashboard: {built.runs} run(s), {where} -> {built.out / 'index.html'}")
    return 0
