"""`pepr-gate bisect`: the first commit whose PePR fell past the threshold against --good.

`git bisect start --no-checkout` keeps the search's state in the repository without
touching the user's checkout (git moves BISECT_HEAD only). Each step checks the candidate
out into a temporary worktree and runs paired A/B against the good commit (its own
worktree, kept for the whole search) with `ab`'s machinery: ABBA order, one config for
both sides, the paired rule. fail -> `git bisect bad`, pass -> `git bisect good`; warn,
inconclusive or a stage that fails on the candidate -> `git bisect skip`, with the reason.
Whatever happens (found, failure, Ctrl-C, SIGTERM) `git bisect reset` runs and both
worktrees are removed; a signal arriving during that clean-up waits until it is done.
"""

from __future__ import annotations

import math
import re
import secrets
import signal
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pepr_gate.config import Config
from pepr_gate.errors import InputError, Interrupted
from pepr_gate.records import CheckResult, RunRecord
from pepr_gate.services.ab import (
    AbRequest,
    base_worktree,
    pair_count,
    repo_top,
    resolve_commit,
    side_config,
)

# The per-run helpers of `ab` are shared rather than copied: one place runs and stores
# a paired run.
from pepr_gate.services.ab import _one as run_one
from pepr_gate.services.ab import _store as store_one
from pepr_gate.services.ab_result import paired_result
from pepr_gate.services.run import Outcome
from pepr_gate.services.stops import sigterm_interrupts
from pepr_gate.store import Store, open_store
from pepr_gate.store.gitcmd import git

STOPPED = ("bisect stopped by SIGTERM; the repository is restored (no bisect state, no "
           "worktree left)")
BRANCH = "pepr-bisect"  # the stored runs' branch: never a gate baseline of a real branch
VERDICT_TO_TERM = {"fail": "bad", "pass": "good"}


@dataclass(frozen=True)
class BisectRequest:
    good: str
    bad: str
    pairs: int | None = None
    threshold: float | None = None
    meter: str | None = None
    store_url: str | None = None
    no_store: bool = False


@dataclass
class Step:
    sha: str
    subject: str
    term: str  # good | bad | skip
    reason: str
    pepr_change: float | None
    runs: int


@dataclass
class BisectOutcome:
    good_sha: str
    bad_sha: str
    pairs: int
    estimate: int
    steps: list[Step] = field(default_factory=list)
    first_bad: str | None = None
    subject: str = ""
    candidates: list[str] = field(default_factory=list)  # when only skipped ones are left
    runs: int = 0

    @property
    def drop(self) -> float | None:
        found = [s for s in self.steps if s.sha == self.first_bad]
        return found[0].pepr_change if found else None


def bisect_state(top: Path) -> Path:
    got = git("rev-parse", "--git-path", "BISECT_START", cwd=top)
    path = Path(got.stdout.decode().strip())
    return path if path.is_absolute() else top / path


def plan(config: Config, req: BisectRequest) -> tuple[Path, BisectOutcome]:
    """Check the request and say what it costs, before anything runs."""
    from pepr_gate.services.check import validate_threshold

    validate_threshold(req.threshold)
    pairs = pair_count(config, req.pairs)
    top = repo_top(Path(config.root))
    if bisect_state(top).exists():
        raise InputError(f"a git bisect is already in progress in {top}",
                         hint="finish it first (`git bisect reset`), then run pepr-gate bisect")
    good = resolve_commit(top, req.good, flag="--good")
    bad = resolve_commit(top, req.bad, flag="--bad")
    if good == bad or git("merge-base", "--is-ancestor", good, bad, cwd=top,
                          check=False).returncode != 0:
        raise InputError(f"--good {req.good} ({good[:12]}) is not an older ancestor of "
                         f"--bad {req.bad} ({bad[:12]})",
                         hint="--good names a commit before the drop, --bad one after it")
    count = int(git("rev-list", "--count", f"{good}..{bad}", cwd=top).stdout.decode())
    return top, BisectOutcome(good_sha=good, bad_sha=bad, pairs=pairs,
                              estimate=max(1, math.ceil(math.log2(max(count, 2)))))


def cost_line(done: BisectOutcome) -> str:
    runs = 2 * done.pairs
    return (f"bisect: about {done.estimate} step(s) x {runs} runs ({done.pairs} pair(s) of "
            f"the good commit {done.good_sha[:12]} and the candidate, ABBA) = about "
            f"{done.estimate * runs} runs of the stages")


def run_bisect(config: Config, req: BisectRequest,
               announce: Callable[[str], None] = print) -> BisectOutcome:
    top, done = plan(config, req)
    announce(cost_line(done))
    store = None if req.no_store else open_store(req.store_url or config.store.url,
                                                 root=Path(config.root))
    with ExitStack() as stack:
        if store is not None:
            stack.callback(store.close)
        stack.enter_context(sigterm_interrupts(STOPPED))
        stack.enter_context(_bisect_session(top, done))
        good_top = stack.enter_context(base_worktree(top, done.good_sha))
        good_config = side_config(config, top, good_top)
        line = git("bisect", "start", "--no-checkout", done.bad_sha, done.good_sha, cwd=top)
        output = line.stdout.decode()
        while not _finished(output, done):
            sha = _rev(top, "BISECT_HEAD")
            step = _step(config, good_config, top, sha, req, done, store)
            done.steps.append(step)
            announce(step_line(len(done.steps), step))
            output = _mark(top, step)
    if done.first_bad:
        done.subject = subject(top, done.first_bad)
    return done


def _step(config: Config, good_config: Config, top: Path, sha: str, req: BisectRequest,
          done: BisectOutcome, store: Store | None) -> Step:
    ab = AbRequest(base_ref=done.good_sha, pairs=done.pairs, meter=req.meter,
                   base_branch=BRANCH, head_branch=BRANCH, head_sha=sha,
                   threshold=req.threshold)
    with base_worktree(top, sha) as cand_top:
        sides = {"base": good_config, "head": side_config(config, top, cand_top)}
        base, head, total = _pairs(config, sides, ab, done, store)
    done.runs += len(total.records)
    title = subject(top, sha)
    if total.error is not None:
        if isinstance(total.error, Interrupted):
            raise total.error
        return Step(sha, title, "skip", f"a stage failed: {total.error.message}", None,
                    len(total.records))
    result = paired_result(config, base, head, ab, [])
    term = VERDICT_TO_TERM.get(result.verdict, "skip")
    return Step(sha, title, term, _reason(result), result.pepr_change, len(total.records))


def _pairs(config: Config, sides: dict[str, Config], ab: AbRequest, done: BisectOutcome,
           store: Store | None) -> tuple[list[RunRecord], list[RunRecord], Outcome]:
    from pepr_gate.services.ab import abba

    total = Outcome()
    base: list[RunRecord] = []
    head: list[RunRecord] = []
    session = secrets.token_hex(4)
    runs_dir = Path(config.root) / ".pepr" / "runs"
    for index, side in abba(done.pairs):
        record = run_one(sides[side], ab, session, side, index, done.good_sha, runs_dir, total)
        if record is None:
            break
        (base if side == "base" else head).append(record)
        if store is not None:
            store_one(store, record, total.record_paths[-1])
    return base, head, total


def _reason(result: CheckResult) -> str:
    change = "n/a" if result.pepr_change is None else f"{result.pepr_change:+.1%}"
    why = " ".join(result.reasons) if result.reasons else result.verdict
    return f"{result.verdict}: PePR {change} against the good commit. {why}"


def _mark(top: Path, step: Step) -> str:
    got = git("bisect", step.term, step.sha, cwd=top, check=False)
    output = got.stdout.decode() + got.stderr.decode()
    if got.returncode != 0 and ONLY_SKIPPED not in output:
        from pepr_gate.errors import StoreError

        raise StoreError(f"git bisect {step.term} {step.sha[:12]} failed in {top}: "
                         f"{output.strip() or 'no message'}",
                         hint="the repository is restored; run pepr-gate bisect again")
    return output


FIRST_BAD = re.compile(r"^([0-9a-f]{40}) is the first bad commit", re.M)
ONLY_SKIPPED = "only 'skip'ped commits left"


def _finished(output: str, done: BisectOutcome) -> bool:
    found = FIRST_BAD.search(output)
    if found:
        done.first_bad = found.group(1)
        return True
    if ONLY_SKIPPED in output:
        done.candidates = re.findall(r"^([0-9a-f]{40})$", output, re.M)
        return True
    return False


def _rev(top: Path, name: str) -> str:
    return git("rev-parse", "--verify", name, cwd=top).stdout.decode().strip()


def subject(top: Path, sha: str) -> str:
    return git("log", "-1", "--format=%s", sha, cwd=top).stdout.decode().strip()


def step_line(n: int, step: Step) -> str:
    return f"bisect step {n}: {step.sha[:12]} {step.subject!r} is {step.term} ({step.reason})"


@contextmanager
def _bisect_session(top: Path, done: BisectOutcome) -> Iterator[None]:
    """`git bisect reset` on every exit; signals wait until the repository is restored."""
    try:
        yield
    finally:
        with _signals_deferred():
            if bisect_state(top).exists():
                git("bisect", "reset", cwd=top, check=False)


@contextmanager
def _signals_deferred() -> Iterator[None]:
    mask = {signal.SIGINT, signal.SIGTERM}
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, mask)
    except (ValueError, OSError):
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
