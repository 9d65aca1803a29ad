"""What the hardening of issue 11 costs, and what an API outage costs a `ci` step.

1. The sweep after every stage (process group + subreaper descendants): time per stage
   with nothing left behind, and with 20 background processes left behind.
2. An atomic record write (temp file, fsync, rename) against a plain `write_text`.
3. GitHub's API down (every call 503) for one client making 12 calls: the real seconds
   lost with a small budget, and the total wait the default 60 s budget allows.

    .venv/bin/python benchmarks/reliability_costs.py
"""

from __future__ import annotations

import contextlib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pepr_gate.fileio.atomic import write_atomic
from pepr_gate.measure.leftovers import Subreaper, own_descendants, sweep
from pepr_gate.publish.github.api import GitHubClient, GitHubError
from tests.github_server import FakeGitHub


def _sweep_ms(left_behind: int) -> float:
    reaper = Subreaper()  # as run_stage does: orphans come back to this process
    before = own_descendants()
    script = "\n".join(["sleep 60 &"] * left_behind + ["exit 0"])
    proc = subprocess.Popen(["sh", "-c", script], start_new_session=True)
    proc.wait()
    t0 = time.perf_counter()
    stopped = sweep(proc.pid, before, grace_s=5.0)
    took = (time.perf_counter() - t0) * 1000
    reaper.close()
    assert len(stopped) == left_behind, stopped
    return took


def _write_ms(atomic: bool, folder: Path, text: str) -> float:
    path = folder / "record.json"
    t0 = time.perf_counter()
    if atomic:
        write_atomic(path, text)
    else:
        path.write_text(text, encoding="utf-8")
    return (time.perf_counter() - t0) * 1000


def _outage(budget: float | None) -> tuple[float, float, int]:
    gh = FakeGitHub().start()
    gh.answer_always = (503, {"message": "Service Unavailable"}, {})
    waits: list[float] = []
    kwargs = {"retry_budget_s": budget} if budget is not None else {"sleep": waits.append}
    t0 = time.monotonic()
    with GitHubClient(gh.api_url, gh.token, **kwargs) as client:  # type: ignore[arg-type]
        for _ in range(12):
            with contextlib.suppress(GitHubError):
                client.get_pull("octo/net", 2)
    took = time.monotonic() - t0
    gh.stop()
    return took, sum(waits), len(gh.log)


def main() -> None:
    clean = [_sweep_ms(0) for _ in range(20)]
    busy = [_sweep_ms(20) for _ in range(3)]
    print(f"sweep after a stage, nothing left:   median {statistics.median(clean):.1f} ms")
    print(f"sweep after a stage, 20 left behind: median {statistics.median(busy):.1f} ms")
    text = "x" * 8_000  # a run record is a few KiB
    with tempfile.TemporaryDirectory() as tmp:
        plain = [_write_ms(False, Path(tmp), text) for _ in range(50)]
        atomic = [_write_ms(True, Path(tmp), text) for _ in range(50)]
    print(f"record write: plain {statistics.median(plain):.2f} ms, "
          f"atomic (fsync + rename) {statistics.median(atomic):.2f} ms")
    took, _, requests = _outage(3.0)
    print(f"API down, 12 calls, budget 3 s:  {took:.2f} s real, {requests} requests")
    took, waited, requests = _outage(None)
    print(f"API down, 12 calls, default budget (sleeps recorded, not slept): "
          f"{waited:.1f} s of waits allowed, {requests} requests")


if __name__ == "__main__":
    main()
