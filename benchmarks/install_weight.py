"""What installing pepr-gate costs: disk, packages, and what a gate run imports.

    python benchmarks/install_weight.py [--extras postgres] [--keep DIR]

Creates a fresh venv (what the Action's setup.sh and `pipx install` both do), installs
this checkout into it with pip, and prints:

  total            the venv's size on disk, and its number of installed distributions
                   (pip itself included, as in the Action's venv)
  largest          the ten largest distributions, each with the packages that require it
  imported         the third-party top-level modules a `pepr-gate run` and a
                   `pepr-gate check` import: the heavy ones (pandas, numpy, codecarbon,
                   matplotlib) must not be among them

Needs the package index pip is configured for; takes a minute or two.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("pandas", "numpy", "codecarbon", "matplotlib", "prometheus_api_client", "psycopg")
PROBE = """
import json, sys
from pepr_gate.cli import main
code = main(sys.argv[1:])
top = sorted({m.split(".")[0] for m in sys.modules})
print("IMPORTED " + json.dumps(top))
"""


def size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def distributions(python: Path) -> list[dict[str, object]]:
    script = (
        "import json, importlib.metadata as m, re\n"
        "out = []\n"
        "for d in m.distributions():\n"
        "    req = [re.split(r'[ ;<>=!~\\[(]', r)[0].lower() for r in (d.requires or [])\n"
        "           if 'extra ==' not in r]\n"
        "    files = [d.locate_file(f) for f in (d.files or [])]\n"
        "    n = sum(p.stat().st_size for p in files if p.is_file())\n"
        "    out.append({'name': d.metadata['Name'], 'size': n, 'requires': req})\n"
        "print(json.dumps(out))\n")
    done = subprocess.run([str(python), "-c", script], capture_output=True, text=True,
                          check=True)
    data: list[dict[str, object]] = json.loads(done.stdout)
    return data


def imported(python: Path, args: list[str], cwd: Path) -> list[str]:
    done = subprocess.run([str(python), "-c", PROBE, *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)
    line = next((x for x in done.stdout.splitlines() if x.startswith("IMPORTED ")), None)
    if line is None:
        raise SystemExit(f"pepr-gate {' '.join(args)} failed: {done.stderr[-2000:]}")
    names: list[str] = json.loads(line[len("IMPORTED "):])
    return names


def gate_imports(python: Path, work: Path) -> dict[str, list[str]]:
    (work / "job.py").write_text(
        "import json\njson.dump({'acc': 0.9}, open('metrics.json', 'w'))\n")
    (work / "pepr.toml").write_text(
        '[[run.stages]]\nname = "train"\ncmd = ["python3", "job.py"]\n'
        '[performance]\nfile = "metrics.json"\nkey = "acc"\n'
        '[score.scale]\nenergy = 0.001\n[carbon]\ncountry = "DNK"\n')
    found = {}
    for args in (["run", "--quiet", "--branch", "main"],
                 ["check", "--baseline-branch", "main"]):
        names = imported(python, args, work)
        found[args[0]] = [n for n in HEAVY if n in names]
    return found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--extras", default="", help="extras to install, e.g. postgres")
    ap.add_argument("--keep", type=Path, help="build the venv here and keep it")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        where = args.keep or Path(tmp) / "venv"
        venv.EnvBuilder(with_pip=True, clear=True).create(where)
        python = where / "bin" / "python"
        target = f"{ROOT}[{args.extras}]" if args.extras else str(ROOT)
        env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", target], check=True,
                       env=env)
        dists = distributions(python)
        print(f"total      {size(where) / 1e6:.0f} MB, {len(dists)} distributions "
              f"(pepr-gate{'[' + args.extras + ']' if args.extras else ''}, Python "
              f"{sys.version_info.major}.{sys.version_info.minor})")
        print("largest")
        for d in sorted(dists, key=lambda d: -int(str(d["size"])))[:10]:
            name = str(d["name"])
            users = sorted(str(o["name"]) for o in dists
                           if name.lower() in o["requires"])  # type: ignore[operator]
            print(f"  {int(str(d['size'])) / 1e6:6.1f} MB  {name:<22} "
                  f"required by {', '.join(users) or '(nothing: top level)'}")
        work = Path(tmp) / "work"
        work.mkdir()
        for command, heavy in gate_imports(python, work).items():
            said = ", ".join(heavy) if heavy else "none of " + ", ".join(HEAVY)
            print(f"imported   pepr-gate {command}: {said}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
