"""`pepr-gate bisect`: find the commit whose PePR fell, with paired runs at each step."""

from __future__ import annotations

import argparse
from typing import Any

from pepr_gate.commands.ab import add_run_options


def register(sub: Any) -> None:
    p = sub.add_parser(
        "bisect", help="find the first commit whose PePR fell past the threshold",
        description="Drive `git bisect` between --good and --bad: at each step run paired "
        "A/B (ABBA, like `pepr-gate ab`) of the good commit and the candidate, each in a "
        "temporary worktree, and mark the candidate bad when the paired rule fails it, good "
        "when it passes, and skip it (with the reason) when the result is a warning, "
        "inconclusive or a stage fails. Prints its cost first; stores every run on branch "
        "`pepr-bisect`; ends with the commit, its subject, the measured drop and a Markdown "
        "report. Your checkout is never touched; the bisect state and the worktrees are "
        "removed whatever happens (Ctrl-C and SIGTERM included). Exit 0 when it ends, "
        "2 bad input, 130/143 interrupted.",
    )
    p.add_argument("--good", metavar="REF", required=True,
                   help="a commit before the drop (branch, tag or SHA)")
    p.add_argument("--bad", metavar="REF", required=True,
                   help="a commit after the drop (e.g. HEAD or main)")
    p.add_argument("--pairs", metavar="N", type=int,
                   help="good/candidate pairs per step (default 4: 8 runs a step)")
    p.add_argument("--threshold", metavar="T",
                   help="the PePR drop that makes a commit bad, 0.05 or 5%% "
                   "(default: [gate] max_pepr_drop)")
    add_run_options(p)
    p.add_argument("--markdown", metavar="OUT.md",
                   help="write the report here (default: .pepr/bisect.md beside pepr.toml)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import shlex
    from pathlib import Path

    from pepr_gate.commands.ab import _threshold
    from pepr_gate.commands.check import write_output
    from pepr_gate.config import load_config
    from pepr_gate.decide.gate import Settings
    from pepr_gate.services.bisect import BisectRequest, run_bisect
    from pepr_gate.services.bisect_report import headline, render

    threshold = _threshold(args.threshold)
    config = load_config(args.config, required=args.config is not None)
    req = BisectRequest(good=args.good, bad=args.bad, pairs=args.pairs, threshold=threshold,
                        meter=args.meter, store_url=args.store, no_store=args.no_store)
    done = run_bisect(config, req,
                      announce=lambda line: print(f"pepr-gate: {line}", flush=True))
    limit = Settings.from_config(config, threshold=threshold).max_pepr_drop
    command = shlex.join(["pepr-gate", "bisect", "--good", done.good_sha, "--bad", done.bad_sha,
                          "--pairs", str(done.pairs), "--threshold", f"{limit:g}"])
    out = args.markdown or str(Path(config.root) / ".pepr" / "bisect.md")
    write_output(out, render(done, limit, command))
    print(f"pepr-gate: {headline(done, limit)}")
    if done.first_bad:
        print(f"pepr-gate: first bad commit {done.first_bad} {done.subject}")
    print(f"pepr-gate: report written to {out}")
    return 0
