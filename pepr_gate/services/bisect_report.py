"""The Markdown report of `pepr-gate bisect`: the commit found, each step and its reason."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pepr_gate.publish.text import escape_md

if TYPE_CHECKING:
    from pepr_gate.services.bisect import BisectOutcome


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1%}"


def headline(done: BisectOutcome, threshold: float) -> str:
    if done.first_bad:
        return (f"First commit whose PePR fell more than {threshold:.0%} against the good "
                f"commit: {done.first_bad[:12]} {done.subject!r}, PePR "
                f"{_pct(done.drop)}" + ("" if done.drop is not None else
                                        " (the --bad commit itself, not measured)"))
    if done.candidates:
        return ("Inconclusive: only skipped commits are left; the first bad commit is one "
                "of " + ", ".join(c[:12] for c in done.candidates))
    return "Inconclusive: git bisect did not name a commit"


def render(done: BisectOutcome, threshold: float, command: str) -> str:
    lines = [
        "# pepr-gate bisect", "",
        escape_md(headline(done, threshold)), "",
        f"Good `{done.good_sha[:12]}`, bad `{done.bad_sha[:12]}`; each step is "
        f"{done.pairs} pair(s) of paired A/B runs (ABBA) of the good commit and the "
        f"candidate on this machine. {len(done.steps)} step(s), {done.runs} runs "
        f"(estimated {done.estimate} step(s)).", "",
        "| step | commit | subject | PePR vs good | marked | reason |",
        "| ---: | --- | --- | ---: | --- | --- |",
    ]
    for n, step in enumerate(done.steps, 1):
        lines.append(f"| {n} | `{step.sha[:12]}` | {escape_md(step.subject)} | "
                     f"{_pct(step.pepr_change)} | {step.term} | "
                     f"{escape_md(step.reason)} |")
    lines += ["", f"Reproduce: `{command}`", ""]
    return "\n".join(lines)
