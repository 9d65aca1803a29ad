"""The environment the measured job gets: pepr-gate's own secrets taken out.

Inside the Action, pepr-gate's step holds a token that may write to pull requests
(`GITHUB_TOKEN`), the runner's internal tokens and the Action's own `PEPR_*` inputs (a
PostgreSQL store URL carries a password). The training command is the pull request's
code: it must not inherit any of them. A config that really needs one sets it back on
purpose with `[run] env` (documented in docs/reliability.md).
"""

from __future__ import annotations

from collections.abc import Mapping

SECRET_NAMES = frozenset({"GITHUB_TOKEN", "GH_TOKEN", "ACTIONS_RUNTIME_TOKEN"})
SECRET_PREFIXES = ("ACTIONS_ID_TOKEN_REQUEST_", "PEPR_")


def is_withheld(name: str) -> bool:
    return name in SECRET_NAMES or name.startswith(SECRET_PREFIXES)


def job_environment(
    environ: Mapping[str, str], overrides: Mapping[str, str]
) -> tuple[dict[str, str], list[str]]:
    """(the job's environment, the names withheld from it), `[run] env` applied last."""
    withheld = sorted(name for name in environ if is_withheld(name) and name not in overrides)
    env = {k: v for k, v in environ.items() if not is_withheld(k)}
    env.update(overrides)
    return env, withheld
