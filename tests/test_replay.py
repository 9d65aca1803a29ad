"""The replay meter: a recorded GPU trace played over the real run's window."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pynvml
import pytest

from pepr_gate.cli import main
from pepr_gate.errors import InputError
from pepr_gate.measure.meter.base import MeterSession, Window
from pepr_gate.measure.meter.nvml import NvmlSource
from pepr_gate.measure.meter.replay import ReplaySource, load_trace, write_trace

try:
    from tests.fake_pynvml import FakeGpu, FakeNvml, GiB, sine_power
except ImportError:
    from fake_pynvml import FakeGpu, FakeNvml, GiB, sine_power  # type: ignore[no-redef]

EXAMPLE = Path(__file__).parents[1] / "examples" / "traces" / "a100-train.json"
MJ_PER_KWH = 3.6e9


def energy(src: ReplaySource, seconds: float) -> float:
    (c,) = src.result(Window(100.0, 100.0 + seconds)).components
    assert c.energy_kwh is not None
    return c.energy_kwh


def test_example_trace_is_a_plausible_a100_run() -> None:
    trace = load_trace(EXAMPLE)
    (dev,) = trace.devices
    assert dev.name == "NVIDIA A100-SXM4-40GB" and dev.memory_total_bytes == 40 * GiB
    powers = [s.power_w for s in dev.samples if s.power_w is not None]
    steady = powers[5:]
    assert 250 <= sum(steady) / len(steady) <= 300 and max(powers) <= (dev.power_limit_w or 0)
    assert dev.energy_mj is not None and 240 <= dev.energy_mj / 1000 / trace.duration_s <= 300


def test_energy_follows_the_run_length_and_loops_the_recording() -> None:
    src = ReplaySource(EXAMPLE)
    recorded = load_trace(EXAMPLE).devices[0].energy_mj
    assert recorded is not None
    assert energy(src, 60.0) == pytest.approx(recorded / MJ_PER_KWH, rel=1e-9)
    assert energy(src, 150.0) == pytest.approx(2.5 * recorded / MJ_PER_KWH, rel=0.02)
    assert energy(src, 120.0) == pytest.approx(2 * recorded / MJ_PER_KWH, rel=1e-9)
    short, longer = energy(src, 1.5), energy(src, 10.0)
    assert 0 < short < longer < energy(src, 60.0)


def test_replay_reading_is_labelled_and_carries_the_gpu_details() -> None:
    res = ReplaySource(EXAMPLE).result(Window(0.0, 30.0))
    (c,) = res.components
    assert (c.kind, c.method, c.detail, c.counts_toward_total) == ("gpu", "replayed", "replay",
                                                                  True)
    assert any(f"replay of {EXAMPLE}" in n for n in c.notes)
    assert c.extra["uuid"].startswith("GPU-") and c.extra["power_limit_w"] == 400.0
    assert 85 <= c.extra["mean_utilization"] <= 100
    assert res.gpus[0].visible and res.exclusive is True
    assert res.driver_version == "535.129.03" and res.cuda_version == "12.2"
    assert 16 * GiB < (res.gpu_peak_memory_bytes or 0) < 18 * GiB


@pytest.mark.parametrize(("content", "words"), [
    (None, "replay trace not found"),
    ("{not json", "not JSON (line 1"),
    ('{"schema": "pepr-gate/run/1"}', "not a pepr-gate trace (schema 'pepr-gate/run/1'"),
    ('{"schema": "pepr-gate/trace/1", "duration_s": 5, "devices": []}',
     "invalid trace at field 'devices'"),
    ('{"schema": "pepr-gate/trace/1", "duration_s": 5, "devices": [{"name": "X", '
     '"samples": [{"t": 0, "power_w": 100}]}]}', "fewer than 2 power samples"),
])
def test_bad_trace_is_an_input_error_naming_the_file(tmp_path: Path, content: str | None,
                                                     words: str) -> None:
    path = tmp_path / "trace.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(InputError) as err:
        ReplaySource(path)
    assert str(path) in err.value.message and words in err.value.message
    assert err.value.exit_code == 2 and "--record-trace" in (err.value.hint or "")


def test_a_meter_session_with_replay_measures_gpu_energy() -> None:
    session = MeterSession([ReplaySource(EXAMPLE)], name="replay")
    session.open()
    time.sleep(0.3)
    t1 = time.monotonic()
    result = session.close(Window(session.t_start, t1))
    assert result.energy_method == "replayed" and result.telemetry_ok
    assert result.energy_kwh == pytest.approx(energy(ReplaySource(EXAMPLE), t1 - session.t_start))


def test_recorded_nvml_trace_replays_to_the_same_energy(tmp_path: Path) -> None:
    power, integral = sine_power(270.0, 25.0, period=11.0)
    fake = FakeNvml([FakeGpu("GPU-5d3e9a27-8c41-4f0b-a6d2-1e7b93c0f458", power=power,
                             energy_integral=integral, processes=lambda t: [(4242, 9 * GiB)])])
    with fake.installed():
        src = NvmlSource({})
        src.start(0.0)
        for i in range(1, 20):
            fake.clock = float(i)
            src.sample(fake.clock, frozenset())
        fake.clock = 20.0
        src.stop(20.0)
        measured = src.result(Window(0.0, 20.0)).components[0].energy_kwh
    path = tmp_path / "rec" / "trace.json"
    write_trace(path, src.trace())
    replay = ReplaySource(path)
    assert energy(replay, 20.0) == pytest.approx(measured, rel=1e-6)
    assert energy(replay, 40.0) == pytest.approx(2 * (measured or 0), rel=1e-6)
    assert replay.result(Window(0.0, 20.0)).exclusive is False  # PID 4242 was not the job's


def test_write_trace_to_an_unwritable_place_names_it(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(InputError, match="cannot write the trace"):
        write_trace(blocker / "trace.json", {"schema": "pepr-gate/trace/1"})


def test_run_under_the_replay_meter_through_the_cli(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "record.json"
    code = main(["run", "--meter", f"replay:{EXAMPLE}", "--no-store", "--out", str(out), "--",
                 sys.executable, "-c", "import time; time.sleep(1.2)"])
    assert code == 0
    record = json.loads(out.read_text())
    (gpu,) = [c for c in record["components"] if c["kind"] == "gpu"]
    assert (gpu["method"], gpu["detail"], gpu["scope"]) == ("replayed", "replay", "whole-device")
    duration = record["resources"]["duration_s"]
    assert duration >= 1.2
    assert gpu["energy_kwh"] == pytest.approx(energy(ReplaySource(EXAMPLE), duration), rel=0.05)
    assert record["resources"]["energy_method"] == "replayed"  # never taken for a measurement
    assert record["resources"]["energy_measured_kwh"] == pytest.approx(gpu["energy_kwh"])
    assert record["meter"] == "replay" and record["telemetry_ok"]
    assert record["hardware"]["gpus"][0]["name"] == "NVIDIA A100-SXM4-40GB"


def test_cli_names_a_missing_trace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    code = main(["run", "--meter", "replay:nope.json", "--no-store", "--",
                 sys.executable, "-c", "pass"])
    assert code == 2
    assert "nope.json: replay trace not found" in capsys.readouterr().err


def test_a_run_shorter_than_a_second_is_low_confidence() -> None:
    # A real counter may not move in under a second; the replay says so too.
    src = ReplaySource(EXAMPLE)
    short = src.result(Window(0.0, 0.002))
    assert short.low_confidence
    assert any("shorter than 1 s" in n for n in short.notes)
    assert not src.result(Window(0.0, 2.0)).low_confidence


def test_record_trace_without_a_gpu_fails_before_the_job_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "ran"
    job = [sys.executable, "-c", f"open({str(marker)!r}, 'w')"]
    fake = FakeNvml([], init_error=pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)
    with fake.installed():
        code = main(["run", "--no-store", "--record-trace", "t.json", "--", *job])
    assert code == 2
    err = capsys.readouterr().err
    assert "--record-trace t.json: no GPU to record: NVML library not found" in err
    assert not marker.exists()  # the job never started
    # A GPU the job cannot see is no better.
    fake = FakeNvml([FakeGpu("GPU-5d3e9a27-8c41-4f0b-a6d2-1e7b93c0f458")])
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    with fake.installed():
        code = main(["run", "--no-store", "--record-trace", "t.json", "--", *job])
    assert code == 2
    assert "the job can see no GPU (CUDA_VISIBLE_DEVICES='-1')" in capsys.readouterr().err
    assert not marker.exists()


def test_record_trace_with_a_gpu_records_and_replays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    power, integral = sine_power(200.0, 10.0, period=5.0)
    fake = FakeNvml([FakeGpu("GPU-5d3e9a27-8c41-4f0b-a6d2-1e7b93c0f458", power=power,
                             energy_integral=integral)])
    with fake.installed():
        code = main(["run", "--no-store", "--out", "r.json", "--record-trace", "t.json", "--",
                     sys.executable, "-c", "pass"])
    assert code == 0
    assert load_trace(tmp_path / "t.json").devices[0].name == "NVIDIA A100-SXM4-40GB"
    assert (tmp_path / "r.json").is_file()


def test_run_table_labels_replayed_gpu_readings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["run", "--meter", f"replay:{EXAMPLE}", "--no-store", "--verbose", "--",
                 sys.executable, "-c", "pass"]) == 0
    out = capsys.readouterr().out
    assert "NVIDIA A100-SXM4-40GB: replayed (replay)" in out
    assert "replay of a recorded trace, not this machine" in out
    assert "measured: NVML" not in out
    assert main(["run", "--meter", f"replay:{EXAMPLE}", "--no-store", "--",
                 sys.executable, "-c", "pass"]) == 0
    short = capsys.readouterr().out  # without --verbose the replay is still named
    assert "(replay of a recorded trace)" in short and "not this machine" in short
