"""A run as a Hugging Face model card's emissions entry (`pepr-gate report --model-card RUN`).

The Hub reads `co2_eq_emissions` from the card's YAML front matter: `emissions` in grams
of CO2eq, `source`, `training_type`, `geographical_location` and `hardware_used`
(huggingface.co/docs/hub/model-cards-co2). The block is written here as plain YAML with
JSON-quoted strings, and `merge_front_matter` replaces or adds that one key in an
existing card, leaving every other line as it was; PyYAML reads the front matter before
and after the edit (`front_matter`), so a card that would not read back is never written.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from pepr_gate import __version__, units
from pepr_gate.errors import InputError
from pepr_gate.publish.exports import front_matter
from pepr_gate.publish.exports.mlflow_runs import methods_of
from pepr_gate.records import RunRecord

KEY = "co2_eq_emissions"
TRAINING_TYPES = ("pre-training", "fine-tuning")
_COUNTRY_SOURCE = re.compile(r"^codecarbon global_energy_mix: (?P<name>.+), [^,]+$")


@dataclass(frozen=True)
class Emissions:
    grams: float
    source: str
    training_type: str | None
    location: str
    hardware: str

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"emissions": self.grams, "source": self.source}
        if self.training_type:
            out["training_type"] = self.training_type
        out["geographical_location"] = self.location
        out["hardware_used"] = self.hardware
        return out


def emissions_of(record: RunRecord, source_name: str, *, training_type: str | None = None,
                 location: str | None = None) -> Emissions:
    """The card's figures for one run; a run without a carbon figure is refused (exit 2)."""
    kg = record.resources.carbon_kg
    if record.status != "ok" or kg is None:
        why = "failed" if record.status != "ok" else "has no carbon figure (no energy reading)"
        raise InputError(f"{source_name}: run {record.id} {why}: it has no emissions to report",
                         hint="pick an ok run with an energy reading (`pepr-gate history` lists "
                         "them), or measure one with `pepr-gate run`")
    return Emissions(
        grams=float(f"{kg * 1000:.6g}"),
        source=f"pepr-gate {record.pepr_gate_version or __version__}, {methods_of(record)}",
        training_type=training_type,
        location=location or location_of(record),
        hardware=hardware_of(record),
    )


def location_of(record: RunRecord) -> str:
    """Where the carbon intensity came from, as a place: the country of codecarbon's table."""
    source = record.resources.carbon_source or ""
    found = _COUNTRY_SOURCE.match(source)
    if found:
        return found.group("name")
    if source.startswith("world average"):
        return "world average (no carbon.country set)"
    if source.startswith("config"):
        return "not stated (intensity set in the config)"
    return source or "unknown"


def hardware_of(record: RunRecord) -> str:
    gpus = [g.name for g in record.hardware.gpus if g.visible]
    if gpus:
        names = list(dict.fromkeys(gpus))
        return ", ".join(f"{gpus.count(n)} x {n}" for n in names)
    return f"{record.hardware.cpu_model} (CPU, {record.hardware.cpu_count} threads)"


def yaml_block(emissions: Emissions) -> str:
    lines = [f"{KEY}:"]
    for key, value in emissions.as_dict().items():
        # A plain decimal: YAML 1.1 readers take `1e-05` (no dot) for a string.
        shown = (units.plain(value, 6) if isinstance(value, float)
                 else json.dumps(value, ensure_ascii=False))
        lines.append(f"  {key}: {shown}")
    return "\n".join(lines) + "\n"


def paragraph(record: RunRecord, emissions: Emissions) -> str:
    """A short Markdown paragraph for the card's body: what was measured and how."""
    score = record.score
    pepr = (f" Its {score.variant} score (PePR = P / (1 + R), Selvan et al., NLDL 2025) is "
            f"{units.maybe(score.pepr)}." if score and score.pepr is not None else "")
    perf = record.performance
    return (
        f"Training and evaluating this model used {units.energy(record.resources.energy_kwh)} "
        f"of energy ({record.resources.energy_method}: {methods_of(record)}) in "
        f"{units.seconds(record.resources.duration_s)} on {emissions.hardware}, about "
        f"{units.carbon(record.resources.carbon_kg)} at the carbon intensity of "
        f"{emissions.location}. It reached {perf.name} = {units.maybe(perf.value)}.{pepr} "
        f"Measured by pepr-gate {record.pepr_gate_version or __version__} (run {record.id}"
        f"{_commit(record)}).\n"
    )


def _commit(record: RunRecord) -> str:
    sha = record.git.sha if record.git else None
    return f", commit {sha[:12]}" if sha else ""


def merge_front_matter(text: str, block: str) -> str:
    """`text` (a model card) with `co2_eq_emissions` set to `block` in its front matter;
    a card without front matter gets one. Other keys and the body keep every byte, and a
    leading byte-order mark stays in front. The front matter is parsed before and after
    the edit: what cannot be edited safely is refused (exit 2, naming the line), and a
    card whose front matter would no longer read back the same is never written."""
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    text = text[len(bom):]
    newline = "\r\n" if "\r\n" in text.split("\n", 1)[0] + "\n" else "\n"
    lines = text.splitlines(keepends=True)
    new = [ln + newline for ln in block.rstrip("\n").split("\n")]
    if not lines or lines[0].rstrip("\r\n") != "---":
        return bom + "".join(["---" + newline, *new, "---" + newline, *lines])
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip("\r\n") == "---"), None)
    if end is None:
        raise InputError("the card's front matter has no closing '---' line",
                         hint="close the YAML block at the top of the card with a line '---'")
    before = front_matter.read(lines[1:end])
    start = next((i for i in range(1, end) if re.match(rf"{KEY}\s*:", lines[i])), None)
    if start is None:
        merged = [*lines[:end], *new, *lines[end:]]
    else:
        stop = _block_end(lines, start, end)
        kept = front_matter.kept_lines(before.get(KEY), lines[start], lines[start + 1:stop],
                                       {_key(ln) for ln in new}, newline)
        merged = [*lines[:start], *new, *kept, *lines[stop:]]
    front_matter.check_after(before, merged[1:len(merged) - len(lines) + end], block, KEY,
                             start or end)
    return bom + "".join(merged)


def _block_end(lines: list[str], start: int, end: int) -> int:
    """The line after the key's value: its indented lines, blank lines inside it and a
    zero-indented sequence (`- item` lines right under the key)."""
    stop = start + 1
    while stop < end and (lines[stop][:1] in (" ", "\t") or not lines[stop].strip()
                          or re.match(r"-(\s|$)", lines[stop])):
        stop += 1
    while stop > start + 1 and not lines[stop - 1].strip():  # blank lines after it stay
        stop -= 1
    return stop


def _key(line: str) -> str | None:
    found = re.match(r"^[ \t]+([A-Za-z_][\w-]*)\s*:", line)
    return found.group(1) if found else None
