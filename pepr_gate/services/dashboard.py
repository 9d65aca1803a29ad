"""`pepr-gate dashboard` and `ci`'s dashboard: runs from a store -> a static site.

The site comes from `make_site`, which both writers share: a folder (`--out`,
or the path `ci` hands to `actions/upload-pages-artifact`) and the git data branch's
`site/` folder, committed together with the runs.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pepr_gate.errors import InputError

if TYPE_CHECKING:
    from pepr_gate.config import Config
    from pepr_gate.publish.dashboard.data import Site, Verdict
    from pepr_gate.records import CheckResult, RunRecord
    from pepr_gate.store.summary import RunSummary

DEFAULT_OUT = Path(".pepr") / "dashboard"


@dataclass(frozen=True)
class DashboardOptions:
    store: str | None = None
    out: Path = DEFAULT_OUT
    branches: list[str] = field(default_factory=list)
    limit: int | None = None
    title: str | None = None
    repo_url: str | None = None
    checks: list[Path] = field(default_factory=list)
    rebuild: bool = False


@dataclass(frozen=True)
class Built:
    out: Path
    runs: int
    branches: int
    base_branch: str | None


def repo_url(config: Config, given: str | None, env: Mapping[str, str], root: Path) -> str | None:
    """Where commit links point: --repo-url, [dashboard] repo_url, GitHub's env, or origin."""
    from pepr_gate.publish.dashboard.links import checked_repo_url, web_url

    explicit = given or config.dashboard.repo_url
    if explicit:
        url = checked_repo_url(explicit)
        if url is None:
            source = "--repo-url" if given else f"{config.source}: field 'dashboard.repo_url'"
            raise InputError(f"{source}: {explicit!r} is not a plain http(s) address",
                             hint="give the repository's web page, e.g. https://github.com/o/r "
                             "(letters, digits and - . _ ~ / in its path)")
        return url
    server, repo = env.get("GITHUB_SERVER_URL"), env.get("GITHUB_REPOSITORY")
    if server and repo:
        return checked_repo_url(f"{server.rstrip('/')}/{repo}")
    try:
        got = subprocess.run(["git", "remote", "get-url", "origin"], cwd=root,
                             capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return web_url(got.stdout) if got.returncode == 0 else None


def make_site(
    runs: Iterable[RunSummary | RunRecord],
    config: Config,
    *,
    store: str,
    title: str | None = None,
    branches: list[str] | None = None,
    limit: int | None = None,
    repo: str | None = None,
    verdicts: Mapping[str, Verdict] | None = None,
) -> Site:
    """What the page shows; `render_site(make_site(...))` gives its files."""
    from pepr_gate.publish.dashboard.data import Site, select_runs
    from pepr_gate.publish.dashboard.links import redact
    from pepr_gate.publish.dashboard.site import prepare

    budgets = config.gate.budgets
    site = Site(
        title=title or config.dashboard.title or "PePR history",
        runs=select_runs(runs, branches, limit),
        repo_url=repo,
        budgets={"energy_kwh": budgets.energy_kwh, "carbon_kg": budgets.carbon_kg,
                 "duration_s": budgets.duration_s, "gpu_memory_gb": budgets.gpu_memory_gb},
        verdicts=dict(verdicts or {}),
        store=redact(store),
    )
    site = prepare(site, wanted=branches, configured_base=config.gate.base_branch)
    from pepr_gate.services.changes import dashboard_markers

    site.changes = dashboard_markers(site.runs, site.branches)
    return site


def build_dashboard(opts: DashboardOptions, config: Config, env: Mapping[str, str]) -> Built:
    from pepr_gate.publish.dashboard.data import load_verdicts
    from pepr_gate.publish.dashboard.site import (
        VERDICTS_FILE,
        render_site,
        verdicts_of,
        write_site,
    )
    from pepr_gate.records import load_check_result
    from pepr_gate.store import open_store

    root = Path(config.root).resolve() if config.source else Path.cwd()
    url = opts.store or config.store.url
    checks = [load_check_result(p) for p in opts.checks]  # all valid before anything is written
    repo = repo_url(config, opts.repo_url, env, root)
    verdicts = {}
    with open_store(url, root=root, must_exist=True) as store:
        # The drawn fields only; --rebuild reads and validates every record in full.
        runs: Sequence[RunSummary | RunRecord] = (
            store.runs() if opts.rebuild else store.summaries())
        from pepr_gate.store.git import GitStore

        if isinstance(store, GitStore):  # the verdicts `ci` kept beside the runs
            verdicts.update(load_verdicts(store.file(f"site/{VERDICTS_FILE}"), url))
    ledger = opts.out / VERDICTS_FILE
    if ledger.is_file():  # verdicts of earlier builds stay on the page
        verdicts.update(load_verdicts(ledger.read_bytes(), str(ledger)))
    for check in checks:
        verdicts.update(verdicts_of(check))
    site = make_site(runs, config, store=url, title=opts.title, branches=opts.branches,
                     limit=opts.limit, repo=repo, verdicts=verdicts)
    # The page opens on what was checked: its branch (fail markers and all) and its base.
    site.opened = [b for c in checks for b in (c.head_branch, c.base_branch) if b]
    write_site(render_site(site), opts.out)
    return Built(opts.out, len(site.runs), len(site.branches), site.base_branch)


def stores_site(store_url: str) -> bool:
    """A git data branch gets the site committed with the runs (its `site/` folder)."""
    return store_url.strip().lower().startswith("git:")


def _site_file(path: Path | None) -> Callable[[str], bytes | None]:
    """A reader of the site already written at `path` (None when there is none)."""
    def read_old(name: str) -> bytes | None:
        old = (path / name) if path is not None else None
        return old.read_bytes() if old is not None and old.is_file() else None

    return read_old


def publish_ci(
    records: list[RunRecord],
    result: CheckResult | None,
    config: Config,
    *,
    store_url: str,
    path: Path | None,
    env: Mapping[str, str],
) -> str:
    """`ci`'s dashboard; returns the notice that says where it went.

    With a git store the records were held back by `execute`: they and `site/` go into
    one commit (retried on a lost race like any write). With another store they are
    already stored and the site is written to `path` only.
    """
    from pepr_gate.publish.dashboard.data import load_verdicts
    from pepr_gate.publish.dashboard.site import (
        VERDICTS_FILE,
        render_site,
        verdicts_of,
        write_site,
    )
    from pepr_gate.store import open_store

    if not stores_site(store_url) and path is None:
        return (f"dashboard: true, but the store {store_url} is not a git: store and no "
                "dashboard-path is set: no site was written")
    root = Path(config.root).resolve()
    repo = repo_url(config, None, env, root)
    new = verdicts_of(result) if result is not None else {}
    built: dict[str, bytes] = {}

    def build(runs: Sequence[RunSummary | RunRecord],
              read: Callable[[str], bytes | None]) -> dict[str, bytes]:
        verdicts = load_verdicts(read(VERDICTS_FILE), VERDICTS_FILE)
        verdicts.update(new)
        site = make_site(runs, config, store=store_url, repo=repo, verdicts=verdicts)
        built.clear()
        built.update(render_site(site))
        return built

    where = []
    with open_store(store_url, root=root) as store:
        if stores_site(store_url):
            from pepr_gate.store.git import GitStore

            assert isinstance(store, GitStore)
            store.publish(records, folder="site", build=build)
            where.append(f"the site/ folder of branch {store.branch!r}")
        else:
            build(store.summaries(), _site_file(path))
    if path is not None:
        try:
            write_site(built, path)
        except InputError as exc:  # the runs are stored; the gate's result stands
            return f"dashboard not written to {path}: {exc.message} ({exc.hint})"
        where.append(str(path))
    return "dashboard written to " + " and ".join(where)
