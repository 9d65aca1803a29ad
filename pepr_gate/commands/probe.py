"""`pepr-gate probe [--json]`: what this machine can measure, and why not.

The first thing to run on a new runner: `pepr_gate.measure.probe` tries every reading
once, `pepr_gate.publish.probe_table` explains each one that fails. Always exits 0: a
machine that can measure nothing is a finding, not an error.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "probe",
        help="show what this machine can measure (NVML, RAPL, container) and why not",
        description="Try every reading pepr-gate takes (GPU energy counter, power, "
                    "process lists, RAPL) once and explain what is missing.",
    )
    p.add_argument("--json", action="store_true", help="print the findings as JSON")
    p.add_argument("--powercap", type=Path, default=Path("/sys/class/powercap"),
                   metavar="DIR", help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pepr_gate.measure.probe import collect

    findings = collect(args.powercap, dict(os.environ))
    if args.json:
        print(json.dumps(findings, indent=2))
    else:
        from pepr_gate.publish.probe_table import print_probe

        print_probe(findings)
    return 0
