"""Estimates from codecarbon's offline tables: CPU TDP, RAM power, grid carbon intensity.

codecarbon's data files are read, its package never imported: no tracker, no socket, no
file written, and a user's `.codecarbon.config` or `CODECARBON_*` variables change nothing.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pepr_gate.errors import ConfigError
from pepr_gate.measure.meter.base import Window
from pepr_gate.measure.meter.estimate import (
    J_PER_KWH,
    EstimateSource,
    carbon_intensity,
    codecarbon_data_dir,
    lookup_tdp,
)

# codecarbon is a dependency: its data must be found, never a reason to skip these tests.
DATA = codecarbon_data_dir()


def test_codecarbon_data_is_found_where_the_package_is() -> None:
    assert DATA is not None, "codecarbon_data_dir() found no codecarbon package"
    assert (DATA / "hardware" / "cpu_power.csv").is_file()
    assert (DATA / "private_infra" / "global_energy_mix.json").is_file()


@pytest.mark.parametrize(
    ("proc_cpuinfo_name", "tdp", "table_name"),
    [
        ("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", 150, "Intel Xeon Gold 6248"),
        ("Intel(R) Xeon(R) Platinum 8380 CPU @ 2.30GHz", 270, "Intel Xeon Platinum 8380"),
        ("AMD EPYC 7763 64-Core Processor", 280, "AMD EPYC 7763"),
        ("AMD Ryzen 9 5950X 16-Core Processor", 105, "AMD Ryzen 9 5950X"),
        ("Intel(R) Core(TM) i7-8700K CPU @ 3.70GHz", 95, "Intel Core i7-8700K"),
        # the longest match wins, and a suffix is not dropped: 8700 is not 8700K
        ("Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz", 65, "Intel Core i7-8700"),
    ],
)
def test_tdp_of_real_cpu_names(proc_cpuinfo_name: str, tdp: float, table_name: str) -> None:
    found = lookup_tdp(proc_cpuinfo_name, threads=8)
    assert found.watts == tdp
    assert f"{table_name} ({tdp:g} W TDP)" in found.source
    assert "codecarbon cpu_power.csv" in found.source


@pytest.mark.parametrize("name", ["AMD EPYC", "Imaginary Chip 9000", ""])
def test_unknown_cpu_falls_back_to_watts_per_thread(name: str) -> None:
    found = lookup_tdp(name, threads=6)
    assert found.watts == 24.0  # codecarbon's 4 W per thread
    assert "not in codecarbon's CPU table" in found.source and "4 W x 6 threads" in found.source


def test_carbon_intensity_of_a_country_comes_with_source_and_year() -> None:
    assert DATA is not None
    mix = json.loads((DATA / "private_infra" / "global_energy_mix.json").read_text())
    dnk = carbon_intensity("DNK", None)
    assert dnk.g_per_kwh == mix["DNK"]["carbon_intensity"]
    assert 50 < dnk.g_per_kwh < 400  # Denmark's grid, a sanity bound across table updates
    assert "Denmark" in dnk.source and str(mix["DNK"]["year"]) in dnk.source
    assert carbon_intensity("IND", None).g_per_kwh > dnk.g_per_kwh


def test_unknown_country_code_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as exc:
        carbon_intensity("XYZ", None)
    assert "'XYZ'" in exc.value.message and "carbon.country" in exc.value.message
    assert exc.value.hint and "intensity_g_per_kwh" in exc.value.hint


def test_explicit_intensity_wins() -> None:
    got = carbon_intensity(None, 123.0)
    assert got.g_per_kwh == 123.0 and got.source == "config: carbon.intensity_g_per_kwh"
    assert carbon_intensity(None, 0.0).g_per_kwh == 0.0  # a fully renewable supply


def test_world_average_without_a_country() -> None:
    got = carbon_intensity(None, None)
    assert got.g_per_kwh == 475.0 and "world average" in got.source


def test_cpu_and_ram_estimate_arithmetic() -> None:
    src = EstimateSource("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", threads=4,
                         ram_bytes=64 * 2**30)
    window = Window(0.0, 20.0, cpu_user_s=8.0, cpu_sys_s=2.0, max_rss_single_bytes=8 * 2**30)
    cpu, ram = src.result(window).components
    # 150 W TDP x (10 s CPU / 4 threads)
    assert cpu.method == "estimated" and cpu.energy_kwh == pytest.approx(150 * 10 / 4 / J_PER_KWH)
    assert cpu.extra["utilization"] == pytest.approx(10 / (20 * 4))
    assert "Intel Xeon Gold 6248" in cpu.notes[0]
    # 4 modules of 16 GB x 5 W x (8 GiB of 64 GiB) x 20 s
    assert ram.method == "estimated" and ram.energy_kwh == pytest.approx(5 * 4 / 8 * 20 / J_PER_KWH)
    assert "4 modules" in ram.notes[0]


def test_dual_socket_server_pays_both_sockets_tdp() -> None:
    # 2 x Gold 6248 (150 W each), 80 threads; the job keeps 40 of them busy for 10 s
    window = Window(0.0, 10.0, cpu_user_s=400.0)
    one = EstimateSource("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", 80, 2**36)
    two = EstimateSource("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", 80, 2**36, sockets=2)
    cpu2 = two.result(window).components[0]
    assert cpu2.energy_kwh == pytest.approx(150 * 10 / J_PER_KWH)  # one socket's worth busy
    assert cpu2.energy_kwh == pytest.approx(2 * (one.result(window).components[0].energy_kwh
                                                 or 0))
    assert "x 2 / 80" in cpu2.notes[0] and cpu2.scope == "job-share"


def test_a_small_vm_is_not_charged_a_whole_parts_tdp_and_is_flagged() -> None:
    # 4 vCPUs of a 64-core EPYC (280 W): TDP / 4 would be 70 W per vCPU, ~30x too high
    src = EstimateSource("AMD EPYC 7763 64-Core Processor", 4, 16 * 2**30, vm=True)
    cpu = src.result(Window(0.0, 10.0, cpu_user_s=40.0)).components[0]
    assert cpu.extra["vm"] is True and cpu.extra["watts_per_cpu"] == 4.0
    assert cpu.energy_kwh == pytest.approx(4.0 * 40 / J_PER_KWH)
    assert "virtual machine" in cpu.notes[0]


def test_cpu_topology_counts_sockets_and_sees_a_hypervisor() -> None:
    from pepr_gate.measure.hardware import cpu_topology

    bare = "processor: 0\nphysical id: 0\nflags: fpu sse\n\nprocessor: 1\nphysical id: 1\n"
    vm = "processor: 0\nphysical id: 0\nflags: fpu hypervisor sse\n"
    assert cpu_topology(bare) == (2, False)
    assert cpu_topology(vm) == (1, True)
    assert cpu_topology("") == (1, False)


def test_ram_estimate_assumes_at_least_two_modules_and_caps_the_share() -> None:
    src = EstimateSource("x", threads=1, ram_bytes=4 * 2**30)
    _, ram = src.result(Window(0.0, 10.0, max_rss_single_bytes=8 * 2**30)).components
    assert ram.energy_kwh == pytest.approx(5 * 2 * 1.0 * 10 / J_PER_KWH)


PROBE = textwrap.dedent("""\
    import json, os, sys
    events = []
    WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
    def hook(event, args):
        if event.startswith("socket."):
            events.append(["socket", event])
        elif event == "open" and isinstance(args[2], int) and args[2] & WRITE:
            events.append(["write", str(args[0])])
    sys.addaudithook(hook)

    from pepr_gate.measure.meter.base import Window
    from pepr_gate.measure.meter.estimate import EstimateSource, carbon_intensity, lookup_tdp
    src = EstimateSource("AMD EPYC 7763 64-Core Processor", 8, 32 * 2**30)
    cpu, ram = src.result(Window(0.0, 30.0, 20.0, 1.0, 2**30)).components
    numbers = {
        "dnk": carbon_intensity("DNK", None).g_per_kwh,
        "world": carbon_intensity(None, None).g_per_kwh,
        "tdp": lookup_tdp("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", 4).watts,
        "cpu_kwh": cpu.energy_kwh,
        "ram_kwh": ram.energy_kwh,
    }
    from pepr_gate.cli import main
    code = main(["run", "--meter", "process", "--no-store", "--out", "run.json",
                 "--", sys.executable, "-c", "pass"])
    rec = json.load(open("run.json"))
    numbers["record_intensity"] = rec["resources"]["carbon_intensity_g_per_kwh"]
    print(json.dumps({"code": code, "numbers": numbers, "events": events,
                      "codecarbon_imported": "codecarbon" in sys.modules}))
""")

HOSTILE_CONFIG = textwrap.dedent("""\
    [codecarbon]
    country_iso_code = USA
    region = texas
    log_level = debug
    save_to_file = true
    output_dir = {out}
    tracking_mode = process
    default_cpu_power = 500
    force_cpu_power = 999
    force_ram_power = 999
    co2_signal_api_token = secret
    api_endpoint = http://192.0.2.1:9
""")


def _probe(cwd: Path, env: dict[str, str]) -> dict[str, object]:
    proc = subprocess.run([sys.executable, "-c", PROBE], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def test_codecarbon_settings_of_the_user_change_nothing_and_nothing_is_written(
    tmp_path: Path,
) -> None:
    clean_dir, hostile_dir = tmp_path / "clean", tmp_path / "hostile"
    clean_dir.mkdir()
    hostile_dir.mkdir()
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith("CODECARBON_")}
    clean = _probe(clean_dir, clean_env)

    (hostile_dir / "pepr.toml").write_text('[carbon]\ncountry = "DNK"\n')
    (hostile_dir / ".codecarbon.config").write_text(HOSTILE_CONFIG.format(out=hostile_dir))
    home = tmp_path / "home"
    home.mkdir()
    (home / ".codecarbon.config").write_text(HOSTILE_CONFIG.format(out=hostile_dir))
    hostile_env = {
        **clean_env,
        "HOME": str(home),
        "CODECARBON_COUNTRY_ISO_CODE": "USA",
        "CODECARBON_SAVE_TO_FILE": "true",
        "CODECARBON_OUTPUT_DIR": str(hostile_dir),
        "CODECARBON_LOG_LEVEL": "debug",
        "CODECARBON_FORCE_CPU_POWER": "999",
        "CODECARBON_API_ENDPOINT": "http://192.0.2.1:9",
    }
    hostile = _probe(hostile_dir, hostile_env)

    assert clean["code"] == 0 and hostile["code"] == 0
    numbers = clean["numbers"]
    assert isinstance(numbers, dict)
    hostile_numbers = hostile["numbers"]
    assert isinstance(hostile_numbers, dict)
    # pepr.toml says DNK in the hostile folder; without a config the world average applies
    assert hostile_numbers.pop("record_intensity") == numbers["dnk"]
    assert numbers.pop("record_intensity") == numbers["world"]
    assert hostile_numbers == numbers
    assert numbers["tdp"] == 150.0
    for run in (clean, hostile):
        assert run["codecarbon_imported"] is False
        events = run["events"]
        assert isinstance(events, list)
        assert not [e for e in events if e[0] == "socket"], events
        written = [e[1] for e in events if e[0] == "write"]
        # only pepr-gate's own record (its write probe, and the temporary file it is
        # written to before the rename into place) may be written
        assert all(Path(w).name == "run.json" or ".write-test-" in w
                   or re.fullmatch(r"\.run\.json\..+\.tmp", Path(w).name)
                   for w in written), written
    assert sorted(p.name for p in hostile_dir.iterdir()) == [
        ".codecarbon.config", "pepr.toml", "run.json"]
