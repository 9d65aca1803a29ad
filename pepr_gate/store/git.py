"""History on an orphan branch of the repository's `origin` (`git:BRANCH`).

Layout of the data branch:

    pepr-store.json                          {"schema_version": 1}
    runs/<branch>/<created>-<id>.json        one run record per file
    summaries/<branch>.jsonl                 what the dashboard draws (gitsummary.py)
    site/                                    the dashboard, when `ci` publishes one

All git work happens in a private bare repository under `.pepr/git-store/`, built with
plumbing (hash-object, update-index on a private index, commit-tree), so the user's
working tree, index and HEAD are never touched. A write fetches, commits on top and
pushes; a rejected push (another job won the race) is retried on the new tip.

Credentials never touch the disk: the origin URL, the checkout's own `http.*`,
`credential.*` and `url.*` settings (actions/checkout's token when it persists one) and,
inside GitHub Actions, an Authorization header made from `GITHUB_TOKEN` reach the git
commands through `GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n` in their
environment only, so `persist-credentials: false` works and nothing is left behind.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from pepr_gate.errors import StoreError
from pepr_gate.fileio.atomic import write_atomic
from pepr_gate.records import RunRecord
from pepr_gate.redact import redact_url
from pepr_gate.store.base import Store
from pepr_gate.store.codec import DuplicateRun, decode_record
from pepr_gate.store.gitcmd import (
    ConfigPairs,
    git,
    last_line,
    push_reason,
    refused_for_good,
    remote_auth,
)
from pepr_gate.store.gitlayout import (
    check_branch_name,
    check_marker,
    locate,
    locked_cache,
    matches,
    tries_text,
)
from pepr_gate.store.gitlayout import (
    run_path as run_path,
)
from pepr_gate.store.gitlayout import (
    safe_name as safe_name,
)
from pepr_gate.store.gitpublish import FolderBuilder as FolderBuilder
from pepr_gate.store.gitpublish import folder_commit
from pepr_gate.store.gitsummary import all_entries, updated
from pepr_gate.store.gittree import MARKER, commit_files, read_blobs, record_names
from pepr_gate.store.summary import RunSummary

if TYPE_CHECKING:
    from tenacity import RetryCallState

TRIES = 6
BACKOFF_S = 0.25


class _Unreachable(StoreError):
    """Fetching failed; a write retries, a read reports it."""


class _PushRefused(StoreError):
    """A push was refused (a lost race, a protected branch); a write retries it."""


class _PushRefusedForGood(StoreError):
    """A push the remote will refuse every time (the token may not push): no retry."""


class GitStore(Store):
    def __init__(self, branch: str, *, root: Path, tries: int = TRIES,
                 backoff_s: float = BACKOFF_S, must_exist: bool = False) -> None:
        self.url = f"git:{branch}"
        self.branch = branch
        self._must_exist = must_exist
        self._root = Path(root)
        self._tries = tries
        self._attempts = 0
        self._backoff = backoff_s
        check_branch_name(branch, root)
        self._top, origin = locate(self.url, self._root)
        self.origin = self._resolve(origin)
        self.shown_origin = redact_url(self.origin)  # the only form messages may carry
        self._cache = self._top / ".pepr" / "git-store" / f"{safe_name(branch)}.git"
        self._remote: ConfigPairs = (("remote.origin.url", self.origin),
                                     *remote_auth(self._top, self.origin))

    def _resolve(self, url: str) -> str:
        # A relative local remote (`../origin.git`) means relative to the user's checkout.
        looks_remote = "://" in url or re.match(r"^[\w.-]+@[\w.-]+:", url)
        if not looks_remote and not Path(url).is_absolute():
            return str((self._top / url).resolve())
        return url

    @contextmanager
    def _session(self) -> Iterator[None]:
        """Create the private repository once and hold a lock on it while using it."""
        with locked_cache(self._cache):
            yield

    def _fetch(self) -> str | None:
        """The data branch's tip on origin, or None when it does not exist yet."""
        ref = f"refs/remotes/origin/{self.branch}"
        got = git("fetch", "-q", "--no-tags", "origin", f"+refs/heads/{self.branch}:{ref}",
                   cwd=self._cache, check=False, config=self._remote)
        if got.returncode != 0:
            if b"couldn't find remote ref" in got.stderr:
                return None
            raise _Unreachable(
                f"cannot fetch branch {self.branch!r} of {self.shown_origin}: "
                f"{last_line(got.stderr)}",
                hint="check that origin is reachable and this runner may read it")
        tip = git("rev-parse", "--verify", ref, cwd=self._cache)
        tip_sha = tip.stdout.decode().strip()
        check_marker(self._cache, tip_sha, self.branch, self.shown_origin)
        return tip_sha

    def _missing(self) -> None:
        """A reader of a branch origin does not have: a typo must not read as empty
        history (and a `check` pass as inconclusive); the first stored run creates it."""
        if self._must_exist:
            raise StoreError(
                f"store {self.url}: origin ({self.shown_origin}) has no branch "
                f"{self.branch!r}, so there is no history to read",
                hint="check the branch name in --store or [store] url; the first "
                "`pepr-gate run` or `pepr-gate ci` that stores a run creates it")

    def check_writable(self) -> None:
        """Before a job: origin answers, and the branch is a data branch (or a new one)."""
        with self._session():
            if self._fetch() is not None:
                return  # exists on origin with the store's marker (_fetch checks it)
        for ref in (f"refs/heads/{self.branch}", f"refs/remotes/origin/{self.branch}"):
            known = git("rev-parse", "-q", "--verify", f"{ref}^{{commit}}", cwd=self._top,
                         check=False)
            marked = git("cat-file", "-e", f"{ref}:{MARKER}", cwd=self._top, check=False)
            if known.returncode == 0 and marked.returncode != 0:
                raise StoreError(
                    f"branch {self.branch!r} holds this repository's code, not a pepr-gate "
                    "store; refusing to write run records onto it",
                    hint="pick a branch of its own for the store, e.g. --store git:pepr-data")

    def append(self, record: RunRecord) -> None:
        path = run_path(record)
        data = (record.to_json() + "\n").encode()

        def commit(parent: str | None) -> str:
            self._refuse_stored(parent, [record])
            files = {path: data, **updated(self._cache, parent, [(path, data, record)],
                                           self._label)}
            message = f"pepr-gate: run {record.id} on {record.branch or '(no branch)'}"
            return commit_files(self._cache, parent, files, replace=None, message=message)

        with self._session():
            last = self._push_until(commit)
        if last is None:
            return
        kept = self._keep_locally(record)
        raise StoreError(
            f"could not store run {record.id!r} on branch {self.branch!r} of {self.shown_origin} "
            f"after {tries_text(self._attempts)}: {last}",
            hint=f"nothing is lost: the record is in {kept}; once origin accepts pushes, "
            f"store it with `pepr-gate history --store {self.url} --import {kept}`")

    def _push_until(self, make_commit: Callable[[str | None], str]) -> str | None:
        """Fetch the tip, commit on it and push, retrying a lost race or an unreachable
        origin with jittered back-off (tenacity); None once pushed, else the last
        failure's reason. A refusal no retry can change (no permission) stops at once."""
        from tenacity import Retrying, retry_if_exception_type, stop_after_attempt

        def one_try() -> None:
            self._attempts += 1
            commit = make_commit(self._fetch())
            pushed = git("push", "-q", "origin", f"{commit}:refs/heads/{self.branch}",
                         cwd=self._cache, check=False, config=self._remote)
            if pushed.returncode != 0:
                reason = push_reason(pushed.stderr)
                if refused_for_good(pushed.stderr):
                    raise _PushRefusedForGood(reason)
                raise _PushRefused(reason)

        self._attempts = 0
        if self._tries < 1:
            return "no attempt made"
        try:
            Retrying(retry=retry_if_exception_type((_Unreachable, _PushRefused)),
                     stop=stop_after_attempt(self._tries), wait=self._jittered,
                     reraise=True)(one_try)
        except (_Unreachable, _PushRefused, _PushRefusedForGood) as exc:
            return exc.message
        return None

    def _jittered(self, state: RetryCallState) -> float:
        # Doubling back-off capped at 4 s; the jitter keeps racing jobs from colliding
        # again in lockstep.
        wait = min(self._backoff * 2 ** (state.attempt_number - 1), 4.0)
        return wait * random.uniform(0.5, 1.5)

    def _has_id(self, tip: str, run_id: str) -> bool:
        listed = git("ls-tree", "-r", "--name-only", tip, "runs/", cwd=self._cache)
        suffix = f"-{safe_name(run_id)}.json"
        return any(name.endswith(suffix) for name in listed.stdout.decode().splitlines())

    def _keep_locally(self, record: RunRecord) -> Path:
        path = self._root / ".pepr" / "runs" / f"{safe_name(record.id)}.json"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, record.to_json() + "\n")
        return path

    def runs(
        self,
        branch: str | None = None,
        *,
        limit: int | None = None,
        status: str | None = None,
        fingerprint: str | None = None,
        config_hash: str | None = None,
    ) -> list[RunRecord]:
        if limit is not None and limit <= 0:
            return []
        with self._session():
            tip = self._fetch()
            if tip is None:
                self._missing()
                return []
            prefix = "runs/" if branch is None else f"runs/{safe_name(branch)}/"
            names = self._record_names(tip, prefix)
            names.sort(key=lambda n: n.rsplit("/", 1)[-1], reverse=True)
            out: list[RunRecord] = []
            chunk = max(50, 2 * (limit or 0))
            for start in range(0, len(names), chunk):
                for name, blob in self._read(tip, names[start:start + chunk]):
                    record = decode_record(blob, f"file {name} on branch {self.branch!r}")
                    if record is not None and matches(
                            record, branch, status, fingerprint, config_hash):
                        out.append(record)
                if limit is not None and len(out) >= limit:
                    break
        out.sort(key=lambda r: (r.created_at, r.id), reverse=True)
        return out if limit is None else out[:limit]

    def _record_names(self, tip: str, prefix: str) -> list[str]:
        return record_names(self._cache, tip, prefix, self.branch)

    def summaries(self, *, rebuild: bool = False) -> list[RunSummary]:
        """The drawn fields of every run, from the per-branch summary files
        (store/gitsummary.py); `rebuild` reads every record instead."""
        with self._session():
            tip = self._fetch()
            if tip is None:
                return []
            found = all_entries(self._cache, tip, self._label, rebuild=rebuild)
        return [summary for entries in found.values() for _, summary in entries.values()]

    @property
    def _label(self) -> str:
        return f"branch {self.branch!r}"

    def _read(self, tip: str, names: list[str]) -> list[tuple[str, bytes]]:
        return read_blobs(self._cache, tip, names)

    def publish(self, records: list[RunRecord], *, folder: str, build: FolderBuilder) -> None:
        """Append `records` and write what `build` makes into `folder/`, in ONE commit.

        The same fetch-commit-push loop as `append` (`_push_until`): on a lost race
        `build` runs again over the new tip's runs, so a site never drops a concurrent
        job's run. A push that keeps failing keeps every record locally and says how to
        store it later.
        """

        def commit(parent: str | None) -> str:
            self._refuse_stored(parent, records)
            return folder_commit(self._cache, parent, records, folder=folder, build=build,
                                 label=self._label)

        with self._session():
            last = self._push_until(commit)
        if last is None:
            return
        kept = [self._keep_locally(r) for r in records]
        raise StoreError(
            f"could not store {len(records)} run(s) and the {folder}/ folder on branch "
            f"{self.branch!r} of {self.shown_origin} after {tries_text(self._attempts)}: {last}",
            hint="nothing is lost: the records are in " + ", ".join(map(str, kept))
            + f"; once origin accepts pushes, store them with `pepr-gate history --store "
            f"{self.url} --import FILE...`")

    def file(self, path: str) -> bytes | None:
        """One file of the data branch's tip (e.g. `site/verdicts.json`), None if absent."""
        with self._session():
            tip = self._fetch()
            if tip is None:
                return None
            shown = git("cat-file", "blob", f"{tip}:{path}", cwd=self._cache, check=False)
            return shown.stdout if shown.returncode == 0 else None

    def _refuse_stored(self, parent: str | None, records: list[RunRecord]) -> None:
        """A DuplicateRun for an id already stored at `parent`: runs are never overwritten."""
        for record in records:
            if parent is not None and self._has_id(parent, record.id):
                raise DuplicateRun(
                    f"git store {self.branch!r}: run {record.id!r} is already stored; "
                    "pepr-gate never overwrites a stored run",
                    hint="each run needs a new id; re-run `pepr-gate run`")
