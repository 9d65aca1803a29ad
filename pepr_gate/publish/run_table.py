"""The terminal table `pepr-gate run` prints: P, each resource with its method, R, PePR.

Laid out for 80 columns first: one short "how" per quantity, and the sensors that
measured nothing as one line under the table. `--verbose` adds each energy component,
the carbon source, CPU user/sys time and each unavailable sensor's reason.
`--repeats N` ends with `repeats_summary`: the median and range over the repeats.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from pepr_gate import units
from pepr_gate.records import UNITS, Component, RunRecord
from pepr_gate.score import suggest_scale


def _r_how(record: RunRecord) -> tuple[str, str]:
    score = record.score
    assert score is not None
    norm = score.normalization
    if not norm or norm.scale is None:
        return units.number(score.R), "no scale"
    how = f"x / {units.resource(norm.scale, score.resource)} ({norm.scale_source})"
    if norm.over_scale:
        return f"{units.number(score.R)} (capped)", how + "; over the scale, capped at 1"
    return units.number(score.R), how


def _energy_how(record: RunRecord, verbose: bool) -> str:
    head: str = record.resources.energy_method
    if any(c.detail == "replay" for c in _metered(record)):
        head += " (replay of a recorded trace)"
    if not verbose:
        return head
    parts = []
    for c in _metered(record):
        label = c.method + (f" ({c.detail})" if c.detail else "")
        tag = "" if c.counts_toward_total else ", not counted"
        parts.append(f"{c.kind} {c.name}: {label}{tag}")
    return "\n".join([head, *parts])


def _metered(record: RunRecord) -> list[Component]:
    return [c for c in record.components if c.kind != "process" and c.method != "unavailable"]


def _unavailable(record: RunRecord) -> list[Component]:
    return [c for c in record.components if c.method == "unavailable"]


def _gpu_how(record: RunRecord) -> str:
    gpus = [c for c in record.components if c.kind == "gpu"]
    if not gpus:
        return f"not metered ({record.meter} meter)"
    if all(c.method == "unavailable" for c in gpus):
        return "unavailable"
    if any(c.detail == "replay" for c in gpus):
        return "replay of a recorded trace, not this machine"
    return "measured: NVML"


def _no_scale_text(resource: str, variant: str, measured: float | None) -> str:
    unit = UNITS[resource]
    head = f"No scale for R is known for {resource}, so {variant} is not computed."
    tail = ("or set a [gate.budgets] ceiling; `pepr-gate check` against a baseline uses "
            "2 x the baseline's value.")
    suggested = suggest_scale(measured) if measured is not None else None
    if measured is None or suggested is None:
        return (f"{head} Set one in pepr.toml, e.g.\n  [score.scale]\n  {resource} = <the "
                f"{unit} that counts as R = 1>\n{tail}")
    return (f"{head} This run used {units.plain(measured)} {unit}. Suggested, twice that "
            f"(this run would score R = 0.5), in pepr.toml:\n  [score.scale]\n  {resource} = "
            f"{suggested!r}\n{tail}")


def _conditions_how(record: RunRecord) -> str:
    """'1-min load 8.0 -> 8.2 on 2 CPUs; others 80% of CPU; wall/CPU 2.6'."""
    c = record.conditions
    assert c is not None
    parts = ["1-min load " + " -> ".join(f"{x:.1f}" for x in (c.load_start, c.load_end)
                                         if x is not None)
             + (f" on {c.cpu_count} CPUs" if c.cpu_count else "")]
    if c.other_cpu_share is not None:
        parts.append(f"others {c.other_cpu_share * 100:.0f}% of CPU")
    if c.wall_cpu_ratio is not None:
        parts.append(f"wall/CPU {c.wall_cpu_ratio:.1f}")
    return "; ".join(parts)


def run_table(record: RunRecord, *, verbose: bool = False) -> Table:
    res = record.resources
    title = f"pepr-gate run {record.id} · {record.status}"
    if record.repeat_group:
        title += f" · repeat {record.repeat_index + 1}"
    table = Table(title=Text(title), title_justify="left", show_edge=False)
    table.add_column("quantity")
    table.add_column("value", justify="right", no_wrap=True)
    table.add_column("how")
    perf = record.performance
    table.add_row(f"P ({perf.name})", units.number(perf.value), perf.file or "not configured")
    table.add_row("energy", units.energy(res.energy_kwh), _energy_how(record, verbose))
    carbon = f"{units.plain(res.carbon_intensity_g_per_kwh or 0)} g/kWh"
    if res.pue != 1:
        carbon += f" x PUE {res.pue:g}"
    if verbose and res.carbon_source:
        carbon += f"\n{res.carbon_source}"
    table.add_row("carbon", units.carbon(res.carbon_kg), carbon)
    table.add_row("wall time", units.seconds(res.duration_s), "monotonic clock")
    table.add_row("CPU time", units.seconds(res.cpu_time_s),
                  f"user {units.seconds(res.cpu_user_s)}, sys {units.seconds(res.cpu_sys_s)}"
                  if verbose else "wait4")
    if record.conditions is not None and record.conditions.load is not None:
        table.add_row("runner load", f"{record.conditions.load:.1f}", _conditions_how(record))
    rss = (f"largest process {units.size(res.peak_rss_single_bytes)}" if verbose
           else "process tree") if res.peak_rss_bytes is not None else "no job process ran"
    table.add_row("peak RSS", units.size(res.peak_rss_bytes), rss)
    table.add_row("peak GPU memory", units.gigabytes(res.gpu_peak_memory_bytes), _gpu_how(record))
    if res.params is not None:
        table.add_row("parameters", f"{res.params:,}", "reported by the job")
    score = record.score
    if score is not None:
        r_text, r_how = _r_how(record)
        table.add_row(f"R ({score.resource})", r_text, r_how)
        table.add_row(score.variant, units.number(score.pepr), "P / (1 + R)")
    return table


def unavailable_lines(record: RunRecord, *, verbose: bool) -> list[str]:
    """The sensors that measured nothing: one short line, or one per sensor (verbose)."""
    missing = _unavailable(record)
    if not missing:
        return []
    if verbose:
        return [f"not measured: {c.kind} {c.name}: {c.reason or 'no reason given'}"
                + (f"\n  hint: {c.hint}" if c.hint else "") for c in missing]
    names = ", ".join(dict.fromkeys(
        c.name if c.name.startswith(c.kind) else f"{c.kind} {c.name}" for c in missing))
    return [f"not measured: {names} (--verbose or `pepr-gate probe` says why)"]


def print_run(record: RunRecord, console: Console | None = None, *,
              verbose: bool = False) -> None:
    # markup off: reasons, paths and notes may hold brackets such as "[performance]"
    console = console or Console(markup=False, highlight=False)
    console.print(run_table(record, verbose=verbose))
    for line in unavailable_lines(record, verbose=verbose):
        console.print(line, style="dim")
    score = record.score
    if record.status == "failed":
        console.print(f"run failed: {record.failure}", style="red")
    elif score is not None and score.pepr is None and record.performance.value is not None:
        console.print(_no_scale_text(score.resource, score.variant, score.resource_value))
    # A note repeating a missing sensor's reason is in the "not measured" line (and, with
    # --verbose, under it).
    reasons = [c.reason for c in _unavailable(record) if c.reason]
    for note in record.notes:
        if not any(reason in note for reason in reasons):
            console.print(f"note: {note}")


def _spread(values: Sequence[float | None], fmt: Callable[[float | None], str]) -> str:
    present = [v for v in values if v is not None]
    if not present:
        return units.MISSING
    mid = statistics.median(present)
    text = f"{fmt(mid)} (range {fmt(min(present))} to {fmt(max(present))})"
    if len(present) > 1 and mid:
        text += f", ±{(max(present) - min(present)) / 2 / abs(mid) * 100:.1f}%"
    return text


def repeats_summary(records: Sequence[RunRecord]) -> Table:
    """Median and range over the repeats of one `run --repeats N`."""
    ok = [r for r in records if r.status == "ok"]
    title = f"over {len(records)} repeats: {len(ok)} ok"
    if len(ok) < len(records):
        title += f", {len(records) - len(ok)} failed"
    table = Table(title=Text(title), title_justify="left", show_edge=False)
    table.add_column("quantity")
    table.add_column("median (range), half-range in %")
    variant = next((r.score.variant for r in ok if r.score), None)
    rows: list[tuple[str, list[float | None], Callable[[float | None], str]]] = [
        ("P", [r.performance.value for r in ok], units.number),
        ("energy", [r.resources.energy_kwh for r in ok], units.energy),
        ("wall time", [r.resources.duration_s for r in ok], units.seconds),
    ]
    if variant:
        rows.append((variant, [r.score.pepr if r.score else None for r in ok], units.number))
    for label, values, fmt in rows:
        table.add_row(label, _spread(values, fmt))
    return table


def print_repeats(records: Sequence[RunRecord], console: Console | None = None) -> None:
    console = console or Console(markup=False, highlight=False)
    console.print(repeats_summary(records))
