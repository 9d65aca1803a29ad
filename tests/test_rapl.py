"""RaplSource on directories laid out like /sys/class/powercap."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pepr_gate.measure.meter.base import MeterSession, SourceResult, Window, combine
from pepr_gate.measure.meter.rapl import RaplSource, probe_rapl
from pepr_gate.records import Component

MAX_UJ = 262_143_328_850  # a real package's max_energy_range_uj
UJ_PER_KWH = 3.6e12


def zone(path: Path, name: str, energy: int, max_uj: int = MAX_UJ) -> Path:
    path.mkdir(parents=True)
    (path / "name").write_text(name + "\n")
    (path / "energy_uj").write_text(f"{energy}\n")
    (path / "max_energy_range_uj").write_text(f"{max_uj}\n")
    return path


@pytest.fixture
def powercap() -> Iterator[Path]:
    """Two sockets with core and dram subdomains, a psys domain, and sysfs's flat links."""
    root = Path(tempfile.mkdtemp(prefix="powercap-"))
    os.chmod(root, 0o755)  # readable by the unprivileged user of the permission test
    base = root / "intel-rapl"
    p0 = zone(base / "intel-rapl:0", "package-0", 1_000_000)
    zone(p0 / "intel-rapl:0:0", "core", 500_000)
    zone(p0 / "intel-rapl:0:1", "dram", 2_000_000, max_uj=65_712_999_613)
    p1 = zone(base / "intel-rapl:1", "package-1", 7_000_000)
    zone(p1 / "intel-rapl:1:0", "core", 10)
    zone(base / "intel-rapl:2", "psys", 9_000_000)
    for link in ("intel-rapl:0", "intel-rapl:1", "intel-rapl:2"):
        (root / link).symlink_to(base / link)
    (root / "intel-rapl:0:0").symlink_to(p0 / "intel-rapl:0:0")
    (root / "intel-rapl:0:1").symlink_to(p0 / "intel-rapl:0:1")
    yield root
    shutil.rmtree(root)


def set_uj(root: Path, zone_id: str, value: int) -> None:
    # Atomically, as sysfs does: a plain write_text truncates first, and the session's
    # sampling thread could read the empty file in between (a race, not a RAPL behaviour).
    target = (root / zone_id / "energy_uj").resolve()
    tmp = target.with_name("energy_uj.tmp")
    tmp.write_text(f"{value}\n")
    os.replace(tmp, target)


def by_name(res: SourceResult) -> dict[str, Component]:
    return {c.name: c for c in res.components}


def test_packages_and_dram_count_nested_and_psys_do_not(powercap: Path) -> None:
    src = RaplSource(powercap)
    src.start(0.0)
    set_uj(powercap, "intel-rapl:0", 1_000_000 + 40_000_000)  # 40 J
    set_uj(powercap, "intel-rapl:1", 7_000_000 + 30_000_000)
    set_uj(powercap, "intel-rapl:0:1", 2_000_000 + 5_000_000)
    set_uj(powercap, "intel-rapl:0:0", 99_000_000)  # core: inside package-0 already
    src.sample(1.0, frozenset())
    src.stop(2.0)
    comps = by_name(src.result(Window(0.0, 2.0)))
    assert sorted(comps) == ["dram", "package-0", "package-1"]
    assert comps["package-0"].energy_kwh == pytest.approx(40e6 / UJ_PER_KWH)
    assert comps["package-1"].energy_kwh == pytest.approx(30e6 / UJ_PER_KWH)
    assert comps["dram"].kind == "dram"
    assert comps["dram"].energy_kwh == pytest.approx(5e6 / UJ_PER_KWH)
    assert all(c.method == "measured" and c.detail == "rapl" for c in comps.values())
    assert src.interval_s is not None and src.interval_s <= 10


def test_wrap_around_is_counted(powercap: Path) -> None:
    set_uj(powercap, "intel-rapl:0", MAX_UJ - 1_000)
    src = RaplSource(powercap)
    src.start(0.0)
    set_uj(powercap, "intel-rapl:0", 5_000)  # wrapped: 1_000 + 5_000 uJ
    src.sample(1.0, frozenset())
    set_uj(powercap, "intel-rapl:0", MAX_UJ - 10)
    src.sample(2.0, frozenset())
    set_uj(powercap, "intel-rapl:0", 90)  # wrapped again
    src.stop(3.0)
    pkg = by_name(src.result(Window(0.0, 3.0)))["package-0"]
    assert pkg.energy_kwh == pytest.approx((6_000 + (MAX_UJ - 10 - 5_000) + 100) / UJ_PER_KWH)
    assert pkg.extra["wraps"] == 2 and "wrapped 2 time(s)" in pkg.notes[0]


def test_reads_far_apart_are_low_confidence(powercap: Path) -> None:
    src = RaplSource(powercap)
    src.start(0.0)
    src.stop(25.0)
    res = src.result(Window(0.0, 25.0))
    assert res.low_confidence and "wrap may be missed" in by_name(res)["package-0"].notes[0]


def test_unreadable_energy_file_is_unavailable_with_the_file_named(powercap: Path) -> None:
    target = powercap / "intel-rapl:1" / "energy_uj"
    target.unlink()
    target.mkdir()  # present but not a readable counter
    src = RaplSource(powercap)
    src.start(0.0)
    src.stop(1.0)
    comps = by_name(src.result(Window(0.0, 1.0)))
    assert comps["package-1"].method == "unavailable"
    assert "intel-rapl:1/energy_uj" in (comps["package-1"].reason or "")
    assert comps["package-0"].method == "measured"


def _probe_as_nobody(root: Path) -> list[str]:
    """probe_rapl in a forked child that dropped root (root can read any file)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.setgid(65534)
            os.setuid(65534)
            p = probe_rapl(root)
            os.write(w, f"{p.readable}\n{p.reason}\n{p.hint}".encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        out = f.read()
    os.waitpid(pid, 0)
    return out.splitlines()


def test_permission_denied_names_the_cve_fix(powercap: Path) -> None:
    for f in powercap.glob("intel-rapl/**/energy_uj"):
        f.chmod(0o400)
    if os.geteuid() == 0:
        readable, reason, hint = _probe_as_nobody(powercap)
    else:
        p = probe_rapl(powercap)
        readable, reason, hint = str(p.readable), str(p.reason), str(p.hint)
    assert readable == "False" and "permission denied" in reason
    assert "intel-rapl:0/energy_uj" in reason
    assert "CVE-2020-8694" in hint and "chmod a+r" in hint


def test_missing_powercap_is_unavailable_with_the_reason(tmp_path: Path) -> None:
    src = RaplSource(tmp_path / "powercap")
    src.start(0.0)
    src.stop(1.0)
    (c,) = src.result(Window(0.0, 1.0)).components
    assert (c.kind, c.method) == ("cpu", "unavailable")
    assert "does not exist" in (c.reason or "") and c.hint
    assert src.interval_s is None  # nothing to sample
    assert not probe_rapl(tmp_path / "powercap").readable


def test_no_package_domain_mentions_amd_kernels(tmp_path: Path) -> None:
    zone(tmp_path / "intel-rapl:0", "psys", 1)
    src = RaplSource(tmp_path)
    src.start(0.0)
    (c,) = src.result(Window(0.0, 1.0)).components
    assert c.method == "unavailable" and "Linux 5.8" in (c.reason or "")


def test_measured_package_replaces_the_cpu_estimate_in_the_total(powercap: Path) -> None:
    src = RaplSource(powercap)
    session = MeterSession([src], name="rapl")
    session.open()
    set_uj(powercap, "intel-rapl:0", 1_000_000 + 36_000_000)
    t = session.t_start
    result = session.close(Window(t, t + 1.0))
    estimate = SourceResult(components=[
        Component(kind="cpu", name="cpu", method="estimated", energy_kwh=1e-5),
        Component(kind="ram", name="ram", method="estimated", energy_kwh=1e-6)])
    rapl = SourceResult(components=result.components)
    combined = combine([estimate, rapl], Window(t, t + 1.0), session)
    counted = {c.name: c.counts_toward_total for c in combined.components}
    assert counted == {"cpu": False, "ram": False, "package-0": True, "package-1": True,
                       "dram": True}
    assert combined.energy_method == "measured"
    assert combined.energy_kwh == pytest.approx(36e6 / UJ_PER_KWH)
