"""The live line: elapsed time, power, energy and carbon so far while the stages run.

Two forms, chosen from where the job's output goes:

- a terminal: one status line held on the bottom row. The job writes straight to the
  terminal (its output is never captured or re-printed, so it keeps its colours, progress
  bars and exact bytes), so the line cannot be drawn by rich's `Live`, which only
  redirects Python's own `sys.stdout`. Instead the terminal's scrolling region is set to
  every row but the last (DECSTBM, as apt's progress bar does): the job's output scrolls
  above, and the line is redrawn in the last row once a second, each redraw one `write`
  that saves and restores the cursor. rich still styles the text. At the end the region is
  reset and the row cleared, so nothing of the line stays behind.
- anything else (CI logs, a pipe): a plain line on stderr every `[run] progress_interval_s`
  seconds, no escape codes. Under GitHub Actions a `::notice` is printed once per budget
  that the run passes while it runs.

The figures come from `MeterSession.live_readings`, which the sampling thread rebuilds
from the samples it has already taken: the line never reads a sensor itself.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Literal

from pepr_gate import units
from pepr_gate.config import BudgetConfig
from pepr_gate.measure.meter.base import LiveReading, MeterSession

Mode = Literal["terminal", "plain", "off"]
TERMINAL_REFRESH_S = 1.0
WARN_SHARE = 0.8  # a budget's share turns yellow from here, red past 1
J_PER_KWH = 3.6e6


@dataclass(frozen=True)
class Figures:
    """What the line shows at one instant."""

    elapsed_s: float
    power: list[tuple[str, float, str]]  # (part, watts, method)
    energy_kwh: float | None
    energy_methods: tuple[str, ...]
    carbon_kg: float | None
    gpu_memory_bytes: int | None
    budgets: list[tuple[str, float]] = field(default_factory=list)  # (name, share used)


def summarise(
    readings: Sequence[LiveReading],
    elapsed_s: float,
    *,
    g_per_kwh: float,
    pue: float,
    budgets: BudgetConfig,
) -> Figures:
    """Combine the sources' readings the way the record does: a measured CPU reading
    (RAPL) replaces the CPU estimate, never both."""
    measured_cpu = any(r.kind == "cpu" and r.method == "measured" for r in readings)
    kept = [r for r in readings
            if not (r.kind == "cpu" and r.method == "estimated" and measured_cpu)]
    power = [(r.kind.upper(), r.power_w, r.method) for r in kept if r.power_w is not None]
    energies = [r.energy_j for r in kept if r.energy_j is not None]
    energy_kwh = sum(energies) / J_PER_KWH if energies else None
    carbon = None if energy_kwh is None else energy_kwh * pue * g_per_kwh / 1000
    memory = max((r.gpu_memory_bytes or 0 for r in kept), default=0) or None
    used = {"energy": energy_kwh, "carbon": carbon, "time": elapsed_s,
            "GPU memory": None if memory is None else memory / 1e9}
    methods = tuple(sorted({r.method for r in kept if r.energy_j is not None}))
    return Figures(elapsed_s, power, energy_kwh, methods, carbon, memory,
                   _shares(used, budgets))


def _shares(used: dict[str, float | None], budgets: BudgetConfig) -> list[tuple[str, float]]:
    """The share of each set budget used so far, in a fixed order."""
    limits = {"energy": budgets.energy_kwh, "carbon": budgets.carbon_kg,
              "time": budgets.duration_s, "GPU memory": budgets.gpu_memory_gb}
    out = []
    for name, limit in limits.items():
        value = used[name]
        if limit is not None and value is not None:
            out.append((name, value / limit))
    return out


def clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def parts(stage: str, fig: Figures) -> list[tuple[str, str]]:
    """The line as (text, rich style) pieces, most important first: a narrow terminal cuts
    the tail, so budgets (the figure a person acts on) come right after the clock, and the
    energy's methods are named only where the power figures do not name them already."""
    out: list[tuple[str, str]] = [(f"pepr-gate {stage} ", "bold"), (clock(fig.elapsed_s), "")]
    for name, share in fig.budgets:
        style = "bold red" if share > 1 else "yellow" if share >= WARN_SHARE else "green"
        out.append((" · ", ""))
        out.append((f"{name} budget {share:.0%}", style))
    if fig.power:
        watts = " + ".join(f"{part} {units.plain(w)} W {method}" for part, w, method in fig.power)
        out.append((f" · {watts}", ""))
    if fig.energy_kwh is not None:
        named = {method for _, _, method in fig.power}
        how = "" if set(fig.energy_methods) <= named else f" ({'/'.join(fig.energy_methods)})"
        out.append((f" · {units.energy(fig.energy_kwh)}{how}", ""))
    if fig.carbon_kg is not None:
        out.append((f" · {units.carbon(fig.carbon_kg)}", ""))
    if fig.gpu_memory_bytes:
        out.append((f" · GPU mem peak {fig.gpu_memory_bytes / 1e9:.2f} GB", ""))
    return out


def fit_label(pieces: list[tuple[str, str]], width: int) -> list[tuple[str, str]]:
    """On a narrow terminal the label gives way first: the clock and the first figure (a
    budget share, the power) stay on the line, the label is cut to what is left."""
    label, rest = pieces[0][0], pieces[1:]
    keep = sum(len(text) for text, _ in rest[:3])  # the clock, " · ", the first figure
    if len(label) + keep <= width:
        return pieces
    room = max(0, width - keep)
    short = label.removeprefix("pepr-gate ")
    short = short if len(short) <= room else short[:max(0, room - 2)].rstrip() + "…"
    return [((short + " ") if room > 2 else "", pieces[0][1]), *rest]


def plain_line(stage: str, fig: Figures) -> str:
    return "".join(text for text, _ in parts(stage, fig))


class LiveLine:
    """Draws the figures of one `execute` call; `stage()` names the stage that starts."""

    def __init__(
        self,
        mode: Mode,
        *,
        interval_s: float,
        budgets: BudgetConfig,
        g_per_kwh: float,
        pue: float,
        github_actions: bool = False,
        terminal_fd: int | None = None,
        plain_stream: IO[str] | None = None,
        notice_stream: IO[str] | None = None,
    ) -> None:
        self.mode = mode
        self.interval_s = TERMINAL_REFRESH_S if mode == "terminal" else interval_s
        self.budgets = budgets
        self.g_per_kwh = g_per_kwh
        self.pue = pue
        self.github_actions = github_actions
        self.fd = terminal_fd
        self.plain = plain_stream or sys.stderr
        self.notices = notice_stream or sys.stdout
        self._session: MeterSession | None = None
        self._label = ""
        self._t0 = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._noticed: set[str] = set()
        self._rows = 0
        self._resized = False

    # -- what the runner calls ----------------------------------------------------------
    @contextlib.contextmanager
    def watching(self, session: MeterSession) -> Iterator[None]:
        """Show the line for the lifetime of one meter session (one repeat)."""
        if self.mode == "off" and not self._wants_notices():
            yield
            return
        session.keep_live = True
        self._session = session
        self._t0 = time.monotonic()
        self._stop.clear()
        previous = self._begin()
        self._thread = threading.Thread(target=self._loop, name="pepr-live", daemon=True)
        self._thread.start()
        try:
            yield
        finally:
            self._stop.set()
            self._thread.join()
            self._end(previous)
            self._session = None

    def stage(self, name: str, index: int, total: int, repeat: str = "") -> None:
        self._label = f"{name} {index}/{total}{repeat}"

    # -- the loop -----------------------------------------------------------------------
    def _wants_notices(self) -> bool:
        limits = self.budgets.model_dump().values()
        return self.github_actions and any(v is not None for v in limits)

    def _loop(self) -> None:
        tick = self.interval_s if self.mode != "off" else TERMINAL_REFRESH_S
        if self._wants_notices():  # a budget passed is told within a second
            tick = min(tick, TERMINAL_REFRESH_S)
        next_plain = self._t0 + self.interval_s
        while not self._stop.wait(tick):
            fig = self._figures()
            self._notice(fig)
            if self.mode == "terminal":
                self._draw(fig)
            elif self.mode == "plain" and time.monotonic() >= next_plain:
                next_plain += self.interval_s
                print(plain_line(self._label, fig), file=self.plain, flush=True)

    def _figures(self) -> Figures:
        readings = self._session.live_readings if self._session else ()
        return summarise(readings, time.monotonic() - self._t0, g_per_kwh=self.g_per_kwh,
                         pue=self.pue, budgets=self.budgets)

    def _notice(self, fig: Figures) -> None:
        if not self.github_actions:
            return
        for name, share in fig.budgets:
            if share > 1 and name not in self._noticed:
                self._noticed.add(name)
                print(f"::notice title=pepr-gate budget::the {name} budget was passed during "
                      f"the run ({share:.0%} of it after {clock(fig.elapsed_s)}, stage "
                      f"{self._label}); the gate will fail on it", file=self.notices, flush=True)

    # -- the terminal -------------------------------------------------------------------
    def _write(self, text: str) -> None:
        if self.fd is None:
            return
        with contextlib.suppress(OSError):
            os.write(self.fd, text.encode("utf-8", "replace"))

    def _size(self) -> tuple[int, int]:
        try:
            size = os.get_terminal_size(self.fd) if self.fd is not None else None
        except OSError:
            size = None
        return (size.columns, size.lines) if size else (80, 24)

    def _begin(self) -> object:
        if self.mode != "terminal":
            return None
        _, self._rows = self._size()
        # A new line first, so that the cursor is never on the row the line takes.
        self._write(f"\n\0337\033[1;{self._rows - 1}r\0338\033[1A")
        previous = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGWINCH, self._on_resize)
        return previous

    def _on_resize(self, _signum: int, _frame: object) -> None:
        self._resized = True

    def _draw(self, fig: Figures) -> None:
        cols, rows = self._size()
        text = self._render(fig, cols)
        region = ""
        if self._resized or rows != self._rows:
            self._resized = False
            self._write(f"\0337\033[{self._rows};1H\033[2K\0338")  # clear the old row
            self._rows = rows
            region = f"\033[1;{rows - 1}r"
        self._write(f"\0337{region}\033[{rows};1H\033[2K{text}\0338")

    def _render(self, fig: Figures, cols: int) -> str:
        from rich.console import Console
        from rich.text import Text

        line = Text(no_wrap=True, overflow="ellipsis")
        for piece, style in fit_label(parts(self._label, fig), max(20, cols - 1)):
            line.append(piece, style=style or None)
        # One column short of the edge: a character in the last column of the last row
        # would make some terminals wrap onto the row itself.
        line.truncate(max(20, cols - 1), overflow="ellipsis")
        buf = io.StringIO()
        console = Console(file=buf, width=max(20, cols - 1), force_terminal=True,
                          color_system="standard", highlight=False)
        console.print(line, end="", soft_wrap=True)
        return buf.getvalue()

    def _end(self, previous: object) -> None:
        if self.mode != "terminal":
            return
        self._write(f"\0337\033[{self._rows};1H\033[2K\033[r\0338")
        if previous is not None:
            signal.signal(signal.SIGWINCH, previous)  # type: ignore[arg-type]


def _stdout_tty() -> int | None:
    try:
        fd = sys.stdout.fileno()
        return fd if os.isatty(fd) else None
    except (AttributeError, OSError, ValueError):  # replaced or closed stdout: no terminal
        return None


def open_live(
    *, quiet: bool, interval_s: float, budgets: BudgetConfig, g_per_kwh: float, pue: float,
    env: Mapping[str, str],
) -> LiveLine:
    """The line for this process: on the terminal when the job's stdout is one (and TERM is
    not `dumb`), else plain lines every `interval_s` (0: none); `quiet` shows neither and
    prints no notice."""
    github = env.get("GITHUB_ACTIONS") == "true" and not quiet
    fd = None if quiet or github or env.get("TERM", "") in ("", "dumb") else _stdout_tty()
    mode: Mode = "off" if quiet else "terminal" if fd is not None else (
        "plain" if interval_s > 0 else "off")
    return LiveLine(mode, interval_s=interval_s, budgets=budgets, g_per_kwh=g_per_kwh,
                    pue=pue, github_actions=github, terminal_fd=fd)
