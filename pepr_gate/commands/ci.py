"""`pepr-gate ci`: everything one workflow step does on a pull request or a push.

Each flag can also come from the `PEPR_*` variable the Action sets from its input of the
same name; a flag given on the command line wins. Values are validated here, before any
training starts, and a bad one exits 2 naming the Action input.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from typing import Any, Literal

from pepr_gate.errors import InputError
from pepr_gate.publish.github import COMMENT_MODES as MODES

# flag dest -> (environment variable, Action input name)
ENV_NAMES = {
    "config": ("PEPR_CONFIG", "config"),
    "comment": ("PEPR_COMMENT", "comment"),
    "fail_on_regression": ("PEPR_FAIL_ON_REGRESSION", "fail-on-regression"),
    "repeats": ("PEPR_REPEATS", "repeats"),
    "store": ("PEPR_STORE", "store"),
    "threshold": ("PEPR_THRESHOLD", "threshold"),
    "meter": ("PEPR_METER", "meter"),
    "dashboard": ("PEPR_DASHBOARD", "dashboard"),
    "dashboard_path": ("PEPR_DASHBOARD_PATH", "dashboard-path"),
}


def register(sub: Any) -> None:
    p = sub.add_parser(
        "ci",
        help="run, check, comment and publish inside GitHub Actions",
        description="Inside a GitHub Actions job: measure the PR head (or pushed branch), "
        "check it against the base branch's history, update the one PR comment, and write "
        "the job summary, step outputs, an annotation and .pepr/ci/*.json. "
        "Every flag may also be set by its PEPR_* environment variable.",
    )
    p.add_argument("--config", help="config file (PEPR_CONFIG; Action input `config`)")
    p.add_argument(
        "--comment", help=f"comment mode: {' | '.join(MODES)} (PEPR_COMMENT; default always)"
    )
    p.add_argument(
        "--fail-on-regression",
        metavar="true|false",
        help="false: a failed gate is reported but exits 0 (PEPR_FAIL_ON_REGRESSION; default true)",
    )
    p.add_argument(
        "--repeats",
        help="runs per measurement, or auto: one at a time until the verdict is decided, at "
        "most [run] max_repeats (PEPR_REPEATS; default: the config's)",
    )
    p.add_argument("--store", help="history store URL (PEPR_STORE; default: the config's)")
    p.add_argument(
        "--threshold",
        help="largest allowed PePR drop, 0.05 or 5%% (PEPR_THRESHOLD; default: the config's)",
    )
    p.add_argument("--meter",
                   help="auto | process | prometheus | replay:TRACE.json (PEPR_METER)")
    p.add_argument("--dashboard", metavar="true|false",
                   help="publish the history dashboard: into the git store's site/ folder, "
                   "and to --dashboard-path when given (PEPR_DASHBOARD; default false)")
    p.add_argument("--dashboard-path", metavar="DIR",
                   help="also write the dashboard here, e.g. for actions/upload-pages-artifact "
                   "(PEPR_DASHBOARD_PATH)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pepr_gate.errors import PeprError
    from pepr_gate.services.ci import publish_failure, run_ci

    env = dict(os.environ)
    try:
        opts = options(args, env)
    except PeprError as exc:  # a bad input is published like any other failure
        publish_failure(None, exc, [], env)
        raise
    return run_ci(opts, env)


def options(args: argparse.Namespace, env: Mapping[str, str]) -> Any:
    from pepr_gate.services.ci import CiOptions

    def value(dest: str) -> str:
        given = getattr(args, dest, None)
        if given is not None:
            return str(given).strip()
        return env.get(ENV_NAMES[dest][0], "").strip()

    config = value("config")
    if not config:
        raise InputError(
            "input `config` is required (--config or PEPR_CONFIG is empty)",
            hint="set `with: config: pepr.toml` on the pepr-gate step",
        )
    comment = value("comment") or "always"
    if comment not in MODES:
        raise _bad("comment", comment, f"use one of {', '.join(MODES)}")
    return CiOptions(
        config=config,
        comment=comment,
        fail_on_regression=_bool(value("fail_on_regression") or "true", "fail_on_regression"),
        repeats=_repeats(value("repeats")),
        store=value("store") or None,
        threshold=_threshold(value("threshold")),
        meter=value("meter") or None,
        dashboard=_bool(value("dashboard") or "false", "dashboard"),
        dashboard_path=value("dashboard_path") or None,
    )


def _bad(dest: str, given: str, hint: str) -> InputError:
    env_name, input_name = ENV_NAMES[dest]
    return InputError(f"input `{input_name}` ({env_name}) = {given[:60]!r} is not valid", hint=hint)


def _bool(text: str, dest: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "yes", "1"):
        return True
    if lowered in ("false", "no", "0"):
        return False
    raise _bad(dest, text, "use true or false")


def _repeats(text: str) -> int | Literal["auto"] | None:
    if not text:
        return None
    if text.lower() == "auto":
        return "auto"
    if not text.isdigit() or not 1 <= int(text) <= 100:
        raise _bad("repeats", text, "use a whole number from 1 to 100, or auto")
    return int(text)


def _threshold(text: str) -> float | None:
    if not text:
        return None
    percent = text.endswith("%")
    try:
        number = float(text.rstrip("%").strip())
    except ValueError:
        raise _bad(
            "threshold", text, "use a fraction such as 0.05, or a percentage such as 5%"
        ) from None
    if percent:
        number /= 100
    if not 0 <= number < 1:
        raise _bad("threshold", text, "the allowed drop must be at least 0 and below 1 (100%)")
    return number
