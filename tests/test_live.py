"""The live line while the stages run: on a terminal (tmux, as a person sees it), through a
pipe (plain lines), the GitHub notice, `--quiet`, and the figures the sources give it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pepr_gate.config import BudgetConfig
from pepr_gate.measure.meter.base import LiveReading, MeterSession, Window
from pepr_gate.measure.meter.estimate import EstimateSource
from pepr_gate.measure.meter.process import ProcessSource
from pepr_gate.measure.meter.rapl import RaplSource
from pepr_gate.measure.meter.replay import ReplaySource
from pepr_gate.publish.live import LiveLine, clock, open_live, plain_line, summarise

PY = sys.executable
ROOT = Path(__file__).resolve().parents[1]
TRACE = ROOT / "examples" / "traces" / "a100-train.json"
# A job that prints a numbered line every 0.4 s, a known byte pattern, then ends.
TICKER = "import sys, time\nfor i in range({n}):\n    print(f'job line {{i}}', flush=True)\n" \
         "    time.sleep(0.4)\n"


def config(folder: Path, *, n: int = 8, interval: float = 0.5, budgets: str = "") -> Path:
    (folder / "ticker.py").write_text(TICKER.format(n=n), encoding="utf-8")
    (folder / "pepr.toml").write_text(
        f'[run]\nprogress_interval_s = {interval}\n'
        f'stages = [{{name = "train", cmd = ["{PY}", "ticker.py"]}}]\n{budgets}',
        encoding="utf-8")
    return folder


def env_without_ci() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def run_piped(folder: Path, *extra: str, env: dict[str, str] | None = None
              ) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [PY, "-m", "pepr_gate", "run", "--no-store", "--meter", "process", *extra],
        cwd=folder, env=env or env_without_ci(), capture_output=True, timeout=60, check=False)


def job_part(stdout: bytes) -> bytes:
    """The job's own bytes: everything before pepr-gate's table."""
    return stdout[: stdout.index(b"job line 7\n") + len(b"job line 7\n")]


# -- through a pipe ----------------------------------------------------------------------
def test_plain_lines_on_stderr_and_the_jobs_output_byte_identical(tmp_path: Path) -> None:
    folder = config(tmp_path)
    live = run_piped(folder)
    quiet = run_piped(folder, "--quiet")
    assert live.returncode == quiet.returncode == 0, live.stderr.decode()
    assert job_part(live.stdout) == job_part(quiet.stdout) == b"".join(
        f"job line {i}\n".encode() for i in range(8))
    lines = [x for x in live.stderr.decode().splitlines() if x.startswith("pepr-gate train")]
    assert len(lines) >= 3, live.stderr.decode()
    assert all(re.match(r"pepr-gate train 1/1 \d:\d\d:\d\d", x) for x in lines)
    assert "CPU" in lines[-1] and "estimated" in lines[-1] and "CO2eq" in lines[-1]
    assert b"\x1b" not in live.stderr  # no escape codes off a terminal
    assert "pepr-gate train" not in quiet.stderr.decode()


def test_interval_zero_turns_the_plain_line_off(tmp_path: Path) -> None:
    proc = run_piped(config(tmp_path, n=4, interval=0))
    assert proc.returncode == 0
    assert "pepr-gate train" not in proc.stderr.decode()


def test_a_negative_interval_is_a_config_error(tmp_path: Path) -> None:
    proc = run_piped(config(tmp_path, n=1, interval=-1))
    assert proc.returncode == 2
    assert "progress_interval_s" in proc.stderr.decode()


def test_github_actions_gets_one_notice_when_a_budget_is_passed(tmp_path: Path) -> None:
    folder = config(tmp_path, budgets="[gate.budgets]\nduration_s = 1.0\n")
    env = {**env_without_ci(), "GITHUB_ACTIONS": "true"}
    proc = run_piped(folder, env=env)
    notices = [x for x in proc.stdout.decode().splitlines() if x.startswith("::notice")]
    assert len(notices) == 1, proc.stdout.decode()
    assert "the time budget was passed during the run" in notices[0]
    quiet = run_piped(folder, "--quiet", env=env)
    assert "::notice" not in quiet.stdout.decode()


# -- on a terminal, as a person sees it --------------------------------------------------
@pytest.fixture
def tmux(tmp_path: Path) -> str:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is not installed: .ci/run installs it (apt-get install tmux)")
    socket = str(tmp_path / "tmux.sock")
    yield socket
    subprocess.run(["tmux", "-S", socket, "kill-server"], capture_output=True, check=False)


def capture(socket: str) -> list[str]:
    out = subprocess.run(["tmux", "-S", socket, "capture-pane", "-p", "-t", "t"],
                         capture_output=True, text=True, check=True).stdout
    return out.split("\n")


def wait_for(socket: str, predicate: object, timeout: float = 20.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pane = capture(socket)
        if predicate(pane):  # type: ignore[operator]
            return pane
        time.sleep(0.1)
    raise AssertionError("the pane never showed it:\n" + "\n".join(capture(socket)))


def test_the_line_sits_at_the_bottom_updates_and_is_gone_at_the_end(
    tmp_path: Path, tmux: str
) -> None:
    folder = config(tmp_path, n=12)
    rows = 16
    env_cmd = " ".join(f"{k}={v}" for k, v in
                       {"PYTHONPATH": env_without_ci()["PYTHONPATH"], "TERM": "xterm"}.items())
    shell = (f"cd {folder} && env {env_cmd} {PY} -m pepr_gate run --no-store --meter process; "
             "echo EXIT=$?; sleep 60")
    subprocess.run(["tmux", "-S", tmux, "new-session", "-d", "-s", "t", "-x", "90", "-y",
                    str(rows), "env", "-u", "GITHUB_ACTIONS", "sh", "-c", shell], check=True)

    def bottom(pane: list[str]) -> str:
        return pane[rows - 1]

    first = wait_for(tmux, lambda p: bottom(p).startswith("pepr-gate train 1/1 0:00:01"))
    assert "CPU" in bottom(first) and "estimated" in bottom(first)
    later = wait_for(tmux, lambda p: bottom(p).startswith("pepr-gate train 1/1 0:00:03"))
    # the job's lines scroll above the line, never over it
    assert any(x == "job line 5" for x in later[: rows - 1]) or "job line 6" in later
    final = wait_for(tmux, lambda p: any(x.startswith("EXIT=") for x in p))
    assert not any(x.startswith("pepr-gate train") for x in final), "\n".join(final)
    assert "EXIT=0" in final
    subprocess.run(["tmux", "-S", tmux, "resize-window", "-t", "t", "-y", "40"],
                   capture_output=True, check=False)
    history = subprocess.run(["tmux", "-S", tmux, "capture-pane", "-p", "-S", "-200", "-t", "t"],
                             capture_output=True, text=True, check=True).stdout.split("\n")
    job = [x for x in history if x.startswith("job line")]
    assert job == [f"job line {i}" for i in range(12)], "\n".join(history)


# -- the figures -------------------------------------------------------------------------
def test_measured_cpu_replaces_the_estimate_and_budgets_are_shares() -> None:
    readings = [
        LiveReading("gpu", "measured", 250.0, 3.6e6, 4_000_000_000),
        LiveReading("cpu", "estimated", 30.0, 7.2e5),
        LiveReading("cpu", "measured", 40.0, 3.6e5),
    ]
    fig = summarise(readings, 90.0, g_per_kwh=400, pue=1.5,
                    budgets=BudgetConfig(energy_kwh=2.0, duration_s=60, gpu_memory_gb=5))
    assert [p for p, _, _ in fig.power] == ["GPU", "CPU"]
    assert [m for _, _, m in fig.power] == ["measured", "measured"]
    assert fig.energy_kwh == pytest.approx(1.1)
    assert fig.carbon_kg == pytest.approx(1.1 * 1.5 * 0.4)
    assert dict(fig.budgets) == pytest.approx({"energy": 0.55, "time": 1.5, "GPU memory": 0.8})
    line = plain_line("train 1/2", fig)
    assert line.startswith("pepr-gate train 1/2 0:01:30 · energy budget 55% · time budget 150%"
                           " · GPU memory budget 80% · GPU 250 W measured + CPU 40 W measured")
    # the power figures already say "measured": the energy does not repeat it
    assert "· 1.1 kWh ·" in line and "GPU mem peak 4.00 GB" in line
    only_energy = summarise([LiveReading("gpu", "replayed", None, 3.6e6)], 1.0, g_per_kwh=0,
                            pue=1, budgets=BudgetConfig())
    assert "1 kWh (replayed)" in plain_line("train 1/1", only_energy)


def test_budget_colours_on_the_terminal() -> None:
    fig = summarise([LiveReading("gpu", "measured", 100.0, 3.6e6 * 0.85)], 10.0, g_per_kwh=0,
                    pue=1.0, budgets=BudgetConfig(energy_kwh=1.0, duration_s=5.0))
    live = LiveLine("terminal", interval_s=1, budgets=BudgetConfig(), g_per_kwh=0, pue=1)
    text = live._render(fig, 200)
    assert "\x1b[33menergy budget 85%" in text  # yellow from 80%
    assert "\x1b[1;31mtime budget 200%" in text  # red past the ceiling


def test_clock_and_quiet_mode() -> None:
    assert clock(3725.9) == "1:02:05"
    live = open_live(quiet=True, interval_s=60, budgets=BudgetConfig(duration_s=1),
                     g_per_kwh=1, pue=1, env={"GITHUB_ACTIONS": "true", "TERM": "xterm"})
    assert live.mode == "off" and not live.github_actions


def test_sources_give_figures_from_their_samples(tmp_path: Path) -> None:
    process = ProcessSource()
    estimate = EstimateSource("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", 4, 8 << 30, process)
    replay = ReplaySource(TRACE)
    session = MeterSession([process, estimate, replay])
    session.keep_live = True
    busy = subprocess.Popen([PY, "-c", "import time\nt = time.time()\n"
                             "while time.time() - t < 1.5: pass"])
    session.open()
    session.track(busy.pid)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(
        r.kind == "cpu" and r.power_w for r in session.live_readings
    ):
        time.sleep(0.1)
    busy.wait()
    readings = {r.kind: r for r in session.live_readings}
    session.close(Window(session.t_start, time.monotonic()))
    cpu, gpu = readings["cpu"], readings["gpu"]
    assert cpu.method == "estimated" and cpu.power_w and cpu.power_w > 0
    assert cpu.energy_j and cpu.energy_j > 0
    assert gpu.method == "replayed" and gpu.power_w and gpu.power_w > 10
    assert gpu.energy_j and gpu.energy_j > 0


def test_rapl_live_power_is_the_last_interval(tmp_path: Path) -> None:
    zone = tmp_path / "intel-rapl:0"
    zone.mkdir()
    (zone / "name").write_text("package-0\n")
    (zone / "max_energy_range_uj").write_text("262143328850\n")
    (zone / "energy_uj").write_text("1000000\n")
    src = RaplSource(tmp_path)
    src.start(0.0)
    src.sample(0.0, frozenset())
    (zone / "energy_uj").write_text("31000000\n")
    src.sample(2.0, frozenset())
    reading = src.live(2.0)
    assert reading is not None
    assert reading.power_w == pytest.approx(15.0) and reading.energy_j == pytest.approx(30.0)


def test_nvml_live_figures_make_no_extra_nvml_calls() -> None:
    try:
        from tests.fake_pynvml import FakeGpu, FakeNvml
    except ImportError:
        from fake_pynvml import FakeGpu, FakeNvml  # type: ignore[no-redef]
    from pepr_gate.measure.meter.nvml import NvmlSource

    uuid = "GPU-8f2a61c4-1b7e-4c55-9a0e-3d2f6b7c8e91"
    fake = FakeNvml([FakeGpu(uuid, power=lambda t: 200.0 + 10 * t,
                             energy_integral=lambda t: 200.0 * t + 5 * t * t)])
    with fake.installed():
        src = NvmlSource({})
        fake.clock = 0.0
        src.start(0.0)
        for step in range(1, 5):
            fake.clock = float(step)
            src.sample(fake.clock, frozenset())
        calls = sum(m.call_count for m in fake.mocks.values())
        first = src.live(4.0)
        again = src.live(4.0)  # the running integral is not counted twice
        assert sum(m.call_count for m in fake.mocks.values()) == calls, "no NVML call"
        src.stop(5.0)
    assert first is not None and again is not None
    assert first.kind == "gpu" and first.method == "measured"
    assert first.power_w == pytest.approx(240.0)
    # power samples at 1 Hz (counter mode), trapezoid of a line: exact
    assert first.energy_j == pytest.approx(200 * 4 + 5 * 16)
    assert again.energy_j == pytest.approx(first.energy_j)
