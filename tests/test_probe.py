"""`pepr-gate probe`: what the machine can measure, as a table and as JSON."""

from __future__ import annotations

import ctypes.util
import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pynvml
import pytest

from pepr_gate.cli import main

try:
    from tests.fake_pynvml import FakeGpu, FakeMig, FakeNvml
except ImportError:
    from fake_pynvml import FakeGpu, FakeMig, FakeNvml  # type: ignore[no-redef]

ROOT = Path(__file__).parents[1]
NO_NVML = ctypes.util.find_library("nvidia-ml") is None


def powercap(root: Path) -> Path:
    pkg = root / "intel-rapl:0"
    pkg.mkdir(parents=True)
    (pkg / "name").write_text("package-0\n")
    (pkg / "energy_uj").write_text("123456\n")
    (pkg / "max_energy_range_uj").write_text("262143328850\n")
    return root


@pytest.mark.skipif(not NO_NVML, reason="this machine has NVML; the fake-driven test covers it")
def test_probe_json_on_this_machine_explains_what_is_missing(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "pepr_gate", "probe", "--json",
                          "--powercap", str(tmp_path / "none")],
                         capture_output=True, text=True, cwd=ROOT, check=False)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["schema"] == "pepr-gate/probe/1"
    assert data["nvml"]["available"] is False
    assert data["nvml"]["reason"] == "NVML library not found (libnvidia-ml.so.1)"
    assert data["rapl"]["readable"] is False and "does not exist" in data["rapl"]["reason"]
    assert data["summary"] == {"gpu_energy": "unavailable", "cpu_energy": "estimate"}


def test_probe_table_names_reasons_and_hints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COLUMNS", "300")  # one table row per line
    fake = FakeNvml([], init_error=pynvml.NVML_ERROR_DRIVER_NOT_LOADED)
    with fake.installed():
        assert main(["probe", "--powercap", str(tmp_path / "none")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "NVIDIA driver not loaded" in out and "modprobe nvidia" in out
    assert "no RAPL powercap interface" in out
    assert "GPU energy: unavailable; CPU energy: estimate" in out


def test_probe_reports_each_gpu_reading(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    fake = FakeNvml([
        FakeGpu("GPU-aaaaaaaa-0000-4000-8000-000000000000", energy_integral=lambda t: t),
        FakeGpu("GPU-bbbbbbbb-0000-4000-8000-000000000000", name="Tesla P100-PCIE-16GB",
                cc=(6, 0), counter=False,
                errors={"nvmlDeviceGetComputeRunningProcesses": pynvml.NVML_ERROR_NO_PERMISSION}),
        FakeGpu("GPU-cccccccc-0000-4000-8000-000000000000", energy_integral=lambda t: t,
                name="NVIDIA H100 80GB HBM3", cc=(9, 0),  # averages power; an A100 does not
                mig=[FakeMig("MIG-dddddddd-0000-5000-8000-000000000000", 1, 0)]),
    ])
    # PCI order: CUDA's default order would put the P100 last on this mixed machine
    env = {"CUDA_VISIBLE_DEVICES": "1,2", "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
    with fake.installed(), pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        assert main(["probe", "--json", "--powercap", str(powercap(tmp_path / "pc"))]) == 0
    data = json.loads(capsys.readouterr().out)
    a, p100, mig = data["nvml"]["gpus"]
    assert (a["visible"], a["energy_method"]) == (False, "counter")
    assert p100["energy_method"] == "power-integration"
    assert "not supported" in p100["energy_counter"]["reason"].lower()
    assert p100["process_lists"]["ok"] is False
    assert "insufficient permissions" in p100["process_lists"]["reason"]
    assert mig["mig"] == ["MIG-dddddddd-0000-5000-8000-000000000000"]
    assert "1 s average" in mig["power"]["note"]
    assert data["nvml"]["driver_version"] == "535.104.05"
    assert data["nvml"]["cuda_visible_devices"]["visible"] == [p100["uuid"], mig["uuid"]]
    assert data["rapl"]["readable"] is True and data["rapl"]["domains"][0]["name"] == "package-0"
    assert data["summary"] == {"gpu_energy": "counter/power-integration", "cpu_energy": "rapl"}


def test_probe_reports_a_bad_cuda_visible_devices_without_failing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "first")
    monkeypatch.setenv("COLUMNS", "300")
    fake = FakeNvml([FakeGpu("GPU-aaaaaaaa-0000-4000-8000-000000000000",
                             energy_integral=lambda t: t)])
    with fake.installed():
        assert main(["probe", "--powercap", str(tmp_path)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "CUDA_VISIBLE_DEVICES: CUDA_VISIBLE_DEVICES='first'" in out


OLD_PYNVML = """\
# Stand-in for the deprecated `pynvml` package (< 12): a package directory named pynvml
# that shadows nvidia-ml-py's module; it forwards to the real bindings.
import importlib.util, os, sys
_spec = importlib.util.spec_from_file_location("_real_pynvml", sys.argv and {real!r})
_real = sys.modules["_real_pynvml"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_real)
globals().update({{k: v for k, v in vars(_real).items() if not k.startswith("__")}})
"""


def test_deprecated_pynvml_package_is_detected_and_named(tmp_path: Path) -> None:
    real = Path(sysconfig.get_paths()["purelib"]) / "pynvml.py"
    pkg = tmp_path / "site" / "pynvml"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(OLD_PYNVML.format(real=str(real)))
    dist = tmp_path / "site" / "pynvml-11.5.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: pynvml\nVersion: 11.5.0\n")
    env = {**os.environ, "PYTHONPATH": f"{tmp_path / 'site'}{os.pathsep}{ROOT}"}
    out = subprocess.run([sys.executable, "-m", "pepr_gate", "probe", "--json",
                          "--powercap", str(tmp_path / "none")],
                         capture_output=True, text=True, cwd=ROOT, env=env, check=False)
    assert out.returncode == 0, out.stderr
    warning = json.loads(out.stdout)["nvml"]["deprecated_pynvml"]
    assert "deprecated `pynvml` package (11.5.0" in warning
    assert str(pkg / "__init__.py") in warning
