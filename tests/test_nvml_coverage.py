"""Issue 12: a GPU figure is labelled `measured` only when it covers the whole run.

Each test drives NvmlSource through the scripted NVML (tests/fake_pynvml.py) with one
failure a real runner produces: transient errors, a lost GPU, an unopenable device, a
stuck counter, memory NVML cannot report, MIG neighbours, Slurm's NoDevFiles.
"""

from __future__ import annotations

import time

import pynvml
import pytest

from pepr_gate.measure.meter.base import MeterSession, Window
from pepr_gate.measure.meter.devices import parse_visible
from pepr_gate.measure.meter.nvml import NvmlSource

try:
    from tests.fake_pynvml import FakeGpu, FakeMig, FakeNvml, GiB
    from tests.test_nvml import KWH, UUIDS, gpu, job, window
except ImportError:
    from fake_pynvml import FakeGpu, FakeMig, FakeNvml, GiB  # type: ignore[no-redef]
    from test_nvml import KWH, UUIDS, gpu, job, window  # type: ignore[no-redef]

__all__ = ["job"]  # the fixture, re-used
LOST = pynvml.NVML_ERROR_GPU_IS_LOST
TIMEOUT = pynvml.NVML_ERROR_TIMEOUT


def no_counter(**kw: object) -> FakeGpu:
    return FakeGpu(UUIDS[0], counter=False, power=lambda t: 200.0, **kw)  # type: ignore[arg-type]


def test_one_transient_power_error_keeps_sampling_and_the_run_is_measured() -> None:
    g = no_counter(flaky={"nvmlDeviceGetPowerUsage": lambda t, n: TIMEOUT if 5 <= t < 5.05
                          else None})
    fake = FakeNvml([g])
    with fake.installed():
        _, res = window(fake, {}, 60.0)
    c = gpu(res, 0)
    assert c["method"] == "measured" and c["coverage"] >= 0.99
    assert c["energy_kwh"] == pytest.approx(200 * 60 / KWH, rel=1e-3)  # not 5 s worth
    assert c["extra"]["power_misses"] == 1
    assert any("1 power reading(s) failed" in n for n in c["notes"])
    assert not res.low_confidence


def test_a_gpu_lost_mid_run_is_low_confidence_with_its_coverage_and_no_filled_tail() -> None:
    g = no_counter(flaky={"nvmlDeviceGetPowerUsage": lambda t, n: LOST if t >= 5 else None})
    fake = FakeNvml([g])
    with fake.installed():
        _, res = window(fake, {}, 60.0)
    c = gpu(res, 0)
    assert c["method"] == "measured" and res.low_confidence
    assert c["coverage"] == pytest.approx(5 / 60, abs=0.01)
    assert c["energy_kwh"] == pytest.approx(200 * 4.9 / KWH, rel=0.01)  # what was sampled
    note = next(n for n in c["notes"] if "cover" in n)
    assert "8.2%" in note and "not filled" in note


def test_a_gap_inside_the_run_is_filled_and_said_to_be() -> None:
    g = no_counter(flaky={"nvmlDeviceGetPowerUsage": lambda t, n: TIMEOUT if 10 <= t < 20
                          else None})
    fake = FakeNvml([g])
    with fake.installed():
        _, res = window(fake, {}, 30.0)
    c = gpu(res, 0)
    assert c["energy_kwh"] == pytest.approx(200 * 30 / KWH, rel=1e-3)  # constant power: exact
    assert c["coverage"] == pytest.approx(20 / 30, abs=0.01) and res.low_confidence
    assert any("filled by a straight line" in n for n in c["notes"])


def test_a_lost_gpu_at_the_end_falls_back_from_the_counter_to_its_power_samples() -> None:
    g = FakeGpu(UUIDS[0], energy_integral=lambda t: 250 * t,
                flaky={"nvmlDeviceGetTotalEnergyConsumption": lambda t, n: LOST if t > 0
                       else None})
    fake = FakeNvml([g])
    with fake.installed():
        _, res = window(fake, {}, 20.0)
    c = gpu(res, 0)
    assert (c["method"], c["detail"]) == ("measured", "power-integration")
    assert res.low_confidence and any("energy counter unreadable at the end" in n
                                      and "GPU is lost" in n for n in c["notes"])


def test_a_transient_error_on_the_first_counter_read_is_retried() -> None:
    g = FakeGpu(UUIDS[0], energy_integral=lambda t: 250 * t,
                flaky={"nvmlDeviceGetTotalEnergyConsumption": lambda t, n: TIMEOUT if n == 1
                       else None})
    fake = FakeNvml([g])
    with fake.installed():
        src, res = window(fake, {}, 10.0)
    c = gpu(res, 0)
    assert (c["method"], c["detail"], c["coverage"]) == ("measured", "counter", 1.0)
    assert src.interval_s == 1.0 and not res.low_confidence


def test_a_counter_failing_every_try_falls_back_to_power_integration() -> None:
    g = FakeGpu(UUIDS[0], energy_integral=lambda t: 250 * t, power=lambda t: 250.0,
                flaky={"nvmlDeviceGetTotalEnergyConsumption": lambda t, n: TIMEOUT})
    fake = FakeNvml([g])
    with fake.installed():
        src, res = window(fake, {}, 10.0)
    c = gpu(res, 0)
    assert (c["method"], c["detail"]) == ("measured", "power-integration")
    assert c["energy_kwh"] == pytest.approx(250 * 10 / KWH, rel=1e-6)
    assert src.interval_s == 0.1
    assert any("tried 3 time(s)" in n for n in c["notes"])


def test_a_stuck_counter_is_caught_by_the_power_samples() -> None:
    g = FakeGpu(UUIDS[0], energy_integral=lambda t: 0.0, power=lambda t: 250.0)
    fake = FakeNvml([g])
    with fake.installed():
        _, res = window(fake, {}, 60.0)
    c = gpu(res, 0)
    assert c["detail"] == "power-integration" and res.low_confidence
    assert c["energy_kwh"] == pytest.approx(250 * 60 / KWH, rel=1e-6)
    assert any("differ by more than 25%" in n and "integrated power is used" in n
               for n in c["notes"])


def test_a_counter_that_agrees_with_the_power_samples_is_used() -> None:
    g = FakeGpu(UUIDS[0], energy_integral=lambda t: 260 * t, power=lambda t: 250.0)
    fake = FakeNvml([g])
    with fake.installed():
        _, res = window(fake, {}, 60.0)
    c = gpu(res, 0)
    assert c["detail"] == "counter" and not res.low_confidence
    assert c["energy_kwh"] == pytest.approx(260 * 60 / KWH, rel=1e-6)


def test_one_unopenable_gpu_leaves_the_others_metered_with_cuda_indices() -> None:
    gpus = [FakeGpu(u, pci=f"00000000:{i + 7:02x}:00.0", energy_integral=lambda t: 100 * t,
                    power=lambda t: 100.0)
            for i, u in enumerate(UUIDS)]
    fake = FakeNvml(gpus, handle_errors={0: pynvml.NVML_ERROR_NO_PERMISSION})
    with fake.installed():
        _, res = window(fake, {"CUDA_VISIBLE_DEVICES": "0"}, 5.0)
    bad = next(c for c in res.components if c.name == "GPU 0")
    assert bad.method == "unavailable" and not bad.counts_toward_total
    assert "insufficient permissions" in (bad.reason or "")
    # CUDA numbers only the devices it can open: its device 0 is NVML's GPU 1
    assert [g.uuid for g in res.gpus if g.visible] == [UUIDS[1]]
    assert gpu(res, 1)["method"] == "measured"
    assert gpu(res, 1)["energy_kwh"] == pytest.approx(100 * 5 / KWH)


def test_process_memory_nvml_cannot_report_is_unavailable_not_zero(
    job: tuple[int, int],
) -> None:
    root, child = job
    fake = FakeNvml([FakeGpu(UUIDS[0], energy_integral=lambda t: 250 * t,
                             processes=lambda t: [(child, None)] if t >= 1 else [])])
    with fake.installed():
        _, res = window(fake, {}, 3.0, pids=frozenset({root}))
    assert res.gpu_peak_memory_bytes is None and res.exclusive is None
    assert any("NVML_VALUE_NOT_AVAILABLE" in n and "exclusivity unknown" in n
               for n in res.notes)


def test_slurm_nodevfiles_means_no_gpu_not_bad_input() -> None:
    spec = parse_visible({"CUDA_VISIBLE_DEVICES": "NoDevFiles"})
    assert spec.entries == ()
    # like "-1", it ends the list: CUDA on an H200 saw GPU 0 for "0,NoDevFiles"
    assert [e.value for e in parse_visible({"CUDA_VISIBLE_DEVICES": "0,NoDevFiles"}).entries] \
        == ["0"]
    fake = FakeNvml([FakeGpu(UUIDS[0], energy_integral=lambda t: 250 * t)])
    with fake.installed():
        _, res = window(fake, {"CUDA_VISIBLE_DEVICES": "NoDevFiles"}, 2.0)
    assert [g.visible for g in res.gpus] == [False]
    assert not any(c.counts_toward_total for c in res.components)


def test_a_whole_gpu_with_mig_enabled_is_shared_and_low_confidence() -> None:
    slices = [FakeMig("MIG-5e1c7a34-8b90-5d1f-a2c3-4e5f6a7b8c9d", gi=1, ci=0)]
    fake = FakeNvml([FakeGpu(UUIDS[0], energy_integral=lambda t: 300 * t, mig=slices)])
    with fake.installed():
        _, res = window(fake, {"CUDA_VISIBLE_DEVICES": "0"}, 4.0)
    c = gpu(res, 0)
    assert c["extra"]["scope"] == "whole-gpu-shared" and res.low_confidence
    assert any("a whole GPU that has MIG enabled" in n for n in c["notes"])


def test_a_neighbour_slice_refusing_its_list_does_not_hide_the_jobs_own(
    job: tuple[int, int],
) -> None:
    root, child = job
    mine = FakeMig("MIG-5e1c7a34-8b90-5d1f-a2c3-4e5f6a7b8c9d", gi=1, ci=0,
                   processes=lambda t: [(child, 2 * GiB)] if t >= 1 else [])
    other = FakeMig("MIG-0a9b8c7d-6e5f-5a4b-9c3d-2e1f0a9b8c7d", gi=2, ci=0,
                    errors={"nvmlDeviceGetComputeRunningProcesses":
                            pynvml.NVML_ERROR_NO_PERMISSION})
    fake = FakeNvml([FakeGpu(UUIDS[0], energy_integral=lambda t: 300 * t,
                             memory_used=30 * GiB, mig=[other, mine])])
    with fake.installed():
        _, res = window(fake, {"CUDA_VISIBLE_DEVICES": mine.uuid}, 3.0,
                        pids=frozenset({root}))
    assert res.gpu_peak_memory_bytes == 2 * GiB  # the slice's job, not the device's 30 GiB
    assert res.exclusive is None and res.low_confidence
    assert any("exclusivity unknown" in n for n in res.notes)


@pytest.mark.parametrize(("instant", "reading", "averaged"), [
    (True, "instant", False), (False, "nvmlDeviceGetPowerUsage", True)])
def test_h100_integrates_instant_power_where_the_driver_has_it(
    instant: bool, reading: str, averaged: bool,
) -> None:
    g = FakeGpu(UUIDS[0], name="NVIDIA H100 80GB HBM3", cc=(9, 0), counter=False,
                power=lambda t: 300.0, instant_power=instant)
    fake = FakeNvml([g])
    with fake.installed():
        _, res = window(fake, {}, 5.0)
    c = gpu(res, 0)
    assert c["extra"]["power_reading"] == reading
    assert c["energy_kwh"] == pytest.approx(300 * 5 / KWH, rel=1e-6)
    assert any("1 s average" in n for n in c["notes"]) is averaged


@pytest.mark.parametrize(("code", "words", "hint"), [
    (pynvml.NVML_ERROR_LIB_RM_VERSION_MISMATCH, "different versions", "reboot"),
    (pynvml.NVML_ERROR_GPU_IS_LOST, "GPU is lost", "Xid"),
])
def test_version_mismatch_and_lost_gpu_say_what_to_do(code: int, words: str, hint: str) -> None:
    fake = FakeNvml([FakeGpu(UUIDS[0])], init_error=code)
    with fake.installed():
        _, res = window(fake, {}, 1.0)
    (c,) = res.components
    assert words in (c.reason or "") and hint in (c.hint or "")


def test_nvml_is_shut_down_when_discovery_fails() -> None:
    fake = FakeNvml([FakeGpu(UUIDS[0])])
    with fake.installed():
        fake.mocks["nvmlDeviceGetCount"].side_effect = pynvml.NVMLError(
            pynvml.NVML_ERROR_UNKNOWN)
        _, res = window(fake, {}, 1.0)
        assert fake.mocks["nvmlShutdown"].call_count == 1
    assert res.components[0].method == "unavailable"


def test_nvml_start_up_is_outside_the_window_and_its_first_sample() -> None:
    fake = FakeNvml([FakeGpu(UUIDS[0], counter=False, power=lambda t: 200.0)])
    with fake.installed():
        fake.mocks["nvmlInit"].side_effect = lambda: time.sleep(0.3)
        src = NvmlSource({})
        session = MeterSession([src], name="nvml")
        before = time.monotonic()
        session.open()
        assert session.t_start - before >= 0.3  # the window opens after NVML is up
        first = src._devices[0].power[0][0]
        session.close(Window(session.t_start, time.monotonic()))
    assert first >= session.t_start
