"""What changes a GPU's energy besides the code, against a scripted NVML (tests/fake_pynvml.py):
MIG profile, power limit and driver branch in the fingerprint and the no-baseline reason; GPU
state at the window's edges and the cooldown before it; visible GPUs the job never used;
reaped children and display processes; both figures when counter and integral disagree."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pepr_gate.config import load_config
from pepr_gate.decide.hardware_diff import hardware_changes
from pepr_gate.decide.select import diagnose
from pepr_gate.errors import ConfigError
from pepr_gate.measure.hardware import fingerprint
from pepr_gate.measure.meter.base import SourceResult, Window
from pepr_gate.measure.meter.nvml import NvmlSource
from pepr_gate.records import GpuInfo

try:
    from tests.factories import make_record
    from tests.fake_pynvml import FakeGpu, FakeMig, FakeNvml, GiB
except ImportError:
    from factories import make_record  # type: ignore[no-redef]
    from fake_pynvml import FakeGpu, FakeMig, FakeNvml, GiB  # type: ignore[no-redef]

UUIDS = ["GPU-11111111-1b7e-4c55-9a0e-3d2f6b7c8e91", "GPU-22222222-77aa-41e2-b1c3-0c9d8e7f6a52"]
CPU = ("AMD EPYC 7742 64-Core Processor", 16, 128 * GiB)


def window(fake: FakeNvml, env: dict[str, str], duration: float,
           pids: frozenset[int] = frozenset(), src: NvmlSource | None = None,
           ) -> tuple[NvmlSource, SourceResult]:
    src = src or NvmlSource(env)
    src.prepare()
    t0 = fake.clock
    src.start(t0)
    n = 1
    while n * (src.interval_s or 1.0) < duration:
        fake.clock = t0 + n * (src.interval_s or 1.0)
        src.sample(fake.clock, pids)
        n += 1
    fake.clock = t0 + duration
    src.stop(fake.clock)
    return src, src.result(Window(t0, t0 + duration))


def comp(res: SourceResult, index: int) -> dict:
    return next(c for c in res.components if c.extra.get("index") == index).model_dump()


# -- item 2: MIG profile, power limit and driver branch -------------------------------------

def test_a_mig_slice_has_its_profile_and_a_shared_scope_a_whole_gpu_says_so() -> None:
    mine = FakeMig("MIG-5e1c7a34-8b90-5d1f-a2c3-4e5f6a7b8c9d", gi=1, ci=0,
                   name="NVIDIA A100-SXM4-40GB MIG 3g.20gb")
    other = FakeMig("MIG-0a9b8c7d-6e5f-5a4b-9c3d-2e1f0a9b8c7d", gi=2, ci=0)
    fake = FakeNvml([FakeGpu(UUIDS[0], energy_integral=lambda t: 300 * t, mig=[mine, other]),
                     FakeGpu(UUIDS[1], energy_integral=lambda t: 60 * t, power_limit_mw=300_000)])
    with fake.installed():
        _, sliced = window(fake, {"CUDA_VISIBLE_DEVICES": mine.uuid}, 4.0)
        _, whole = window(fake, {"CUDA_VISIBLE_DEVICES": "1"}, 4.0)
    assert comp(sliced, 0)["scope"] == "whole-device-shared"
    assert comp(sliced, 0)["extra"]["mig_profile"] == "3g.20gb"
    assert sliced.gpus[0].mig_profile == "3g.20gb" and sliced.gpus[0].power_limit_w == 400.0
    assert comp(whole, 1)["scope"] == "whole-device"
    assert whole.gpus[1].mig_profile == "whole-gpu" and whole.gpus[1].power_limit_w == 300.0


def gpu_info(**kw: object) -> GpuInfo:
    fields: dict = {"index": 0, "name": "NVIDIA H100 80GB HBM3", "memory_total_bytes": 80 * GiB,
                    "mig_profile": "whole-gpu", "power_limit_w": 700.0, **kw}
    return GpuInfo(**fields)


def test_mig_profile_power_limit_and_driver_major_change_the_fingerprint() -> None:
    base = fingerprint(*CPU, [gpu_info()], "550.54.15")
    assert fingerprint(*CPU, [gpu_info()], "550.90.07") == base  # a minor update: same
    assert fingerprint(*CPU, [gpu_info(mig_profile="1g.10gb")], "550.54.15") != base
    assert fingerprint(*CPU, [gpu_info(power_limit_w=500.0)], "550.54.15") != base
    assert fingerprint(*CPU, [gpu_info()], "535.104.05") != base
    # no GPU: the fingerprint is what it was before these joined (stored CPU baselines match)
    import hashlib
    old = hashlib.sha256("|".join([CPU[0], str(CPU[1]), "128"]).encode()).hexdigest()[:16]
    assert fingerprint(*CPU, [], None) == old


@pytest.mark.parametrize(("change", "named"), [
    ({"mig_profile": "1g.10gb"}, "GPU 0 MIG profile 1g.10gb vs whole-gpu"),
    ({"power_limit_w": 500.0}, "GPU 0 power limit 500 W vs 700 W"),
    ({"driver": "535.104.05"}, "NVIDIA driver 535 vs 550 (major version)"),
])
def test_the_no_baseline_reason_names_what_changed(change: dict, named: str) -> None:
    change = dict(change)
    driver = str(change.pop("driver", "550.54.15"))
    base = make_record(branch="main")
    base.hardware.gpus[:] = [gpu_info()]
    base.hardware.driver_version = "550.54.15"
    cand = make_record(branch="pr", fingerprint="hw-other")
    cand.hardware.gpus[:] = [gpu_info(**change)]
    cand.hardware.driver_version = driver
    assert hardware_changes(cand.hardware, base.hardware) == [named]
    why = diagnose(cand, [base], base_branch="main")
    assert why.kind == "hardware" and f"changed: {named}" in why.sentence()


# -- item 4: GPU state and cooldown -----------------------------------------------------------

def test_gpu_state_is_recorded_at_both_edges_of_the_window() -> None:
    g = FakeGpu(UUIDS[0], energy_integral=lambda t: 250 * t, temperature=lambda t: 40 + 2 * t,
                sm_clock_mhz=1755, throttle=0x4 | 0x20, pstate=2)
    fake = FakeNvml([g])
    with fake.installed():
        _, res = window(fake, {}, 10.0)
    state = comp(res, 0)["extra"]["state"]
    assert state["start"]["temperature_c"] == 40 and state["end"]["temperature_c"] == 60
    assert state["start"]["sm_clock_mhz"] == 1755 and state["end"]["pstate"] == "P2"
    assert state["end"]["throttle_reasons"] == ["sw_power_cap", "sw_thermal_slowdown"]


def cooling(fake: FakeNvml, max_temp_c: float, timeout_s: float) -> NvmlSource:
    said: list[str] = []
    src = NvmlSource({}, cooldown=(max_temp_c, timeout_s), say=said.append)

    def sleep(s: float) -> None:
        fake.clock += s

    src.clock = (lambda: fake.clock, sleep)
    src.said = said  # type: ignore[attr-defined]
    return src


def test_cooldown_waits_for_the_gpus_to_cool_before_the_window() -> None:
    # 80 degrees C at t = 0, cooling 1 degree per second
    g = FakeGpu(UUIDS[0], energy_integral=lambda t: 250 * t,
                temperature=lambda t: max(35.0, 80.0 - t))
    fake = FakeNvml([g])
    with fake.installed():
        src = cooling(fake, 60, 120)
        _, res = window(fake, {}, 5.0, src=src)
    c = comp(res, 0)
    assert c["extra"]["cooldown"]["waited_s"] == pytest.approx(20, abs=1)
    assert c["extra"]["cooldown"]["reached"] is True
    assert c["extra"]["state"]["start"]["temperature_c"] <= 60
    assert any("waited 20 s for every GPU to cool to 60 °C or below (hottest 80 °C before)"
               in n for n in res.notes)
    said = src.said  # type: ignore[attr-defined]
    assert said[0].startswith("cooling down: GPU(s) at GPU 0 80 °C, waiting for 60 °C")


def test_cooldown_gives_up_at_its_timeout_and_says_the_run_started_warm() -> None:
    fake = FakeNvml([FakeGpu(UUIDS[0], energy_integral=lambda t: 250 * t,
                             temperature=lambda t: 85.0)])
    with fake.installed():
        src = cooling(fake, 60, 10)
        _, res = window(fake, {}, 3.0, src=src)
    assert comp(res, 0)["extra"]["cooldown"]["reached"] is False
    assert any("still 85 °C after 10 s" in n and "started warm" in n for n in res.notes)


def test_cooldown_config_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "pepr.toml"
    path.write_text("[run]\ncooldown = { max_temp_c = 55, timeout_s = 90 }\n")
    cfg = load_config(path)
    assert cfg.run.cooldown is not None and cfg.run.cooldown.max_temp_c == 55
    path.write_text("[run]\ncooldown = { max_temp_c = -5 }\n")
    with pytest.raises(ConfigError, match="max_temp_c"):
        load_config(path)
    (tmp_path / "p2.toml").write_text(textwrap.dedent("""\
        [run]
        cooldown = { max_temp_c = 60, timeout = 5 }
        """))
    proc = subprocess.run([sys.executable, "-m", "pepr_gate", "run", "--config", "p2.toml",
                           "--no-store", "--", sys.executable, "-c", "0"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2 and "timeout" in proc.stderr, proc.stderr


# -- item 3: unused GPUs, reaped children, display processes ----------------------------------

@pytest.fixture
def child() -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc
    proc.kill()
    proc.wait()


def two_gpus(pid: int) -> FakeNvml:
    return FakeNvml([
        FakeGpu(UUIDS[0], energy_integral=lambda t: 300 * t, processes=lambda t: [(pid, GiB)]),
        FakeGpu(UUIDS[1], energy_integral=lambda t: 60 * t, utilization=0)])


def test_a_visible_gpu_the_job_never_used_is_named_with_the_hint(
        child: subprocess.Popen[bytes]) -> None:
    me = frozenset({os.getpid()})
    fake = two_gpus(child.pid)
    with fake.installed():
        _, unset = window(fake, {}, 4.0, pids=me)
        _, listed = window(two_gpus(child.pid), {"CUDA_VISIBLE_DEVICES": "0,1"}, 4.0, pids=me)
    idle = comp(unset, 1)
    assert any("never held a process of the job and stayed idle" in n
               and "CUDA_VISIBLE_DEVICES is unset" in n for n in idle["notes"])
    assert not any("never held" in n for n in comp(unset, 0)["notes"])
    assert any("1 GPU(s) the job could see never held a process" in n for n in unset.notes)
    assert not any("CUDA_VISIBLE_DEVICES is unset" in n for n in listed.notes)


def test_a_reaped_child_still_listed_keeps_the_run_exclusive() -> None:
    kid = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    fake = FakeNvml([FakeGpu(UUIDS[0], energy_integral=lambda t: 250 * t,
                             processes=lambda t: [(kid.pid, GiB)])])
    me = frozenset({os.getpid()})
    with fake.installed():
        src = NvmlSource({})
        src.prepare()
        src.start(0.0)
        fake.clock = 1.0
        src.sample(1.0, me)  # the child is alive and in the job's tree
        kid.kill()
        kid.wait()  # reaped: no longer in any process tree, still in NVML's list
        fake.clock = 2.0
        src.sample(2.0, me)
        fake.clock = 3.0
        src.stop(3.0)
        res = src.result(Window(0.0, 3.0))
    assert res.exclusive is True, res.notes


def test_display_processes_are_named_and_do_not_make_the_run_shared(
        child: subprocess.Popen[bytes]) -> None:
    fake = FakeNvml([FakeGpu(UUIDS[0], energy_integral=lambda t: 250 * t,
                             processes=lambda t: [(child.pid, GiB)],
                             graphics=lambda t: [(1234, 64 * 1024**2)])])
    with fake.installed():
        _, res = window(fake, {}, 3.0, pids=frozenset({os.getpid()}))
    assert res.exclusive is True
    assert any("display processes (graphics only, PIDs 1234" in n for n in res.notes)


# -- item 5: both figures when counter and integral disagree -----------------------------------

def test_a_disagreeing_counter_keeps_both_figures() -> None:
    # the counter says 150 W, the power readings 250 W
    fake = FakeNvml([FakeGpu(UUIDS[0], power=lambda t: 250.0,
                             energy_integral=lambda t: 150 * t)])
    with fake.installed():
        _, res = window(fake, {}, 30.0)
    c = comp(res, 0)
    assert c["detail"] == "power-integration"
    assert c["extra"]["counter_j"] == pytest.approx(150 * 30, rel=0.01)
    assert c["extra"]["integrated_j"] == pytest.approx(250 * 30, rel=0.05)
    assert any("both figures are kept" in n for n in c["notes"])


def with_start_temp(temp: float | None):  # type: ignore[no-untyped-def]
    rec = make_record()
    state = {} if temp is None else {"state": {"start": {"temperature_c": temp}}}
    gpu = rec.components[0].model_copy(update={"extra": state})
    return rec.model_copy(update={"components": [gpu, *rec.components[1:]]})


def test_a_cold_candidate_against_warm_baselines_gets_a_note_in_the_comment() -> None:
    from pepr_gate.decide.hardware_diff import warm_cold_note

    warm = [with_start_temp(t) for t in (70, 72, 75)]
    note = warm_cold_note([with_start_temp(38)], warm)
    assert note is not None and "started at 38 °C, the baseline runs' at 72 °C" in note
    assert "colder" in note and "[run] cooldown" in note
    assert warm_cold_note([with_start_temp(65)], warm) is None  # within 15 degrees
    assert warm_cold_note([with_start_temp(None)], warm) is None  # no state recorded


def test_cooldown_without_a_temperature_reading_starts_at_once_and_says_so() -> None:
    import pynvml

    fake = FakeNvml([FakeGpu(UUIDS[0], energy_integral=lambda t: 250 * t,
                             errors={"nvmlDeviceGetTemperature": pynvml.NVML_ERROR_NOT_SUPPORTED})])
    with fake.installed():
        src = cooling(fake, 60, 30)
        _, res = window(fake, {}, 3.0, src=src)
    c = comp(res, 0)
    assert c["extra"]["cooldown"]["waited_s"] == 0
    assert c["extra"]["state"]["start"]["temperature_c"] is None
    assert any("no GPU temperature readable" in n for n in res.notes)


def test_a_baseline_stored_before_the_new_fingerprint_parts_is_named_as_such() -> None:
    old = make_record(branch="main")
    old.hardware.gpus[:] = [gpu_info(mig_profile=None, power_limit_w=None)]
    old.hardware.driver_version = "550.54.15"
    new = make_record(branch="pr", fingerprint="hw-new")
    new.hardware.gpus[:] = [gpu_info()]
    new.hardware.driver_version = "550.54.15"
    (change,) = hardware_changes(new.hardware, old.hardware)
    assert "measured before MIG profile, power limit and driver branch joined" in change
    assert "run the base branch once" in change
