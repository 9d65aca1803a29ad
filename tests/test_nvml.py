"""NvmlSource against a scripted NVML (tests/fake_pynvml.py): energy, devices, processes,
and every NVML failure a runner can hit."""

from __future__ import annotations

import ctypes.util
import subprocess
import sys
import time
from collections.abc import Iterator

import pynvml
import pytest

from pepr_gate.errors import InputError
from pepr_gate.measure.meter.base import MeterSession, SourceResult, Window
from pepr_gate.measure.meter.nvml import NvmlSource
from pepr_gate.measure.meter.nvml_errors import Nvml, translate

try:
    from tests.fake_pynvml import FakeGpu, FakeMig, FakeNvml, GiB, sine_power
except ImportError:
    from fake_pynvml import FakeGpu, FakeMig, FakeNvml, GiB, sine_power  # type: ignore[no-redef]

UUIDS = [
    "GPU-8f2a61c4-1b7e-4c55-9a0e-3d2f6b7c8e91",
    "GPU-8f2b0d13-77aa-41e2-b1c3-0c9d8e7f6a52",
    "GPU-c41d9e02-5f3a-4b68-8e17-2a6b9c0d1e34",
]
KWH = 3.6e6  # joules


def window(fake: FakeNvml, env: dict[str, str], duration: float,
           pids: frozenset[int] = frozenset()) -> tuple[NvmlSource, SourceResult]:
    """Open, sample at the source's own rate on the fake clock, close."""
    src = NvmlSource(env)
    fake.clock = 0.0
    src.start(0.0)
    step = src.interval_s or 1.0
    n = 1
    while n * step < duration:
        fake.clock = n * step
        src.sample(fake.clock, pids)
        n += 1
    fake.clock = duration
    src.stop(duration)
    return src, src.result(Window(0.0, duration))


def gpu(res: SourceResult, index: int) -> dict:
    comp = next(c for c in res.components if c.extra.get("index") == index)
    return comp.model_dump()


def test_counter_delta_is_the_energy_of_the_window() -> None:
    power, integral = sine_power(260.0, 40.0, period=9.0)
    fake = FakeNvml([FakeGpu(UUIDS[0], power=power, energy_integral=integral)])
    with fake.installed():
        src, res = window(fake, {}, 30.0)
    c = gpu(res, 0)
    assert src.interval_s == 1.0  # the counter needs no 10 Hz sampling
    assert (c["method"], c["detail"]) == ("measured", "counter")
    assert c["energy_kwh"] == pytest.approx((integral(30.0) - integral(0.0)) / KWH, rel=1e-6)
    assert c["extra"]["uuid"] == UUIDS[0]
    assert c["extra"]["scope"] == "whole-gpu"
    assert c["extra"]["power_limit_w"] == 400.0
    assert c["extra"]["mean_utilization"] == 87.0
    assert res.driver_version == "535.104.05" and res.cuda_version == "12.2"
    assert res.gpus[0].name == "NVIDIA A100-SXM4-40GB" and res.gpus[0].visible
    assert not res.low_confidence


@pytest.mark.parametrize("code", [pynvml.NVML_ERROR_NOT_SUPPORTED,
                                  pynvml.NVML_ERROR_FUNCTION_NOT_FOUND])
def test_power_integration_within_half_a_percent_when_the_counter_is_missing(code: int) -> None:
    power, integral = sine_power(250.0, 60.0, period=7.0)
    g = FakeGpu(UUIDS[0], power=power, energy_integral=integral,
                errors={"nvmlDeviceGetTotalEnergyConsumption": code})
    fake = FakeNvml([g])
    with fake.installed():
        src, res = window(fake, {}, 60.0)
    c = gpu(res, 0)
    assert src.interval_s == 0.1
    assert (c["method"], c["detail"]) == ("measured", "power-integration")
    exact = (integral(60.0) - integral(0.0)) / KWH
    assert abs(c["energy_kwh"] - exact) / exact < 0.005
    assert c["extra"]["power_samples"] >= 590
    # An A100 (GA100): NVML documents instantaneous power there, so no averaging note
    assert not any("1 s average" in n for n in c["notes"])
    assert any("no energy counter" in n for n in c["notes"])


def test_pre_ampere_gpu_has_no_averaging_note_and_short_runs_are_low_confidence() -> None:
    g = FakeGpu(UUIDS[0], name="Tesla P100-PCIE-16GB", cc=(6, 0), counter=False,
                power=lambda t: 120.0)
    fake = FakeNvml([g])
    with fake.installed():
        _, res = window(fake, {}, 0.35)
    c = gpu(res, 0)
    assert c["detail"] == "power-integration"
    assert c["energy_kwh"] == pytest.approx(120.0 * 0.35 / KWH, rel=1e-6)
    assert not any("1 s average" in n for n in c["notes"])
    assert res.low_confidence


def test_cuda_visible_devices_0_2_meters_those_and_lists_the_other() -> None:
    fake = FakeNvml([FakeGpu(u, pci=f"00000000:{i + 7:02x}:00.0", energy_integral=lambda t: 250 * t)
                     for i, u in enumerate(UUIDS)])
    with fake.installed():
        _, res = window(fake, {"CUDA_VISIBLE_DEVICES": "0,2"}, 5.0)
    assert [(g.uuid, g.visible) for g in res.gpus] == [(UUIDS[0], True), (UUIDS[1], False),
                                                      (UUIDS[2], True)]
    assert [gpu(res, i)["counts_toward_total"] for i in range(3)] == [True, False, True]
    assert gpu(res, 1)["extra"]["visible"] is False
    assert gpu(res, 1)["energy_kwh"] == pytest.approx(250 * 5 / KWH)  # read, not counted


def test_hidden_gpu_without_a_counter_says_why_it_has_no_reading() -> None:
    fake = FakeNvml([FakeGpu(UUIDS[0], energy_integral=lambda t: 250 * t),
                     FakeGpu(UUIDS[1], pci="00000000:08:00.0", counter=False)])
    with fake.installed():
        _, res = window(fake, {"CUDA_VISIBLE_DEVICES": "0"}, 3.0)
    hidden = gpu(res, 1)
    assert (hidden["method"], hidden["counts_toward_total"]) == ("unavailable", False)
    assert "the job cannot see this GPU" in hidden["reason"]
    assert hidden["hint"] and "only the GPUs the job can see" in hidden["hint"]


def test_gpu_uuid_prefix_selects_one_gpu() -> None:
    fake = FakeNvml([FakeGpu(u, energy_integral=lambda t: 250 * t) for u in UUIDS])
    with fake.installed():
        _, res = window(fake, {"CUDA_VISIBLE_DEVICES": "GPU-c41d"}, 2.0)
    assert [g.uuid for g in res.gpus if g.visible] == [UUIDS[2]]


def test_unmatched_entry_is_reported_not_silently_dropped() -> None:
    fake = FakeNvml([FakeGpu(u, energy_integral=lambda t: 250 * t) for u in UUIDS])
    with fake.installed():
        _, res = window(fake, {"CUDA_VISIBLE_DEVICES": "1,GPU-8f2"}, 2.0)
    problem = next(c for c in res.components if c.name == "CUDA_VISIBLE_DEVICES")
    assert problem.method == "unavailable"
    assert "'GPU-8f2'" in (problem.reason or "") and "ambiguous" in (problem.reason or "")
    assert [g.uuid for g in res.gpus if g.visible] == [UUIDS[1]]


def test_invalid_cuda_visible_devices_is_a_clear_input_error() -> None:
    with pytest.raises(InputError) as err:
        NvmlSource({"CUDA_VISIBLE_DEVICES": "0,gpu1"})
    assert "'gpu1'" in err.value.message and err.value.exit_code == 2
    assert err.value.hint and "nvidia-smi -L" in err.value.hint


def test_mig_slice_reports_whole_gpu_energy_shared_and_other_slices_make_it_non_exclusive(
) -> None:
    mine = FakeMig("MIG-5e1c7a34-8b90-5d1f-a2c3-4e5f6a7b8c9d", gi=1, ci=0)
    other = FakeMig("MIG-0a9b8c7d-6e5f-5a4b-9c3d-2e1f0a9b8c7d", gi=2, ci=0,
                    processes=lambda t: [(31337, 4 * GiB)])
    fake = FakeNvml([FakeGpu(UUIDS[0], energy_integral=lambda t: 300 * t, mig=[mine, other]),
                     FakeGpu(UUIDS[1], energy_integral=lambda t: 60 * t)])
    with fake.installed():
        _, res = window(fake, {"CUDA_VISIBLE_DEVICES": mine.uuid}, 4.0)
    c = gpu(res, 0)
    assert c["extra"]["scope"] == "whole-gpu-shared"
    assert c["extra"]["mig_devices"] == [mine.uuid]
    assert c["counts_toward_total"] and c["energy_kwh"] == pytest.approx(300 * 4 / KWH)
    assert any("MIG slice" in n for n in c["notes"])
    assert gpu(res, 1)["counts_toward_total"] is False
    # PID 31337 on the neighbouring slice: no job PID listed, so memory falls back
    assert res.exclusive is None


@pytest.fixture
def job() -> Iterator[tuple[int, int]]:
    """A real job: a root process and the child it spawns (the one that uses the GPU)."""
    code = ("import subprocess, sys, time\n"
            "c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
            "print(c.pid, flush=True)\ntime.sleep(60)\n")
    root = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert root.stdout is not None
    child = int(root.stdout.readline())
    try:
        yield root.pid, child
    finally:
        import psutil
        for p in psutil.Process(root.pid).children(recursive=True):
            p.kill()
        root.kill()
        root.wait()
        root.stdout.close()


def test_job_child_processes_are_matched_and_foreign_ones_flag_the_run(
    job: tuple[int, int],
) -> None:
    root, child = job
    fake = FakeNvml([FakeGpu(UUIDS[0], energy_integral=lambda t: 250 * t,
                             processes=lambda t: [(child, int(6.5 * GiB)), (4242, GiB)])])
    with fake.installed():
        _, res = window(fake, {}, 3.0, pids=frozenset({root}))
    assert res.gpu_peak_memory_bytes == int(6.5 * GiB)  # the job's own, not the device's
    assert res.exclusive is False
    assert any("4242" in n and "not exclusive" in n for n in res.notes)


def test_exclusive_run_uses_the_jobs_memory(job: tuple[int, int]) -> None:
    root, child = job
    fake = FakeNvml([FakeGpu(UUIDS[0], energy_integral=lambda t: 250 * t,
                             processes=lambda t: [(child, 3 * GiB)] if t >= 1 else [])])
    with fake.installed():
        _, res = window(fake, {}, 3.0, pids=frozenset({root}))
    assert res.exclusive is True and res.gpu_peak_memory_bytes == 3 * GiB


def test_container_pids_fall_back_to_device_memory_peak(job: tuple[int, int]) -> None:
    root, _ = job
    fake = FakeNvml([FakeGpu(UUIDS[0], energy_integral=lambda t: 250 * t, memory_used=9 * GiB,
                             processes=lambda t: [(987654, 8 * GiB)])])
    with fake.installed():
        _, res = window(fake, {}, 3.0, pids=frozenset({root}))
    assert res.gpu_peak_memory_bytes == 9 * GiB
    assert res.exclusive is None
    assert any("PID namespace" in n for n in res.notes)


def test_accounting_mode_max_memory_counts(job: tuple[int, int]) -> None:
    root, child = job
    fake = FakeNvml([FakeGpu(UUIDS[0], energy_integral=lambda t: 250 * t,
                             processes=lambda t: [(child, 2 * GiB)],
                             accounting={child: 5 * GiB})])
    with fake.installed():
        _, res = window(fake, {}, 2.0, pids=frozenset({root}))
    assert res.gpu_peak_memory_bytes == 5 * GiB
    assert any("accounting" in n for n in res.notes)


@pytest.mark.parametrize(("code", "words"), [
    (pynvml.NVML_ERROR_LIBRARY_NOT_FOUND, "libnvidia-ml.so.1"),
    (pynvml.NVML_ERROR_DRIVER_NOT_LOADED, "driver not loaded"),
    (pynvml.NVML_ERROR_NO_PERMISSION, "insufficient permissions"),
    (pynvml.NVML_ERROR_GPU_IS_LOST, "GPU is lost"),
])
def test_nvml_init_failure_is_one_unavailable_gpu_reading(code: int, words: str) -> None:
    fake = FakeNvml([FakeGpu(UUIDS[0])], init_error=code)
    with fake.installed():
        src, res = window(fake, {}, 1.0)
    (c,) = res.components
    assert (c.kind, c.method) == ("gpu", "unavailable")
    assert words.lower() in (c.reason or "").lower() and c.hint
    assert fake.mocks["nvmlDeviceGetCount"].call_count == 0
    with pytest.raises(InputError, match="nothing to record"):
        src.trace()


@pytest.mark.parametrize(("code", "tries"), [
    (pynvml.NVML_ERROR_NO_PERMISSION, 1),  # permanent: asked once
    (pynvml.NVML_ERROR_DRIVER_NOT_LOADED, 3),
])
def test_unreadable_counter_with_readable_power_integrates_power(code: int, tries: int) -> None:
    g = FakeGpu(UUIDS[0], energy_integral=lambda t: 250 * t, power=lambda t: 250.0,
                errors={"nvmlDeviceGetTotalEnergyConsumption": code})
    fake = FakeNvml([g])
    with fake.installed():
        src, res = window(fake, {}, 2.0)
    c = gpu(res, 0)
    assert (c["method"], c["detail"]) == ("measured", "power-integration")
    assert c["energy_kwh"] == pytest.approx(250 * 2 / KWH)
    assert any(f"tried {tries} time(s)" in n for n in c["notes"])
    assert src.interval_s == 0.1


def test_no_counter_and_no_power_is_unavailable_with_both_reasons() -> None:
    g = FakeGpu(UUIDS[0], counter=False,
                errors={"nvmlDeviceGetPowerUsage": pynvml.NVML_ERROR_NOT_SUPPORTED,
                        "nvmlDeviceGetComputeRunningProcesses": pynvml.NVML_ERROR_NO_PERMISSION})
    fake = FakeNvml([g])
    with fake.installed():
        _, res = window(fake, {}, 2.0)
    c = gpu(res, 0)
    assert c["method"] == "unavailable" and "GPU power" in c["reason"]
    assert any("no energy counter" in n for n in c["notes"])
    assert any("not readable" in n for n in res.notes)  # process lists refused
    assert fake.mocks["nvmlDeviceGetComputeRunningProcesses"].call_count == 1  # asked once


def test_binding_without_a_function_reads_as_function_not_found() -> None:
    f = translate(AttributeError("nvmlDeviceGetTotalEnergyConsumption"), "energy counter",
                  deprecated="the deprecated `pynvml` package (11.5.0)")
    assert f.kind == "function-not-found" and "pynvml" in f.hint and "nvidia-ml-py" in f.hint


def test_programming_errors_are_not_disguised_as_nvml_errors() -> None:
    fake = FakeNvml([FakeGpu(UUIDS[0])])
    with fake.installed():
        lib = Nvml.open()
        with pytest.raises(TypeError):  # the autospec catches a wrong signature
            lib.call("nvmlDeviceGetPowerUsage")


def test_a_real_session_integrates_power_on_the_real_clock() -> None:
    fake = FakeNvml([FakeGpu(UUIDS[0], counter=False, power=lambda t: 200.0)])
    with fake.installed():
        src = NvmlSource({})
        session = MeterSession([src], name="nvml")
        session.open()
        t0 = session.t_start
        time.sleep(1.0)
        t1 = time.monotonic()
        result = session.close(Window(t0, t1))
    (c,) = result.components
    assert c.detail == "power-integration" and c.extra["power_samples"] >= 8
    assert c.energy_kwh == pytest.approx(200.0 * (t1 - t0) / KWH, rel=1e-6)
    assert result.energy_method == "measured" and result.telemetry_ok


@pytest.mark.skipif(ctypes.util.find_library("nvidia-ml") is not None,
                    reason="this machine has NVML; the fake-driven tests cover the failure")
def test_this_machine_without_nvml_says_so() -> None:
    src = NvmlSource({})
    src.start(0.0)
    src.sample(0.5, frozenset())
    src.stop(1.0)
    (c,) = src.result(Window(0.0, 1.0)).components
    assert c.method == "unavailable"
    assert c.reason == "NVML library not found (libnvidia-ml.so.1)"
    assert "--gpus all" in (c.hint or "")
