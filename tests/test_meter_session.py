"""MeterSession and `combine` with small hand-written sources, plus the real process source.

The fakes stand in for NVML and RAPL readings (hardware this machine lacks); the session's
thread, timing and the combination rules are the real ones.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import psutil
import pytest

from pepr_gate.measure.meter.base import MeterResult, MeterSession, Source, SourceResult, Window
from pepr_gate.measure.meter.process import ProcessSource
from pepr_gate.records import Component, GpuInfo


def comp(kind: str, method: str, kwh: float | None, name: str = "") -> Component:
    return Component(kind=kind, name=name or kind, method=method, energy_kwh=kwh,
                     reason="no access" if method == "unavailable" else None)


class FakeSource(Source):
    """Returns fixed readings; records what the session called, from which thread."""

    def __init__(self, result: SourceResult | None = None, interval_s: float | None = None,
                 sample_cost_s: float = 0.0) -> None:
        self._result = result or SourceResult()
        self.interval_s = interval_s
        self.sample_cost_s = sample_cost_s
        self.calls: list[str] = []
        self.pids_seen: list[frozenset[int]] = []
        self.sample_threads: set[str] = set()
        self.first_pid_sample = threading.Event()

    def start(self, t: float) -> None:
        self.calls.append("start")

    def sample(self, t: float, pids: frozenset[int]) -> None:
        self.calls.append("sample")
        self.sample_threads.add(threading.current_thread().name)
        self.pids_seen.append(pids)
        if pids:
            self.first_pid_sample.set()
        if self.sample_cost_s:
            time.sleep(self.sample_cost_s)

    def stop(self, t: float) -> None:
        self.calls.append("stop")

    def result(self, window: Window) -> SourceResult:
        self.calls.append("result")
        return self._result


def close(*sources: Source, duration: float = 10.0) -> MeterResult:
    session = MeterSession(list(sources))
    session.open()
    return session.close(Window(session.t_start, session.t_start + duration))


ESTIMATES = SourceResult(components=[comp("cpu", "estimated", 0.003, "EPYC"),
                                     comp("ram", "estimated", 0.001, "RAM")])


def test_only_estimates_is_estimated() -> None:
    r = close(FakeSource(ESTIMATES))
    assert r.energy_method == "estimated"
    assert r.energy_kwh == pytest.approx(0.004)
    assert r.energy_estimated_kwh == pytest.approx(0.004)
    assert r.energy_measured_kwh is None
    assert r.telemetry_ok is True


def test_measured_cpu_replaces_the_cpu_estimate_and_keeps_it_in_the_record() -> None:
    rapl = FakeSource(SourceResult(components=[comp("cpu", "measured", 0.002, "package-0")]))
    r = close(FakeSource(ESTIMATES), rapl)
    by = {(c.kind, c.method): c for c in r.components}
    assert by[("cpu", "estimated")].counts_toward_total is False
    assert any("measured reading replaces it" in n for n in by[("cpu", "estimated")].notes)
    assert by[("ram", "estimated")].counts_toward_total is True
    assert r.energy_method == "mixed"
    assert r.energy_kwh == pytest.approx(0.002 + 0.001)
    assert r.energy_measured_kwh == pytest.approx(0.002)
    assert r.energy_estimated_kwh == pytest.approx(0.001)


def test_everything_measured_is_measured() -> None:
    hw = FakeSource(SourceResult(components=[
        comp("cpu", "measured", 0.002, "package-0"),
        comp("dram", "measured", 0.0005, "dram-0"),
        comp("gpu", "measured", 0.01, "H100"),
    ]))
    r = close(FakeSource(ESTIMATES), hw)
    assert r.energy_method == "measured"
    assert r.energy_kwh == pytest.approx(0.0125)
    assert r.energy_estimated_kwh is None
    counted = [c.kind for c in r.components if c.counts_toward_total]
    assert sorted(counted) == ["cpu", "dram", "gpu"]


def test_measured_gpu_beside_cpu_estimates_is_mixed() -> None:
    gpu = FakeSource(SourceResult(components=[comp("gpu", "measured", 0.01, "A100")]))
    r = close(FakeSource(ESTIMATES), gpu)
    assert r.energy_method == "mixed"
    assert r.energy_kwh == pytest.approx(0.014)


def test_a_measured_part_without_a_value_does_not_replace_the_estimate() -> None:
    broken = FakeSource(SourceResult(components=[comp("cpu", "measured", None, "package-0")]))
    r = close(FakeSource(ESTIMATES), broken)
    assert r.energy_method == "estimated"
    assert r.energy_kwh == pytest.approx(0.004)


def test_nothing_readable_is_unavailable_and_not_telemetry_ok() -> None:
    r = close(FakeSource(SourceResult(components=[comp("gpu", "unavailable", None, "gpu")])))
    assert r.energy_method == "unavailable"
    assert r.energy_kwh is None and r.telemetry_ok is False
    [c] = r.components
    assert c.reason == "no access"


def test_peaks_hardware_and_flags_are_merged() -> None:
    a = FakeSource(SourceResult(peak_rss_bytes=100, peak_rss_single_bytes=60,
                                gpu_peak_memory_bytes=None, exclusive=True,
                                notes=["a note"]))
    b = FakeSource(SourceResult(peak_rss_bytes=80, gpu_peak_memory_bytes=5_000,
                                gpus=[GpuInfo(index=0, name="H100")], driver_version="550.1",
                                cuda_version="12.4", exclusive=False, low_confidence=True,
                                notes=["b note"]))
    r = close(a, b)
    assert r.peak_rss_bytes == 100 and r.peak_rss_single_bytes == 60
    assert r.gpu_peak_memory_bytes == 5_000
    assert [g.name for g in r.gpus] == ["H100"]
    assert r.driver_version == "550.1" and r.cuda_version == "12.4"
    assert r.exclusive is False and r.low_confidence is True
    assert r.notes == ["a note", "b note"]
    quiet = close(FakeSource())
    assert quiet.exclusive is None and quiet.gpu_peak_memory_bytes is None


def test_lifecycle_one_sampling_thread_and_a_prompt_first_sample_of_a_new_job() -> None:
    src = FakeSource(interval_s=30.0)  # far longer than the test: samples come from track()
    passive = FakeSource()  # no interval: never sampled
    session = MeterSession([src, passive])
    session.open()
    assert src.calls[0] == "start" and passive.calls == ["start"]
    session.track(4242)
    assert src.first_pid_sample.wait(5.0), "track() did not trigger a sample"
    assert frozenset({4242}) in src.pids_seen
    result = session.close(Window(session.t_start, time.monotonic()))
    assert src.calls[-2:] == ["stop", "result"]
    assert "sample" not in passive.calls
    assert src.sample_threads == {"pepr-meter"}
    # the sampling thread's own CPU time: some was spent (it sampled), and never more
    # than the session lasted (it is that one thread's time, not the process's)
    assert 0.0 < result.sampler_cpu_s < time.monotonic() - session.t_start


def test_without_sampled_sources_no_thread_is_started() -> None:
    before = threading.active_count()
    session = MeterSession([FakeSource(ESTIMATES)])
    session.open()
    assert threading.active_count() == before
    session.close(Window(0.0, 1.0))


def test_sampler_cpu_time_is_counted() -> None:
    class Busy(FakeSource):
        def sample(self, t: float, pids: frozenset[int]) -> None:
            end = time.thread_time() + 0.02
            while time.thread_time() < end:
                pass

    session = MeterSession([Busy(interval_s=0.05)])
    session.open()
    time.sleep(0.3)
    r = session.close(Window(session.t_start, time.monotonic()))
    assert r.sampler_cpu_s >= 0.02


def test_a_sampler_that_falls_behind_is_flagged_low_confidence() -> None:
    slow = FakeSource(interval_s=0.05, sample_cost_s=0.8)
    session = MeterSession([slow])
    session.open()
    time.sleep(1.0)
    r = session.close(Window(session.t_start, time.monotonic()))
    assert session.sampling_gaps >= 1
    assert r.low_confidence is True
    assert any("sampling fell behind" in n for n in r.notes)


def test_process_source_sums_the_tree() -> None:
    code = ("import subprocess, sys, time\n"
            "x = bytearray(40 * 2**20)\n"
            "c = subprocess.Popen([sys.executable, '-c', "
            "'import time; y = bytearray(30 * 2**20); time.sleep(30)'])\n"
            "time.sleep(30)\n")
    proc = subprocess.Popen([sys.executable, "-c", code])
    src = ProcessSource()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            src.sample(time.monotonic(), frozenset({proc.pid}))
            if src.peak_sum > 70 * 2**20 and len(src.pids_seen) >= 2:
                break
            time.sleep(0.05)
    finally:
        for child in psutil.Process(proc.pid).children(recursive=True):
            child.kill()
        proc.kill()
        proc.wait()
    assert src.peak_sum > 70 * 2**20  # both processes counted
    assert 40 * 2**20 < src.peak_single < src.peak_sum
    res = src.result(Window(0.0, 1.0, max_rss_single_bytes=1))
    assert res.peak_rss_bytes == src.peak_sum and res.peak_rss_single_bytes == src.peak_single
    [c] = res.components
    assert c.kind == "process" and c.counts_toward_total is False
    assert c.extra["processes_seen"] >= 2


def test_process_source_falls_back_to_wait4_for_a_job_too_short_to_sample() -> None:
    src = ProcessSource()
    res = src.result(Window(0.0, 0.01, max_rss_single_bytes=12_345_678))
    assert res.peak_rss_bytes == 12_345_678 and res.peak_rss_single_bytes == 12_345_678
    assert "ru_maxrss" in res.components[0].notes[0]


def test_a_run_shorter_than_a_second_is_low_confidence() -> None:
    short = close(FakeSource(SourceResult(components=[comp("cpu", "estimated", 1e-7)])),
                  duration=0.3)
    assert short.low_confidence and any("shorter than" in n for n in short.notes)
    long = close(FakeSource(SourceResult(components=[comp("cpu", "estimated", 1e-5)])),
                 duration=5.0)
    assert not long.low_confidence


def test_rapl_measuring_only_some_packages_is_flagged() -> None:
    rapl = FakeSource(SourceResult(components=[
        comp("cpu", "measured", 2e-4, "package-0"),
        comp("cpu", "unavailable", None, "package-1"),
    ]))
    estimate = FakeSource(SourceResult(components=[comp("cpu", "estimated", 3e-4, "tdp")]))
    result = close(rapl, estimate)
    assert result.energy_kwh == pytest.approx(2e-4)  # the estimate is replaced, not added
    assert result.low_confidence
    assert any("only some cpu domains were measured" in n for n in result.notes)


def test_a_tiny_job_does_not_inherit_pepr_gates_memory_as_its_peak() -> None:
    proc_source = ProcessSource()
    session = MeterSession([proc_source])
    session.open()
    t0 = time.monotonic()
    job = "x = bytearray(64 * 2**20); import time; time.sleep(0.5)"
    child = subprocess.Popen([sys.executable, "-c", job])
    session.track(child.pid)
    _, _, usage = os.wait4(child.pid, 0)
    child.returncode = 0
    window = Window(t0, time.monotonic(), max_rss_single_bytes=usage.ru_maxrss * 1024)
    result = session.close(window)
    assert result.peak_rss_bytes is not None
    assert 64 * 2**20 <= result.peak_rss_bytes < 200 * 2**20  # sampled: the job's own 64 MiB
