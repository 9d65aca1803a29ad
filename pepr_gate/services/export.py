"""Send stored runs to the trackers a team uses, after the store write and never instead of it.

MLflow logging is on when the config has `[export.mlflow]` or the command was given
`--mlflow` (then the table's keys, or their defaults and `MLFLOW_TRACKING_URI`, apply).
What can be checked before a job starts is checked first (`check_export`): the client
must be installed. A tracker that is down or refuses costs one warning line; the run,
its record file and the history store are already written and stay as they are.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from pepr_gate.config import Config, MlflowExportConfig
from pepr_gate.errors import ConfigError
from pepr_gate.redact import redact

if TYPE_CHECKING:
    from pepr_gate.publish.exports.mlflow_runs import MlflowTarget
    from pepr_gate.records import RunRecord

INSTALL_HINT = "pip install 'pepr-gate[mlflow]' (the mlflow client) into pepr-gate's environment"


def mlflow_target(config: Config, env: Mapping[str, str], *, flag: bool = False
                  ) -> MlflowTarget | None:
    """Where runs go, or None when MLflow logging is off."""
    from pepr_gate.publish.exports.mlflow_runs import MlflowTarget

    table = config.export.mlflow
    if table is None and not flag:
        return None
    table = table or MlflowExportConfig()
    uri = table.tracking_uri or env.get("MLFLOW_TRACKING_URI") or None
    _mask_password(uri)
    return MlflowTarget(
        tracking_uri=uri,
        experiment=table.experiment, run_name=table.run_name, tags=dict(table.tags),
        timeout_s=table.timeout_s, active_run_id=env.get("MLFLOW_RUN_ID") or None,
    )


def _mask_password(uri: str | None) -> None:
    """A password in the tracking URI is masked in every message from now on (MLflow's
    exception texts quote the URL, sometimes decoded)."""
    from urllib.parse import unquote, urlsplit

    from pepr_gate.redact import add_secret

    try:
        password = urlsplit(uri or "").password
    except ValueError:
        return
    if password:
        add_secret(password)
        add_secret(unquote(password))


def check_export(config: Config, *, flag: bool = False) -> None:
    """Before the job: MLflow logging asked for, but no client to log with -> exit 2."""
    if config.export.mlflow is None and not flag:
        return
    try:
        missing = importlib.util.find_spec("mlflow") is None
    except (ImportError, ValueError):  # a broken or blocked install
        missing = True
    if missing:
        where = "--mlflow" if flag else f"{config.source or 'the config'}: [export.mlflow]"
        raise ConfigError(f"{where} needs the mlflow package, which is not installed",
                          hint=f"{INSTALL_HINT}; or remove [export.mlflow]")


def export_runs(config: Config, records: Sequence[RunRecord], env: Mapping[str, str], *,
                flag: bool = False, verdict: str | None = None,
                unstored: Sequence[str] = ()) -> list[str]:
    """Log the records; returns the lines to print (what was logged, or the warning).
    `unstored`: the record files of runs that were not stored (`--no-store`)."""
    target = mlflow_target(config, env, flag=flag)
    if target is None or not records:
        return []
    from pepr_gate.publish.exports.mlflow_runs import ExportFailed, log_records

    try:
        ids = log_records(target, records, verdict)
    except ExportFailed as exc:
        kept = (f"they were not stored (--no-store); their record is in {', '.join(unstored)}"
                if unstored else "they are stored as usual")
        return [redact(f"warning: the runs were not logged to {target.where}: {exc}; {kept}")]
    what = "run" if len(records) == 1 else "runs"
    return [redact(f"logged {len(records)} {what} to {target.where} (MLflow run "
                   f"{', '.join(ids)})")]


def export_verdict(config: Config, run_ids: Sequence[str], verdict: str,
                   env: Mapping[str, str], *, flag: bool = False) -> list[str]:
    """Tag the MLflow runs of a check's candidate runs with the verdict (on with
    `[export.mlflow]` or `check --mlflow`)."""
    target = mlflow_target(config, env, flag=flag)
    if target is None or not run_ids:
        return []
    from pepr_gate.publish.exports.mlflow_runs import ExportFailed, tag_verdict

    try:
        tagged = tag_verdict(target, run_ids, verdict)
    except ExportFailed as exc:
        return [redact(f"warning: the verdict was not tagged in {target.where}: {exc}")]
    if not tagged:
        return [f"note: no MLflow run of these runs in {target.where}, so the verdict "
                "was not tagged (log them with `pepr-gate run --mlflow`)"]
    return [f"tagged {tagged} MLflow run(s) in {target.where} with verdict {verdict}"]


def find_run(ref: str, config: Config, store_url: str | None) -> tuple[RunRecord, str]:
    """A run by record file, by id in the store, or `latest` (the newest ok run of the
    current branch); returns it with the name to use in messages."""
    from pathlib import Path

    from pepr_gate.errors import InputError
    from pepr_gate.records import load_run_record
    from pepr_gate.store import open_store

    path = Path(ref)
    if ref != "latest" and (path.suffix == ".json" or path.exists()):
        return load_run_record(path), str(path)
    url = store_url or config.store.url
    root = Path(config.root).resolve() if config.source else Path.cwd()
    with open_store(url, root=root, must_exist=True) as store:
        if ref == "latest":
            from pepr_gate.measure.gitinfo import current_branch

            branch = current_branch(Path.cwd())
            found = store.runs(branch, limit=1, status="ok")
            if not found:
                raise InputError(f"{store.url}: no ok run stored for branch {branch}",
                                 hint="measure one with `pepr-gate run`, or name a run id")
            return found[0], store.url
        match = [r for r in store.runs(None) if r.id == ref]
    if not match:
        raise InputError(f"{ref}: neither a run record file nor a run id in {url}",
                         hint="`pepr-gate history --all-branches` lists the stored run ids")
    return match[0], url


def update_card(path_text: str, block: str) -> None:
    """Merge the emissions block into a model card file in place (written atomically)."""
    from pathlib import Path

    from pepr_gate.errors import InputError
    from pepr_gate.fileio.atomic import write_atomic
    from pepr_gate.publish.exports.model_card import merge_front_matter

    path = Path(path_text)
    if not path.is_file():
        raise InputError(f"{path}: not a model card file (missing, or not a regular file)",
                         hint="give the model's README.md; leave out --update to print only")
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the card: {exc}",
                         hint="the card must be a UTF-8 text file") from None
    try:
        merged = merge_front_matter(text, block)
    except InputError as exc:
        raise InputError(f"{path}: {exc.message}", hint=exc.hint) from None
    try:
        write_atomic(path, merged, error=InputError, hint=_WRITE_HINT)
    except InputError as exc:  # e.g. the temporary file beside the card's target
        target = path.resolve()
        shown = f"{path} (a link to {target})" if target != path.absolute() else str(path)
        why = exc.message.split(": ", 1)[-1]
        raise InputError(f"{shown}: cannot write the card: {why}", hint=_WRITE_HINT) from None


_WRITE_HINT = ("the card is replaced through a temporary file in its own folder, which must be "
               "writable; or leave out --update and paste the printed block yourself")
