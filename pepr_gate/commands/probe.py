"""`pepr-gate probe [--json] [--prometheus]`: what this machine can measure, and why not.

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
    p.add_argument("--prometheus", action="store_true",
                   help="also ask [meter.prometheus]'s server which energy series each node "
                        "has and when each was last scraped")
    p.add_argument("--config", metavar="PATH",
                   help="pepr.toml or pyproject.toml for --prometheus (default: current folder)")
    p.add_argument("--powercap", type=Path, default=Path("/sys/class/powercap"),
                   metavar="DIR", help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pepr_gate.measure.probe import collect
    from pepr_gate.measure.threads import unset_thread_note

    findings = collect(args.powercap, dict(os.environ))
    threads = unset_thread_note(os.environ, os.cpu_count(), _run_env(args.config))
    findings["threads"] = {"cpus": os.cpu_count(), "note": threads}
    if args.prometheus:
        findings["prometheus"] = _prometheus(args.config)
    if args.json:
        print(json.dumps(findings, indent=2))
    else:
        from pepr_gate.publish.probe_table import print_probe, print_prometheus_probe

        print_probe(findings)
        if args.prometheus:
            print_prometheus_probe(findings["prometheus"])
        if threads:
            print(f"\nThreads: {threads}")
    return 0


def _run_env(config_path: str | None) -> list[dict[str, str]]:
    """`[run] env` of the config here, when one is readable (probe never needs one)."""
    from pepr_gate.config import load_config
    from pepr_gate.errors import PeprError

    try:
        config = load_config(config_path)
    except PeprError:
        return []
    return [dict(config.run.env)]


def _prometheus(config_path: str | None) -> dict[str, Any]:
    from pepr_gate.config import load_config
    from pepr_gate.errors import ConfigError
    from pepr_gate.measure.meter.prometheus_probe import probe_prometheus

    config = load_config(config_path)
    if config.meter.prometheus is None:
        raise ConfigError(f"{config.source}: no [meter.prometheus] table to probe",
                          hint="add one with url and nodes; see docs/prometheus.md")
    return probe_prometheus(config.meter.prometheus, dict(os.environ))
