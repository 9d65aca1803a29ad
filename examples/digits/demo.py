"""`make demo`: the bundled example under the gate, start to finish.

1. Five baseline runs of the small model on branch `main` (stored in the history): the
   gate measures the run-to-run spread from them instead of assuming one, which keeps the
   verdict the same from one `make demo` to the next.
2. A wider model as the pull request's candidate, on branch `demo/wider-model` (3 runs).
3. `pepr-gate check` of the candidate against main's baseline: the verdict in the
   terminal and the PR comment as Markdown in examples/digits/.pepr/demo-comment.md.

The demo keeps its own history (examples/digits/.pepr/demo-history.db, started afresh each
time) so that earlier experiments never change what it shows.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEPR = HERE / ".pepr"
STORE = f"sqlite:///{PEPR / 'demo-history.db'}"
# Enough base runs for a measured spread (the gate assumes a wide one below 4): with 5, the
# verdict was the same in every `make demo` we ran (docs/gate.md has the figures).
BASE_REPEATS = 5
HEAD_REPEATS = 3  # the check takes the candidate's whole repeat group


def pepr_gate(*args: str) -> int:
    cmd = [sys.executable, "-m", "pepr_gate", *args]
    print(f"\n$ pepr-gate {' '.join(args)}", flush=True)
    # The job runs `python train.py`: put this interpreter's folder first on PATH so the
    # job uses the environment that has torch, as an activated virtualenv would.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(cmd, cwd=HERE, env=env, check=False).returncode


def main() -> int:
    PEPR.mkdir(exist_ok=True)
    (PEPR / "demo-history.db").unlink(missing_ok=True)
    steps = [
        (f"baseline: the small model on main, {BASE_REPEATS} runs",
         ["run", "--store", STORE, "--branch", "main", "--repeats", str(BASE_REPEATS),
          "--out", str(PEPR / "demo-baseline.json")]),
        (f"candidate: an 8x wider model on a pull request's branch, {HEAD_REPEATS} runs",
         ["run", "--store", STORE, "--branch", "demo/wider-model",
          "--repeats", str(HEAD_REPEATS),
          "--out", str(PEPR / "demo-candidate.json"),
          "--", "python", "train.py", "--width", "64"]),
    ]
    for title, args in steps:
        print(f"\n=== {title}", flush=True)
        code = pepr_gate(*args)
        if code != 0:
            print(f"demo: step failed with exit code {code}", file=sys.stderr)
            return code
    print("\n=== the gate: candidate against main's baseline", flush=True)
    code = pepr_gate(
        "check", "--store", STORE, "--candidate", str(PEPR / "demo-candidate.json"),
        "--baseline-branch", "main", "--markdown", str(PEPR / "demo-comment.md"),
        "--json", str(PEPR / "demo-check.json"),
    )
    meaning = {0: "passed (or warn/inconclusive)", 1: "failed: efficiency regressed"}
    print(
        f"\nThe check exited {code}: {meaning.get(code, 'error')}. In CI that decides the "
        f"PR's status.\nPR comment: {PEPR / 'demo-comment.md'}\nRecords: {PEPR}/demo-*.json"
    )
    return 0 if code in (0, 1) else code


if __name__ == "__main__":
    raise SystemExit(main())
