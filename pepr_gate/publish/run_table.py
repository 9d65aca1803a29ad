"""The terminal table `pepr-gate run` prints: P, each resource with its method, R, PePR."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from pepr_gate import units
from pepr_gate.records import UNITS, RunRecord
from pepr_gate.score import GB, suggest_scale


def _fmt(value: float | None, digits: int = 4) -> str:
    if value is None:
        return "—"
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:.{digits - 1}e}"
    return f"{value:.{digits}g}"


def _bytes(n: int | None) -> str:
    if n is None:
        return "—"
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def run_table(record: RunRecord) -> Table:
    res = record.resources
    title = f"pepr-gate run {record.id} · {record.status}"
    if record.repeat_group:
        title += f" · repeat {record.repeat_index + 1}"
    table = Table(title=title, title_justify="left", show_lines=False)
    table.add_column("quantity")
    table.add_column("value", justify="right")
    table.add_column("how")
    perf = record.performance
    table.add_row(f"P ({perf.name})", _fmt(perf.value), perf.file or "not configured")
    table.add_row("energy", units.energy(res.energy_kwh), _energy_how(record))
    table.add_row(
        "carbon",
        units.carbon(res.carbon_kg),
        f"{_fmt(res.carbon_intensity_g_per_kwh)} g/kWh x PUE {res.pue:g}; {res.carbon_source}",
    )
    table.add_row("wall time (s)", f"{res.duration_s:.3f}", "measured: monotonic clock")
    table.add_row(
        "CPU time (s)",
        f"{res.cpu_time_s:.3f}",
        f"measured: wait4 (user {res.cpu_user_s:.2f}, sys {res.cpu_sys_s:.2f})",
    )
    table.add_row(
        "peak RSS",
        _bytes(res.peak_rss_bytes),
        f"measured: process tree sum (largest process {_bytes(res.peak_rss_single_bytes)})"
        if res.peak_rss_bytes is not None else "not measured: no job process ran",
    )
    gpu_mem = res.gpu_peak_memory_bytes
    table.add_row(
        "peak GPU memory (GB)",
        "—" if gpu_mem is None else f"{gpu_mem / GB:.3f}",
        _gpu_how(record),
    )
    if res.params is not None:
        table.add_row("parameters", f"{res.params:,}", "reported by the job")
    score = record.score
    if score is not None:
        norm = score.normalization
        scale_txt = (
            f"R = min(x / {_fmt(norm.scale)} {UNITS[score.resource]}, 1) ({norm.scale_source})"
            if norm and norm.scale is not None
            else "no scale"
        )
        if norm and norm.over_scale:
            scale_txt += " · over the scale"
        table.add_row(f"R ({score.resource})", _fmt(score.R), scale_txt)
        table.add_row(score.variant, _fmt(score.pepr), "P / (1 + R)")
    return table


def _energy_how(record: RunRecord) -> str:
    parts = []
    for c in record.components:
        if c.kind == "process":
            continue
        label = c.method if c.method != "unavailable" else f"unavailable: {c.reason or 'unknown'}"
        if c.method != "unavailable" and c.detail:
            label += f" ({c.detail})"  # counter, power-integration, replay, rapl, ...
        tag = "" if c.counts_toward_total else " (not counted)"
        parts.append(f"{c.kind} {c.name}: {label}{tag}")
    head = f"{record.resources.energy_method}"
    return head + ("\n" + "\n".join(parts) if parts else "")


def _gpu_how(record: RunRecord) -> str:
    gpus = [c for c in record.components if c.kind == "gpu"]
    if not gpus:
        return f"not metered (meter: {record.meter})"
    if all(c.method == "unavailable" for c in gpus):
        return f"unavailable: {gpus[0].reason or 'no GPU'}"
    if any(c.detail == "replay" for c in gpus):
        return "replay of a recorded trace, not this machine"
    return "measured: NVML"


def _no_scale_text(resource: str, variant: str, measured: float | None) -> str:
    unit = UNITS[resource]
    head = f"No scale for R is known for {resource}, so {variant} is not computed."
    tail = ("or set a [gate.budgets] ceiling; `pepr-gate check` against a baseline uses "
            "2 x the baseline's value.")
    suggested = suggest_scale(measured) if measured is not None else None
    if suggested is None:
        return (f"{head} Set one in pepr.toml, e.g.\n  [score.scale]\n  {resource} = <the "
                f"{unit} that counts as R = 1>\n{tail}")
    return (f"{head} This run used {_fmt(measured)} {unit}. Suggested, twice that (this run "
            f"would score R = 0.5), in pepr.toml:\n  [score.scale]\n  {resource} = "
            f"{suggested!r}\n{tail}")


def print_run(record: RunRecord, console: Console | None = None) -> None:
    # markup off: reasons, paths and notes may hold brackets such as "[performance]"
    console = console or Console(markup=False, highlight=False)
    console.print(run_table(record))
    score = record.score
    if record.status == "failed":
        console.print(f"run failed: {record.failure}", style="red")
    elif score is not None and score.pepr is None and record.performance.value is not None:
        console.print(_no_scale_text(score.resource, score.variant, score.resource_value))
    for note in record.notes:
        console.print(f"note: {note}")
