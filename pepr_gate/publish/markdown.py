"""The PR comment: a `CheckResult` rendered through `templates/comment.md.j2`.

Autoescaping is off (this is Markdown, not HTML), so every string a PR author can
influence (branch, metric, stage and GPU names, reasons that quote them) goes through
the `md` filter, and Mermaid labels through `mermaid`. Nothing user-controlled is ever
put inside a code span, where backslash escapes do not work.
"""

from __future__ import annotations

import re
from typing import Any

from pepr_gate import units
from pepr_gate.publish.sparkline import sparkline
from pepr_gate.records import UNITS, CheckResult, Side

MD_SPECIALS = re.compile(r"([\\`*_{}\[\]()#|~$^])")
HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}
ZWJ = "\u200d"
ICONS = {"pass": "✅", "warn": "⚠️", "fail": "❌", "inconclusive": "❔", "accepted": "☑️"}
TRIM_NOTE = ("_The trend and run details were left out to keep this comment under "
             "GitHub's size limit; `pepr-gate report` on the JSON result shows them._")


def escape_md(value: object) -> str:
    """Make any string inert in GitHub Markdown: no markup, HTML, mentions or table breaks."""
    text = " ".join(str(value).split())  # newlines would end a table row or a list item
    text = "".join(HTML.get(ch, ch) for ch in text)
    text = MD_SPECIALS.sub(r"\\\1", text)
    return text.replace("@", "@" + ZWJ)  # `@org/team` must never ping


def mermaid_label(value: object) -> str:
    """Mermaid has no escaping inside quoted labels: keep only harmless characters."""
    return re.sub(r"[^A-Za-z0-9 ._:/+-]", "_", str(value))[:40]


def comment_marker(config_path: str | None) -> str:
    """The hidden first line that finds this comment again (one comment per config)."""
    name = config_path or "default"
    safe = re.sub(r"[^A-Za-z0-9._/+:=@ -]", "_", name).replace("--", "-_")
    return f"<!-- pepr-gate:comment config={safe} -->"


def _num(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _change(new: float | None, old: float | None) -> str:
    if new is None or old is None or old == 0:
        return "—"
    return f"{(new - old) / old * 100:+.1f}%"


def _rows(result: CheckResult) -> list[dict[str, str]]:
    b: Side | None = result.baseline
    c = result.candidate

    def get(side: Side | None, attr: str) -> Any:
        return None if side is None else getattr(side, attr)

    def mem(side: Side | None) -> float | None:
        v = get(side, "gpu_peak_memory_bytes")
        return None if v is None else v / 1e9

    norm = result.normalization
    r_label = f"R ({result.resource}"
    if norm is not None and norm.scale is not None:
        r_label += f", scale {norm.scale:.4g} {UNITS[result.resource]}, {norm.scale_source}"
    r_label += ")"
    specs: list[tuple[str, Any, Any, int, str]] = [
        (f"{escape_md(result.performance_name)} (P)", get(b, "performance"), c.performance,
         3, ""),
        ("energy", get(b, "energy_kwh"), c.energy_kwh, 0, "energy"),
        ("carbon", get(b, "carbon_kg"), c.carbon_kg, 0, "carbon"),
        ("wall time", get(b, "duration_s"), c.duration_s, 1, " s"),
        ("peak GPU memory", mem(b), mem(c), 2, " GB"),
        (escape_md(r_label), get(b, "R"), c.R, 3, ""),
    ]
    rows = []
    for label, old, new, digits, unit in specs:
        fmt = {"energy": units.energy, "carbon": units.carbon}.get(
            unit, lambda v, d=digits, u=unit: _num(v, d) + u
        )
        rows.append({
            "label": label,
            "baseline": "—" if old is None else fmt(old),
            "candidate": "—" if new is None else fmt(new),
            "change": _change(new, old),
        })
    rows[5]["baseline"], rows[5]["candidate"] = _r_cell(b), _r_cell(c)
    for key, side in (("baseline", b), ("candidate", c)):
        method = get(side, "energy_method")
        if rows[1][key] != "—" and method:
            rows[1][key] += f" ({method}) [^methods]"
    rows.append({
        "label": f"**{escape_md(result.variant)}**",
        "baseline": _num(get(b, "pepr")),
        "candidate": f"**{_num(c.pepr)}**",
        "change": "—" if result.pepr_change is None else f"**{result.pepr_change * 100:+.1f}%**",
    })
    return rows


def _unique_labels(trend: list[tuple[str, float]]) -> list[str]:
    """Mermaid x-axis labels, numbered where repeated: Mermaid's band axis keeps one slot
    per distinct label, so repeats of one commit would otherwise pile onto one x."""
    labels = [mermaid_label(label) for label, _ in trend]
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if labels.count(label) == 1 else f"{label} ({seen[label]})")
    return out


def _trend(result: CheckResult) -> dict[str, Any] | None:
    if len(result.trend) < 2:
        return None
    values = [v for _, v in result.trend]
    lo, hi = min(values), max(values)
    pad = max((hi - lo) * 0.1, 0.005)
    return {
        "labels": ", ".join(f'"{label}"' for label in _unique_labels(result.trend)),
        "points": ", ".join(f"{v:.4f}" for v in values),
        "y_min": f"{max(lo - pad, 0):.3f}",
        "y_max": f"{hi + pad:.3f}",
        "spark": sparkline(values),
        "first": f"{values[0]:.3f}",
        "last": f"{values[-1]:.3f}",
        "count": len(values),
    }


def noise_source(result: CheckResult) -> str:
    """'measured from N runs' or 'assumed (N runs)': whether the spread is a measurement."""
    if result.noise_source == "assumed":
        return f"assumed ({result.noise_runs} runs, too few to measure it)"
    if result.noise_source == "measured":
        return f"measured from {result.noise_runs} runs"
    return f"from {len(result.noise_run_ids)} base run(s) and the candidate's repeats"


def _r_cell(side: Side | None) -> str:
    if side is None or side.R is None:
        return "—"
    return f"{side.R:.3f}" + (" (capped: over the scale)" if side.over_scale else "")


def _context(result: CheckResult, *, details: bool) -> dict[str, Any]:
    noise = None
    if result.noise is not None and result.noise_z is not None:
        noise = {
            "band": f"{result.noise * result.noise_z * 100:.1f}%",
            "sigma": f"{result.noise * 100:.2f}%",
            "z": f"{result.noise_z:.2f}",
            "spread": "—" if result.spread is None else f"{result.spread * 100:.1f}%",
            "runs": len(result.noise_run_ids),
            "source": noise_source(result),
            "repeats": (f" Candidate repeats needed to decide: {result.repeats_needed}."
                        if result.repeats_needed else ""),
        }
    hw = result.hardware
    hardware = None
    if hw is not None:
        gpus = [g.name for g in hw.gpus if g.visible]
        gpu = f"{len(gpus)} x {gpus[0]}" if gpus else "no GPU"
        hardware = (f"{escape_md(gpu)}; {escape_md(hw.cpu_model)} ({hw.cpu_count} CPUs); "
                    f"{escape_md(hw.platform)}; fingerprint {escape_md(hw.fingerprint)}")
    return {
        "r": result,
        "marker": comment_marker(result.config_path),
        "head_sha": re.sub(r"[^0-9A-Za-z]", "", result.head_sha or "unknown"),
        "icon": ICONS[result.verdict],
        "rows": _rows(result),
        "noise": noise,
        "threshold": f"{result.threshold * 100:g}%",
        "hardware": hardware,
        "trend": _trend(result) if details else None,
        "details": details,
        "trimmed": not details,
        "trim_note": TRIM_NOTE,
    }


def _env() -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(
        loader=PackageLoader("pepr_gate.publish", "templates"),
        undefined=StrictUndefined,
        autoescape=False,  # Markdown: the `md` filter escapes what PR authors control
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = escape_md
    env.filters["mermaid"] = mermaid_label
    return env


def render_markdown(result: CheckResult, *, max_chars: int = 65_000) -> str:
    """The PR comment body; trims the trend and details first when over `max_chars`."""
    template = _env().get_template("comment.md.j2")
    text: str = template.render(**_context(result, details=True))
    if len(text) <= max_chars:
        return text
    text = template.render(**_context(result, details=False))
    if len(text) <= max_chars:
        return text
    cut = "\n\n_Comment cut at GitHub's size limit; see the job summary._\n"
    return text[: max_chars - len(cut)] + cut
