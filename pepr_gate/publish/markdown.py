"""The PR comment: a `CheckResult` rendered through `templates/comment.md.j2`.

Autoescaping is off (this is Markdown, not HTML), so every string a PR author can
influence (branch, metric, stage and GPU names, reasons that quote them) goes through
the `md` filter, and Mermaid labels through `mermaid`. Nothing user-controlled is ever
put inside a code span, where backslash escapes do not work.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pepr_gate import units
from pepr_gate.publish.conditions_text import detail_lines
from pepr_gate.publish.github import MAX_COMMENT_CHARS
from pepr_gate.publish.headline import headline, next_step, noise_source, pepr_change
from pepr_gate.publish.text import escape_md
from pepr_gate.publish.trend import CANDIDATE_LABEL, trend
from pepr_gate.records import CheckResult, Side

ICONS = {"pass": "✅", "warn": "⚠️", "fail": "❌", "inconclusive": "❔", "accepted": "☑️"}
# The rendered body leaves room for the hidden markers `compose_body` appends.
COMMENT_CHARS = MAX_COMMENT_CHARS - 200
TRIM_NOTE = ("_The trend and run details were left out to keep this comment under "
             "GitHub's size limit; `pepr-gate report` on the JSON result shows them._")


def comment_marker(config_path: str | None) -> str:
    """The hidden first line that finds this comment again (one comment per config)."""
    name = config_path or "default"
    safe = re.sub(r"[^A-Za-z0-9._/+:=@ -]", "_", name).replace("--", "-_")
    return f"<!-- pepr-gate:comment config={safe} -->"


def _rows(result: CheckResult) -> list[dict[str, str]]:
    b: Side | None = result.baseline
    c = result.candidate

    def get(side: Side | None, attr: str) -> Any:
        return None if side is None else getattr(side, attr)

    norm = result.normalization
    scale = None if norm is None else norm.scale
    r_label = f"R ({result.resource}"
    if norm is not None and scale is not None:
        r_label += f", scale {units.resource(scale, result.resource)}, {norm.scale_source}"
    r_label += ")"

    def r_value(side: Side) -> str:
        return units.number(side.R) + (" (capped: over the scale)" if side.over_scale else "")

    specs: list[tuple[str, Any, Any, Callable[[Any], str]]] = [
        (f"{escape_md(result.performance_name)} (P)", get(b, "performance"), c.performance,
         units.number),
        ("energy", get(b, "energy_kwh"), c.energy_kwh, units.energy),
        ("carbon", get(b, "carbon_kg"), c.carbon_kg, units.carbon),
        ("wall time", get(b, "duration_s"), c.duration_s, units.seconds),
        ("peak GPU memory", get(b, "gpu_peak_memory_bytes"), c.gpu_peak_memory_bytes,
         units.gigabytes),
    ]
    rows = [{"label": label, "baseline": fmt(old), "candidate": fmt(new),
             "change": units.change(new, old)} for label, old, new, fmt in specs]
    for key, side in (("baseline", b), ("candidate", c)):
        method = get(side, "energy_method")
        if rows[1][key] != units.MISSING and method:
            rows[1][key] += f" ({method}) [^methods]"
    rows.append({"label": escape_md(r_label),
                 "baseline": units.MISSING if b is None else r_value(b),
                 "candidate": r_value(c), "change": units.change(c.R, get(b, "R"))})
    rows.append({
        "label": f"**{escape_md(result.variant)}**",
        "baseline": units.number(get(b, "pepr")),
        "candidate": f"**{units.number(c.pepr)}**",
        "change": pepr_change(result, strong=lambda text: f"**{text}**"),
    })
    return rows


def _methods(result: CheckResult) -> str:
    """`candidate energy measured: gpu 0 measured`, the baseline's too, or both at once
    when they were read the same way."""
    methods = list(result.methods)
    prefix = "candidate energy "
    if (len(methods) == 2 and methods[0].startswith(prefix)
            and methods[1] == "baseline energy " + methods[0][len(prefix):]):
        methods = ["candidate and baseline energy " + methods[0][len(prefix):]]
    return "; ".join(escape_md(m) for m in methods)


def _context(result: CheckResult, *, details: bool, run_url: str | None,
             candidate: str) -> dict[str, Any]:
    noise = None
    if result.noise is not None and result.noise_z is not None:
        noise = {
            "band": f"{result.noise * result.noise_z * 100:.1f}%",
            "sigma": f"{result.noise * 100:.2f}%",
            "z": f"{result.noise_z:.2f}",
            "spread": units.MISSING if result.spread is None else f"{result.spread * 100:.1f}%",
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
        "headline": escape_md(headline(result)),
        "next_step": next_step(result, escape_md),
        "run_url": run_url,
        "rows": _rows(result),
        "noise": noise,
        "threshold": f"{result.threshold * 100:g}%",
        "hardware": hardware,
        "trend": trend(result, candidate) if details else None,
        "candidate_label": candidate,
        "methods": _methods(result),
        "details": details,
        "trimmed": not details,
        "trim_note": TRIM_NOTE,
        "conditions": detail_lines(result),
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
    return env


def render_markdown(result: CheckResult, *, max_chars: int = COMMENT_CHARS,
                    run_url: str | None = None, candidate: str = CANDIDATE_LABEL) -> str:
    """The PR comment body; trims the trend and details first when over `max_chars`.
    `run_url` links the workflow run that measured it (`context.workflow_run_url`);
    `candidate` names the candidate in the chart ("this commit" for a push)."""
    template = _env().get_template("comment.md.j2")
    text: str = template.render(**_context(result, details=True, run_url=run_url,
                                           candidate=candidate))
    if len(text) <= max_chars:
        return text
    text = template.render(**_context(result, details=False, run_url=run_url,
                                      candidate=candidate))
    if len(text) <= max_chars:
        return text
    cut = "\n\n_Comment cut at GitHub's size limit; see the job summary._\n"
    return text[: max_chars - len(cut)] + cut
