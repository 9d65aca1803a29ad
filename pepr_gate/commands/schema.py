"""`pepr-gate schema`: print the JSON Schema of the run record."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "schema",
        help="print the JSON Schema of the run record",
        description=(
            "Print the JSON Schema (draft 2020-12) of the run record, schema "
            "'pepr-gate/run/1', or with --check of the check result, 'pepr-gate/check/1'."
        ),
    )
    p.add_argument("--check", action="store_true", help="print the check result's schema instead")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pepr_gate.records import CheckResult, RunRecord

    model = CheckResult if args.check else RunRecord
    print(json.dumps(model.model_json_schema(by_alias=True), indent=2))
    return 0
