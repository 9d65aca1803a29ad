"""scripts/gpu_check.py's own logic, without a GPU: the independent sampler against the
scripted NVML, its arithmetic, and the refusal on a machine with no GPU."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from unittest import mock

import pynvml
import pytest

try:
    from tests.fake_pynvml import FakeGpu, FakeNvml
except ImportError:
    from fake_pynvml import FakeGpu, FakeNvml  # type: ignore[no-redef]

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "gpu_check.py"


@pytest.fixture(scope="module")
def gc() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_span_interpolates_the_counter_at_the_edges_and_integrates_power(
    gc: ModuleType,
) -> None:
    # 200 W for 10 s sampled at 10 Hz: counter in mJ, power in mW
    rows = [(t / 10, 200.0 * t / 10 * 1000, 200_000.0, 190_000.0) for t in range(101)]
    s = gc.span(rows, 1.05, 9.05)
    assert s["counter_J"] == pytest.approx(200 * 8.0)
    assert s["power_usage_J"] == pytest.approx(200 * 7.9)  # samples 1.1 .. 9.0 inside
    assert s["instant_J"] == pytest.approx(190 * 7.9)
    assert s["samples"] == 80 and s["max_gap_s"] == pytest.approx(0.1)
    assert gc.counter_at(rows, 11.0) is None  # never extrapolated
    assert gc.rel(110.0, 100.0) == 0.1 and gc.rel(1.0, 0.0) is None


def test_uuid_forms_compare_without_prefix(gc: ModuleType) -> None:
    u = "GPU-8f2a61c4-1b7e-4c55-9a0e-3d2f6b7c8e91"
    assert gc.same_uuid(u) == gc.same_uuid("8F2A61C4-1b7e-4c55-9a0e-3d2f6b7c8e91")
    assert gc.cvd_forms(u)[:4] == [None, "0", u, "GPU-8f2a61c4"]
    assert "NoDevFiles" in gc.cvd_forms(u)


def test_sampler_reads_nvml_itself_and_keeps_the_counter_when_pepr_gate_is_denied_it(
    gc: ModuleType,
) -> None:
    g = FakeGpu("GPU-8f2a61c4-1b7e-4c55-9a0e-3d2f6b7c8e91", energy_integral=lambda t: 250 * t,
                power=lambda t: 250.0, instant_power=True)
    fake = FakeNvml([g])
    with fake.installed():
        s = gc.Sampler(pynvml, g, hz=50.0)

        def denied(handle: object) -> int:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)

        with mock.patch.object(pynvml, "nvmlDeviceGetTotalEnergyConsumption", denied):
            s.start()
            time.sleep(0.2)
            rows = s.finish()
    assert len(rows) >= 5
    assert all(r[1] is not None and r[2] == 250_000.0 and r[3] == 250_000.0 for r in rows)


def test_without_a_gpu_it_says_so_in_one_json_line_and_exits_2(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    r = subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path / "r.json")],
                       capture_output=True, text=True, timeout=120)
    if r.returncode == 0:
        pytest.skip("this machine has a usable GPU")
    assert r.returncode == 2
    (line,) = r.stdout.splitlines()
    report = json.loads(line)
    assert report["ok"] is False and report["error"]
    assert json.loads((tmp_path / "r.json").read_text()) == report
