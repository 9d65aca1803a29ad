"""`pepr-gate ci`: measure, check, comment and publish for one workflow run.

Order matters to users: whatever happens (a regression, a failed training command, a
read-only token), the job summary, step outputs, one annotation and the JSON files are
written first; only then is the exit code decided.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from pepr_gate.errors import EXIT_GATE_FAILED, InputError, PeprError, StoreError
from pepr_gate.fileio.atomic import write_atomic
from pepr_gate.publish.github import writers as publish
from pepr_gate.publish.github.context import EventContext, load_event
from pepr_gate.publish.text import escape_md as md_text
from pepr_gate.publish.text import plain_text
from pepr_gate.services.ci_failure import CI_DIR, PUBLISHED, publish_failure
from pepr_gate.services.ci_options import CiOptions
from pepr_gate.services.ci_report import (
    Published,
    headline,
    outputs,
    post_comment,
    summary_markdown,
)

if TYPE_CHECKING:
    from pepr_gate.config import Config
    from pepr_gate.publish.github.api import GitHubClient
    from pepr_gate.records import CheckResult, RunRecord



def run_ci(opts: CiOptions, env: Mapping[str, str]) -> int:
    ctx: EventContext | None = None
    _clear_last_job()
    try:
        ctx = load_event(env)
        if ctx.kind in ("tag", "other"):
            return _nothing_to_do(ctx, env)
        from pepr_gate.config import load_config

        config = load_config(opts.config)
        token = env.get("GITHUB_TOKEN", "")
        client = _client(ctx, token)
        try:
            return _measure_and_publish(ctx, config, opts, env, client)
        finally:
            if client is not None:
                client.close()
    except BaseException as exc:
        # Every failure (a bad event payload, a config error, a cancelled job, a bug)
        # leaves the summary, outputs, error.json and report.md behind.
        publish_failure(ctx, exc, [], env)  # once: a published failure is marked
        raise


def _clear_last_job() -> None:
    """A self-hosted runner keeps the workspace: an older job's check.json must not sit
    beside this job's error.json (nor its run copies in the artifact)."""
    runs = CI_DIR / "runs"
    old = [CI_DIR / n for n in ("check.json", "error.json", "report.md", "pr-number")]
    if runs.is_dir() and not runs.is_symlink():
        old += runs.glob("*.json")
    for path in old:
        with contextlib.suppress(OSError):  # a folder there, or none: nothing to clear
            path.unlink()


def _client(ctx: EventContext, token: str) -> GitHubClient | None:
    if not token:
        return None
    from pepr_gate.publish.github.api import GitHubClient

    return GitHubClient(ctx.api_url, token)


def _measure_and_publish(
    ctx: EventContext,
    config: Config,
    opts: CiOptions,
    env: Mapping[str, str],
    client: GitHubClient | None,
) -> int:
    from pepr_gate.services.ci_store import ci_store
    from pepr_gate.services.export import check_export

    check_export(config)
    out = Published()
    paths: list[Path] = []
    store = ci_store(config, opts.store, env)
    if store.warning:
        publish.annotation("warning", store.warning)
        out.notices.append(md_text(store.warning))
    records: list[RunRecord] = []
    site_later = False
    try:
        if ctx.needs_pr_lookup:
            ctx = _lookup_pull(ctx, client)
        from pepr_gate.services.ci_commit import judged

        judge = judged(ctx, config, env)  # refuses a checkout of another commit (exit 2)
        config = judge.config
        if ctx.fork:
            out.notices.append("pull request from a fork: its runs are not stored in the "
                               "history (only runs of this repository's branches are)")
        # With a git store, the runs and the dashboard go into one commit after the check.
        site_later = opts.dashboard and not ctx.fork and _stores_site(store.url)
        from pepr_gate.services.ci_measure import measure

        measured = measure(ctx, config, opts, store.url, hold_back=site_later,
                           note=judge.record_note)
        records = measured.outcome.records
        paths = _copy_records(measured.outcome.record_paths)
        if measured.outcome.error is not None:
            raise measured.outcome.error
        assert measured.result is not None
        result = measured.result.model_copy(
            update={"notes": [*measured.result.notes, *judge.notes]})
        if ctx.kind == "pull_request":
            from pepr_gate.services.ci_own_config import judge_own_change

            result = judge_own_change(result, judge.measured_changes,
                                      _config_name(config, opts, env), config.gate.accept_label)
        out.notices += measured.notices
        out.notices += _export_and_dashboard(ctx, records, result, config, opts, store.url, env)
    except BaseException as exc:
        # A failed job's runs still join the history (the git store held them back for the
        # one-commit dashboard); an interrupt or a store failure stores nothing more.
        if (site_later and records and isinstance(exc, PeprError)
                and not isinstance(exc, StoreError)):
            _store_anyway(records, config, opts, store.url, env)
        publish_failure(ctx, exc, paths, env)
        raise
    return _publish_result(ctx, result, config, opts, env, client, out, paths)


def _export_and_dashboard(ctx: EventContext, records: list[RunRecord], result: CheckResult,
                          config: Config, opts: CiOptions, store_url: str,
                          env: Mapping[str, str]) -> list[str]:
    """The runs exported and the dashboard built (never for a fork); their notices."""
    notices: list[str] = []
    if not ctx.fork:  # like the store: a fork's runs go nowhere
        from pepr_gate.services.export import export_runs

        notices += export_runs(config, records, env, verdict=result.verdict)
    if opts.dashboard and not ctx.fork:
        notices.append(_dashboard_or_notice(records, result, config, opts, store_url, env))
    return notices


def _publish_result(ctx: EventContext, result: CheckResult, config: Config, opts: CiOptions,
                    env: Mapping[str, str], client: GitHubClient | None, out: Published,
                    paths: list[Path]) -> int:
    """The check's files, the comment, the summary, outputs and annotation; the exit code."""
    result = result.model_copy(update={"config_path": _config_name(config, opts, env)})
    _write(CI_DIR / "check.json", result.to_json())
    if ctx.kind == "pull_request" and ctx.pr_number is not None:
        _write(CI_DIR / "pr-number", f"{ctx.pr_number}\n")
    if ctx.kind == "pull_request":
        post_comment(ctx, result, opts, client, out)
    from pepr_gate.services.check import exit_code_for

    code = exit_code_for(result)
    gated = code == EXIT_GATE_FAILED and not opts.fail_on_regression
    if gated:
        out.notices.append("fail-on-regression is false: the failed gate does not fail this job")
    report = summary_markdown(ctx, result, out)
    report_path = _write(CI_DIR / "report.md", report)
    publish.write_summary(report, env)
    publish.set_outputs(outputs(result, report_path, paths, out.comment_url), env)
    publish.annotation(publish.level_for(result.verdict), headline(result))
    for notice in out.notices:  # the log is plain text: no Markdown escapes
        print(f"pepr-gate: {plain_text(notice)}")
    if out.error is not None:  # GitHub's API is misconfigured: the result stands, exit 2
        publish.annotation("error", f"pepr-gate: {out.error.message}")
        setattr(out.error, PUBLISHED, True)
        raise out.error
    return 0 if gated else code


def _stores_site(store_url: str) -> bool:
    from pepr_gate.services.dashboard import stores_site

    return stores_site(store_url)


def _dashboard(records: list[RunRecord], result: CheckResult | None, config: Config,
               opts: CiOptions, store_url: str, env: Mapping[str, str]) -> str:
    from pepr_gate.services.dashboard import publish_ci

    path = Path(opts.dashboard_path) if opts.dashboard_path else None
    return publish_ci(records, result, config, store_url=store_url, path=path, env=env)


def _dashboard_or_notice(records: list[RunRecord], result: CheckResult, config: Config,
                         opts: CiOptions, store_url: str, env: Mapping[str, str]) -> str:
    """The runs and the site in one commit; a push the token may not make leaves the
    verdict standing, with a notice that the runs were not stored."""
    try:
        return _dashboard(records, result, config, opts, store_url, env)
    except StoreError as exc:
        from pepr_gate.services.ci_measure import unstored_notice

        return unstored_notice(exc, store_url)


def _store_anyway(records: list[RunRecord], config: Config, opts: CiOptions, store_url: str,
                  env: Mapping[str, str]) -> None:
    """The check failed after the runs were held back for the dashboard: store them now."""
    try:
        _dashboard(records, None, config, opts, store_url, env)
    except PeprError as exc:
        print(f"pepr-gate: error: {exc.message}", file=sys.stderr)


def _config_name(config: Config, opts: CiOptions, env: Mapping[str, str]) -> str:
    """The config's path from the repository root: it names the comment (its marker).

    Relative to `working-directory` alone, two steps with `working-directory: a` and `b`
    and `config: pepr.toml` would share, and overwrite, one comment; an absolute path
    would differ between runners and duplicate it.
    """
    workspace = env.get("GITHUB_WORKSPACE")
    if workspace and config.source:
        try:
            # The folders resolved, the file itself not: a pepr.toml that links to
            # loose.toml is still pepr.toml's comment.
            given = Path(os.path.abspath(config.source))
            return (given.parent.resolve() / given.name).relative_to(
                Path(workspace).resolve()).as_posix()
        except (OSError, ValueError):
            pass
    return config.source or opts.config


def _lookup_pull(ctx: EventContext, client: GitHubClient | None) -> EventContext:
    if client is None:
        raise InputError(
            f"workflow_dispatch names pull request #{ctx.pr_number}, but GITHUB_TOKEN is empty",
            hint="pass `github-token: ${{ secrets.GITHUB_TOKEN }}` so pepr-gate can read the PR",
        )
    from pepr_gate.publish.github.api import GitHubError

    try:
        pull = client.get_pull(ctx.repo, ctx.pr_number or 0)
    except GitHubError as exc:
        raise InputError(
            f"cannot read pull request #{ctx.pr_number} of {ctx.repo}: {exc.message}",
            hint="check the dispatch input `pr` and the token's `pull-requests: read` permission",
        ) from None
    return ctx.with_pull(pull)


def _copy_records(paths: list[Path]) -> list[Path]:
    """Copies of the run records under .pepr/ci/, the folder to upload as an artifact."""
    (CI_DIR / "runs").mkdir(parents=True, exist_ok=True)
    copies = []
    for path in paths:
        target = CI_DIR / "runs" / path.name
        if path.resolve() != target.resolve():
            write_atomic(target, path.read_bytes(), hint=f"make {target.parent} writable, "
                         "or free some space")
        copies.append(target)
    return copies


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text, hint=f"make {path.parent} writable, or free some space")
    return path


def _nothing_to_do(ctx: EventContext, env: Mapping[str, str]) -> int:
    if ctx.kind == "tag":
        why = f"tag {ctx.tag!r}: pepr-gate measures pull requests and branch pushes, not tags"
    elif ctx.deleted:
        why = f"branch {ctx.branch!r} was deleted: nothing to measure"
    elif ctx.event_name == "merge_group":
        why = ("merge queue (merge_group): not measured; this job passes without a verdict. "
               "The pull request's own pepr-gate check decided before it was queued; to "
               "gate the queue too, run `pepr-gate run` and `pepr-gate check` in that job")
    else:
        why = f"event {ctx.event_name!r}: pepr-gate measures pull requests and branch pushes"
    publish.write_summary(f"## pepr-gate: nothing to do\n\n{md_text(why)}\n", env)
    publish.set_outputs({"verdict": "skipped", "comment-url": ""}, env)
    publish.annotation("notice", f"{why}; exit 0")
    return 0
