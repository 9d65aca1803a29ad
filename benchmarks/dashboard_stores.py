"""`dashboard_speed.py --store`: `pepr-gate dashboard` over SQLite, PostgreSQL and git.

For each size, one history is generated in chunks and written to every store at once:
a SQLite file and a PostgreSQL schema through the stores' `append_many`, and a git data
branch on a local bare "origin" with `git fast-import` (one commit holding every run file
and the per-branch summary files an append keeps; a real branch has one commit per run,
which only the fetch notices). Then, per store, the CLI runs as a subprocess (interpreter
start included): `pepr-gate dashboard` (wall time and the child's own peak RSS from
`wait4`) and, as the yardstick, `pepr-gate check` of a feature branch against main. The
first dashboard run of each store is reported apart (for git it fetches the whole branch
into .pepr/git-store; SQLite's file is in the page cache after the fill either way).
Targets (issue 23): 100,000 runs in <= 2 s and <= 250 MB on every store.
"""

from __future__ import annotations

import math
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pepr_gate.records import RunRecord

CHUNK = 5000
TARGET_S = 2.0
TARGET_MB = 250.0
BRANCHES = ["main"] + [f"feature/{i}" for i in range(19)]
SCHEMAS: list[str] = []  # PostgreSQL schemas made here, dropped at the end


def load() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


# Runs the command and prints its own wall time, peak RSS and CPU time. A child forked
# from this process would report this process's (large) RSS as its peak: Linux carries the
# high-water mark over fork and exec. Forked from this small launcher instead, it cannot.
LAUNCHER = """\
import os, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(proc.pid, 0)
wall = time.perf_counter() - start
print(f"BENCH {wall} {usage.ru_maxrss} {usage.ru_utime + usage.ru_stime}", file=sys.stderr)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def timed(argv: list[str], cwd: Path, env: dict[str, str]
          ) -> tuple[float, float, int, float]:
    """(wall s, peak RSS MB, exit code, CPU s) of one CLI run. The CPU time (user + system,
    the command's own) shows its cost when other work on the machine stretches wall time."""
    proc = subprocess.run([sys.executable, "-c", LAUNCHER, *argv], cwd=cwd, env=env,
                          capture_output=True, text=True, check=False)
    lines = proc.stderr.splitlines()
    if proc.returncode not in (0, 1) or not lines or not lines[-1].startswith("BENCH "):
        sys.stderr.write(proc.stderr)
        return math.inf, math.inf, proc.returncode or 4, math.inf
    wall, rss, cpu = (float(x) for x in lines[-1].split()[1:])
    return wall, rss / 1024, proc.returncode, cpu


class GitBranch:
    """A bare origin whose data branch is written by one `git fast-import`."""

    def __init__(self, root: Path) -> None:
        from pepr_gate.store.gitsummary import Entries

        self.origin = root / "origin.git"
        self.checkout = root / "work"
        subprocess.run(["git", "init", "-q", "--bare", str(self.origin)], check=True)
        subprocess.run(["git", "init", "-q", str(self.checkout)], check=True)
        subprocess.run(["git", "remote", "add", "origin", str(self.origin)],
                       cwd=self.checkout, check=True)
        self.proc = subprocess.Popen(["git", "fast-import", "--quiet"], cwd=self.origin,
                                     stdin=subprocess.PIPE)
        self.entries: dict[str, Entries] = {}
        self._write(b"commit refs/heads/pepr-data\n"
                    b"committer bench <bench@localhost> 0 +0000\n")
        self._file("", b"benchmark history\n")  # the commit message
        self._file("pepr-store.json", b'{"schema_version": 1}\n')

    def _write(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)

    def _file(self, path: str, data: bytes) -> None:
        if path:
            self._write(f"M 100644 inline {path}\n".encode())
        self._write(b"data %d\n" % len(data) + data + b"\n")

    def add(self, runs: list[RunRecord]) -> None:
        from pepr_gate.store.git import run_path
        from pepr_gate.store.gitsummary import blob_id, folder_of
        from pepr_gate.store.summary import of_record

        for record in runs:
            path, data = run_path(record), (record.to_json() + "\n").encode()
            self._file(path, data)
            self.entries.setdefault(folder_of(path), {})[path] = (blob_id(data),
                                                                  of_record(record))

    def close(self) -> None:
        from pepr_gate.store.gitsummary import render, summary_path

        for folder, entries in self.entries.items():
            self._file(summary_path(folder), render(entries))
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        if self.proc.wait() != 0:
            raise SystemExit("git fast-import failed")


def postgres_url(server: str, schema: str) -> str:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    url = make_url(server).set(drivername="postgresql+psycopg")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    engine.dispose()
    SCHEMAS.append(schema)
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False)


def drop_schemas(server: str) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    engine = create_engine(make_url(server).set(drivername="postgresql+psycopg"))
    with engine.begin() as conn:
        for schema in SCHEMAS:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    engine.dispose()


def chunks(n: int, seed: int) -> Iterator[list[RunRecord]]:
    from dashboard_speed import make_runs  # type: ignore[import-not-found]

    rng = random.Random(seed)
    for start in range(0, n, CHUNK):
        yield make_runs(min(CHUNK, n - start), BRANCHES, rng, start=start, total=n)


def fill(n: int, tmp: Path, pg_server: str | None) -> dict[str, tuple[str, Path]]:
    """Every store holding the same `n` runs: name -> (store URL, folder to run in)."""
    from pepr_gate.store import open_store

    folder = tmp / f"n{n}"
    folder.mkdir()
    started = time.perf_counter()
    stores: dict[str, tuple[str, Path]] = {"sqlite": (f"sqlite:///{folder / 'h.db'}", folder)}
    if pg_server:
        stores["postgresql"] = (postgres_url(pg_server, f"bench_{uuid.uuid4().hex[:8]}"),
                                folder)
    branch = GitBranch(folder)
    opened = {name: open_store(url, root=folder) for name, (url, _) in stores.items()}
    try:
        for runs in chunks(n, seed=n):
            for store in opened.values():
                store.append_many(runs)  # type: ignore[attr-defined]
            branch.add(runs)
    finally:
        for store in opened.values():
            store.close()
        branch.close()
    stores["git"] = ("git:pepr-data", branch.checkout)
    print(f"# filled {n:,} runs into {', '.join(stores)} in "
          f"{time.perf_counter() - started:.0f} s ({load()})", flush=True)
    return stores


def measure(name: str, url: str, cwd: Path, repeat: int) -> dict[str, Any]:
    env = {**os.environ, "GITHUB_HEAD_REF": "feature/3", "GITHUB_BASE_REF": "main",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(Path.cwd()),
                                                        os.environ.get("PYTHONPATH")]))}
    base = [sys.executable, "-m", "pepr_gate"]
    out = cwd / f"site-{name}"
    dash = [*base, "dashboard", "--store", url, "--out", str(out)]
    first = timed(dash, cwd, env)
    runs = [timed(dash, cwd, env) for _ in range(repeat)]
    checks = [timed([*base, "check", "--store", url], cwd, env) for _ in range(repeat)]
    if first[2] or any(r[2] for r in runs):
        raise SystemExit(f"pepr-gate dashboard failed on the {name} store")
    return {"first": first[0], "wall": statistics.median(r[0] for r in runs),
            "cpu": statistics.median(r[3] for r in runs),
            "mb": max(r[1] for r in [first, *runs]),
            "check": statistics.median(c[0] for c in checks),
            "check_cpu": statistics.median(c[3] for c in checks)}


def ci_cost(checkout: Path, n: int) -> tuple[float, float]:
    """(s, s): storing one run on the git branch as `ci` does without a dashboard (`append`)
    and with `dashboard: true` (`publish`: the run, its branch's summary and site/ in one
    commit, the site built from the summary files), in this process."""
    from dashboard_speed import make_runs

    from pepr_gate.config import Config
    from pepr_gate.publish.dashboard.site import render_site
    from pepr_gate.services.dashboard import make_site
    from pepr_gate.store.git import GitStore

    first, second = make_runs(2, ["main"], random.Random(n), start=n, total=n + 2)
    store = GitStore("pepr-data", root=checkout)
    start = time.perf_counter()
    store.append(first)
    plain = time.perf_counter() - start
    start = time.perf_counter()
    store.publish([second], folder="site", build=lambda runs, read: render_site(
        make_site(runs, Config(), store="git:pepr-data")))
    return plain, time.perf_counter() - start


def run_stores(sizes: list[int], repeat: int, pg_server: str | None, tmp: Path) -> bool:
    print(f"{'store':<10} {'runs':>7} {'dashboard s':>11} {'CPU s':>6} {'first s':>8} "
          f"{'peak MB':>8} {'check s':>8} {'CPU s':>6}  load when measured")
    met = True
    try:
        for n in sizes:
            for name, (url, cwd) in fill(n, tmp, pg_server).items():
                got = measure(name, url, cwd, repeat)
                print(f"{name:<10} {n:>7,} {got['wall']:>11.2f} {got['cpu']:>6.2f} "
                      f"{got['first']:>8.2f} {got['mb']:>8.0f} {got['check']:>8.2f} "
                      f"{got['check_cpu']:>6.2f}  {load()}", flush=True)
                if n >= 100_000:
                    met &= got["wall"] <= TARGET_S and got["mb"] <= TARGET_MB
                if name == "git":
                    plain, site = ci_cost(cwd, n)
                    print(f"# git, {n:,} runs: storing one run {plain:.2f} s; with "
                          f"`dashboard: true` (run + summary + site/ in one commit) "
                          f"{site:.2f} s, {site - plain:+.2f} s  {load()}", flush=True)
    finally:
        if pg_server:
            drop_schemas(pg_server)
    if pg_server is None:
        print("# PostgreSQL not measured: pass --postgres-url or set PEPR_TEST_POSTGRES_URL")
    print(f"# medians of {repeat} CLI runs each (wall, and the process's own CPU time); "
          f"'first' is the run before them; targets at 100,000 runs: dashboard <= "
          f"{TARGET_S:g} s and <= {TARGET_MB:g} MB: " + ("met" if met else "NOT met")
          + f" (on wall time, {os.cpu_count()} CPUs)")
    return met
