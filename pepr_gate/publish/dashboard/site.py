"""The static site: `index.html`, `data/runs.js`, `data/openmetrics.txt`, `verdicts.json`
and the shipped assets.

`render_site` returns the files as bytes (the git store commits them as they are);
`write_site` puts them in a folder. Nothing is fetched from the network, by the build or
by the page.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

from pepr_gate.errors import InputError
from pepr_gate.fileio.atomic import write_atomic
from pepr_gate.publish.dashboard.data import (
    NO_BRANCH,
    Site,
    Verdict,
    columns,
    dump_verdicts,
    pick_base,
    to_script,
)
from pepr_gate.publish.exports import openmetrics
from pepr_gate.records import CheckResult

ASSETS = ("chart.umd.min.js", "chart.js-LICENSE.md", "VENDORED.md", "dashboard.js",
          "dashboard.css")
VERDICTS_FILE = "verdicts.json"
RUNS_FILE = "data/runs.js"
OPENMETRICS_FILE = "data/openmetrics.txt"  # the newest ok run of each branch shown


def prepare(site: Site, *, wanted: list[str] | None, configured_base: str | None) -> Site:
    """Fill in the branch list (wanted ones first, even without runs) and the base branch."""
    counts = Counter(r.branch or NO_BRANCH for r in site.runs)
    names = list(dict.fromkeys([*(wanted or []), *sorted(counts)]))
    base = wanted[0] if wanted else pick_base(names, counts, configured_base)
    site.branches = names
    site.base_branch = base
    return site


# Colours a reader can tell apart, on white and on a dark background (Tableau 10).
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1", "#edc948",
           "#ff9da7", "#9c755f", "#8cd17d")


def branch_colours(branches: list[str]) -> list[str]:
    """One colour per branch, from its name, so a branch keeps its colour from build to
    build and in every panel; where two names land on one colour, the later (the base
    branch comes first) takes the next free one."""
    taken: set[str] = set()
    out = []
    for name in branches:
        start = zlib.crc32(name.encode("utf-8", "surrogatepass")) % len(PALETTE)
        free = [PALETTE[(start + k) % len(PALETTE)] for k in range(len(PALETTE))]
        colour = next((c for c in free if c not in taken), free[0])
        taken.add(colour)
        if len(taken) == len(PALETTE):
            taken.clear()  # more branches than colours: start a second round
        out.append(colour)
    return out


def verdicts_of(result: CheckResult) -> dict[str, Verdict]:
    """The verdict a check gave, for each of its candidate runs."""
    reason = result.reasons[0] if result.reasons else ""
    stamp = result.created_at.isoformat(timespec="seconds")
    return {run_id: Verdict(result.verdict, reason, stamp) for run_id in result.candidate.run_ids}


def _asset(name: str) -> bytes:
    return (resources.files("pepr_gate.publish.dashboard") / "assets" / name).read_bytes()


def _index_html(site: Site) -> bytes:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(loader=PackageLoader("pepr_gate.publish.dashboard", "assets"),
                      autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True)
    return env.get_template("index.html.j2").render(title=site.title).encode()


def render_site(site: Site) -> dict[str, bytes]:
    """Every file of the site, by its path relative to the site's folder."""
    data = columns(site)
    data["colors"] = branch_colours(site.branches)
    data["open_branches"] = [b for b in site.opened if b in site.branches]
    files = {"index.html": _index_html(site), RUNS_FILE: to_script(data),
             VERDICTS_FILE: dump_verdicts(site.verdicts),
             OPENMETRICS_FILE: openmetrics.render(site.runs).encode()}
    files.update({f"assets/{name}": _asset(name) for name in ASSETS})
    return files


def _refuse_links(out: Path, name: str) -> None:
    """A symbolic link inside the site folder would send a write anywhere on the disk."""
    path = out
    for part in Path(name).parts:
        path = path / part
        if path.is_symlink():
            raise InputError(
                f"--out {out}: {path} is a symbolic link; refusing to write through it",
                hint="remove the link (pepr-gate writes plain files there), or pass a new "
                "folder with --out")


def write_site(files: Mapping[str, bytes], out: Path) -> None:
    """Write the files under `out`; refuses a non-empty folder that is not a site of ours."""
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: exists and is not a folder",
                         hint="name a folder for the site, e.g. --out .pepr/dashboard")
    if out.is_dir() and any(out.iterdir()) and not (out / VERDICTS_FILE).is_file():
        raise InputError(
            f"--out {out}: the folder is not empty and holds no pepr-gate dashboard "
            f"({VERDICTS_FILE} is missing); refusing to write into it",
            hint="pass an empty or new folder, or one an earlier `pepr-gate dashboard` wrote")
    try:
        for name, data in files.items():
            path = out / name
            _refuse_links(out, name)
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, data, error=InputError, hint="pass a writable folder with --out")
    except OSError as exc:
        raise InputError(f"cannot write the dashboard to {out}: {exc.strerror or exc}",
                         hint="pass a writable folder with --out") from None
