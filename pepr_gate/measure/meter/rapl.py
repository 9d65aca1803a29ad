"""Measured CPU-package and DRAM energy from RAPL's powercap counters.

Only package domains (`intel-rapl:N`, named `package-N`) and `dram` domains count:
their nested core/uncore domains and the platform-wide `psys` domain overlap them. The
counters (`energy_uj`) wrap at `max_energy_range_uj`, so they are read every second and
each wrap is counted. Since CVE-2020-8694 they are root-only on most kernels.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pepr_gate.measure.meter.base import LiveReading, Source, SourceResult, Window
from pepr_gate.records import Component

UJ_PER_KWH = 3.6e12
_ZONE = re.compile(r"^intel-rapl:\d+(:\d+)?$")
PERMISSION_HINT = (
    "RAPL counters are root-only since CVE-2020-8694; on the runner allow reading them, e.g. "
    "`sudo chmod a+r /sys/class/powercap/intel-rapl:*/energy_uj` (or a udev rule), or run "
    "the job as root; until then the CPU energy is an estimate"
)


@dataclass
class Domain:
    path: Path
    name: str
    kind: str  # "cpu" (package) or "dram"
    max_uj: int | None = None
    last_uj: int | None = None
    last_t: float = 0.0
    total_uj: int = 0
    wraps: int = 0
    longest_gap_s: float = 0.0
    last_w: float | None = None  # mean power over the last read interval
    error: str | None = None
    error_hint: str | None = None


def _read_int(path: Path) -> int:
    return int(path.read_text().strip())


def find_domains(root: Path) -> list[Domain]:
    """Package and DRAM domains under a powercap root, each once (sysfs links them twice)."""
    zones: dict[str, Path] = {}
    if root.is_dir():
        for top in sorted(root.iterdir()):
            if _ZONE.match(top.name):
                zones.setdefault(top.name, top)
            if top.is_dir() and (top.name == "intel-rapl" or _ZONE.match(top.name)):
                for sub in sorted(top.iterdir()):
                    if _ZONE.match(sub.name):
                        zones.setdefault(sub.name, sub)
    domains = []
    for zone_id, path in sorted(zones.items()):
        try:
            name = (path / "name").read_text().strip()
        except OSError:
            continue
        nested = zone_id.count(":") == 2
        if name.startswith("package") and not nested:
            domains.append(Domain(path, name, "cpu"))
        elif name == "dram":
            domains.append(Domain(path, name, "dram"))
        # core, uncore (nested in a package) and psys (the whole platform) overlap the above
    return domains


class RaplSource(Source):
    name = "rapl"
    interval_s: float | None = 1.0  # well inside the counters' wrap time at any real power

    def __init__(self, root: Path = Path("/sys/class/powercap")) -> None:
        self.root = Path(root)
        self.domains: list[Domain] = []
        self._absent: tuple[str, str] | None = None

    def start(self, t: float) -> None:
        try:
            self.domains = find_domains(self.root)
        except OSError as exc:
            self._absent = (f"{self.root} is not readable ({exc.strerror or exc})",
                            PERMISSION_HINT)
            return
        if not self.domains:
            self._absent = self._why_absent()
            self.interval_s = None
            return
        for d in self.domains:
            try:
                d.max_uj = _read_int(d.path / "max_energy_range_uj")
            except (OSError, ValueError):
                d.max_uj = None  # wraps can then not be counted; said in the result
            self._read(d, t)

    def _why_absent(self) -> tuple[str, str]:
        if not self.root.exists():
            return (f"no RAPL powercap interface ({self.root} does not exist): not a Linux "
                    "host with Intel/AMD RAPL, a VM, or a container without /sys/class/powercap",
                    "on bare metal load the intel_rapl_common module; in a container "
                    "bind-mount /sys/class/powercap read-only; until then the CPU energy is "
                    "an estimate")
        return (f"no RAPL package domain under {self.root} (AMD CPUs need Linux 5.8 or "
                "newer; VMs rarely expose RAPL)",
                "run `pepr-gate probe` on the runner's host; until then the CPU energy is "
                "an estimate")

    def _read(self, d: Domain, t: float) -> None:
        if d.error:
            return
        try:
            now = _read_int(d.path / "energy_uj")
        except PermissionError:
            d.error = f"{d.path / 'energy_uj'}: permission denied"
            d.error_hint = PERMISSION_HINT
            return
        except (OSError, ValueError) as exc:
            d.error = f"{d.path / 'energy_uj'} is not readable ({exc})"
            d.error_hint = "check the file on the runner; run `pepr-gate probe`"
            return
        if d.last_uj is not None:
            delta = now - d.last_uj
            if delta < 0:
                if d.max_uj is None:
                    d.error = f"{d.name}: counter wrapped and max_energy_range_uj is unreadable"
                    d.error_hint = "make max_energy_range_uj readable next to energy_uj"
                    return
                delta += d.max_uj
                d.wraps += 1
            d.total_uj += delta
            d.longest_gap_s = max(d.longest_gap_s, t - d.last_t)
            if t > d.last_t:
                d.last_w = delta / 1e6 / (t - d.last_t)
        d.last_uj, d.last_t = now, t

    def sample(self, t: float, pids: frozenset[int]) -> None:
        for d in self.domains:
            self._read(d, t)  # turns OSError/ValueError into the domain's reason; bugs surface

    def stop(self, t: float) -> None:
        self.sample(t, frozenset())

    def live(self, t: float) -> LiveReading | None:
        good = [d for d in self.domains if d.error is None and d.last_w is not None]
        if self._absent or not good:
            return None
        return LiveReading("cpu", "measured", sum(d.last_w or 0.0 for d in good),
                           sum(d.total_uj for d in good) / 1e6)

    def result(self, window: Window) -> SourceResult:
        if self._absent:
            reason, hint = self._absent
            return SourceResult(components=[Component(
                kind="cpu", name="cpu (rapl)", method="unavailable", detail="rapl",
                reason=reason, hint=hint)])
        res = SourceResult()
        for d in self.domains:
            extra: dict[str, Any] = {"domain": d.path.name, "wraps": d.wraps,
                                     "max_energy_range_uj": d.max_uj}
            if d.error:
                res.components.append(Component(
                    kind=d.kind, name=d.name, method="unavailable", detail="rapl",
                    reason=d.error, hint=d.error_hint, extra=extra))
                continue
            notes = [f"counter wrapped {d.wraps} time(s); counted"] if d.wraps else []
            if d.longest_gap_s > 10:
                res.low_confidence = True
                notes.append(f"{d.longest_gap_s:.0f} s between reads: a wrap may be missed")
            notes.append("whole socket: idle power and every other process on it included")
            res.components.append(Component(
                kind=d.kind, name=d.name, method="measured", detail="rapl",
                scope="whole-socket", coverage=1.0,
                energy_kwh=d.total_uj / UJ_PER_KWH, notes=notes, extra=extra))
        return res


@dataclass
class RaplProbe:
    readable: bool
    reason: str | None
    hint: str | None
    domains: list[dict[str, Any]] = field(default_factory=list)


def probe_rapl(root: Path = Path("/sys/class/powercap")) -> RaplProbe:
    src = RaplSource(root)
    src.start(0.0)
    if src._absent:
        return RaplProbe(False, *src._absent)
    doms = [{"domain": d.path.name, "name": d.name, "kind": d.kind,
             "readable": d.error is None, "reason": d.error} for d in src.domains]
    bad = [d for d in src.domains if d.error]
    if bad:
        return RaplProbe(False, bad[0].error, bad[0].error_hint, doms)
    return RaplProbe(True, None, None, doms)
