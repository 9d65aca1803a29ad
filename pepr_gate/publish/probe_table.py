"""`pepr-gate probe`'s findings as a terminal table, with a hint for each missing reading."""

from __future__ import annotations

from typing import Any


def _yes(ok: bool) -> str:
    return "[green]yes[/green]" if ok else "[red]no[/red]"


def print_probe(findings: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    table = Table(title="pepr-gate probe: what this machine can measure")
    for col in ("reading", "available", "why not / how"):
        table.add_column(col, overflow="fold")
    nv = findings["nvml"]
    table.add_row("NVML (GPU telemetry)", _yes(nv["available"]),
                  escape(nv.get("reason") or f"driver {nv.get('driver_version')}, "
                                             f"CUDA {nv.get('cuda_version')}"))
    for g in nv["gpus"]:
        label = f"GPU {g['index']} {g['name']}" + ("" if g["visible"] else " (not visible)")
        table.add_row(escape(label), escape(g["energy_method"]), escape(g["uuid"]))
        for key, name in (("energy_counter", "  energy counter"), ("power", "  power sampling"),
                          ("process_lists", "  process lists"), ("utilization", "  utilisation")):
            r = g[key]
            table.add_row(name, _yes(r["ok"]), escape(r.get("reason") or r.get("note") or ""))
        if g["mig"]:
            table.add_row("  MIG", "enabled", "energy of a slice is the whole GPU's (shared)")
    rapl = findings["rapl"]
    doms = ", ".join(d["name"] for d in rapl["domains"])
    table.add_row("RAPL (CPU/DRAM energy)", _yes(rapl["readable"]),
                  escape(rapl["reason"] or f"domains: {doms}"))
    table.add_row("container", "yes" if findings["container"] else "no", "")
    console.print(table)
    for line in ([nv.get("hint")] if not nv["available"] else []) + (
        [rapl["hint"]] if not rapl["readable"] else []
    ):
        if line:
            console.print(f"hint: {escape(line)}")
    cvd = nv["cuda_visible_devices"]
    for msg in [*cvd.get("problems", []), *cvd.get("notes", [])]:
        console.print(f"CUDA_VISIBLE_DEVICES: {escape(msg)}")
    if nv.get("deprecated_pynvml"):
        console.print(f"warning: {escape(nv['deprecated_pynvml'])}; fix: pip uninstall -y "
                      "pynvml && pip install --force-reinstall nvidia-ml-py")
    s = findings["summary"]
    console.print(f"GPU energy: {s['gpu_energy']}; CPU energy: {s['cpu_energy']}")


def print_prometheus_probe(found: dict[str, Any]) -> None:
    """`probe --prometheus`: per node, each energy series and how long ago it was scraped."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    table = Table(title=f"Prometheus {escape(found['url'])}: energy series per node")
    for col in ("node", "series", "last scrape"):
        table.add_column(col, overflow="fold")
    for n in found["nodes"]:
        if not n["series"]:
            table.add_row(escape(n["node"]), "[red]none[/red]", "")
        for s in n["series"]:
            what = f"{s['metric']} {s['device']}" + (f" ({s['model']})" if s["model"] else "")
            table.add_row(escape(n["node"]), escape(what), _ago(s["age_s"]))
    if found["reachable"]:
        console.print(table)
    for key in ("reason", "nodes_note", "hint"):
        if found.get(key):
            console.print(f"{'hint' if key == 'hint' else 'note'}: {escape(found[key])}")
    if found["other_nodes"]:
        console.print("other nodes with these metrics: " + escape(", ".join(found["other_nodes"])))


def _ago(age_s: float) -> str:
    """How long ago, never "-0 s": a clock a little behind the server's reads as 0."""
    return f"{max(0.0, age_s) + 0.0:g} s ago"
