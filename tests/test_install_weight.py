"""A gate run imports only what it uses: codecarbon's tables are read as data files (no
`import codecarbon`, which would bring pandas), numpy and matplotlib stay with `score`
and its plot, and the Prometheus client and PostgreSQL driver with their meter and store.
benchmarks/install_weight.py prints what the install itself weighs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HEAVY = ("pandas", "numpy", "codecarbon", "matplotlib", "prometheus_api_client", "psycopg",
         "sqlalchemy")
PROBE = """
import json, sys
from pepr_gate.cli import main
code = main(sys.argv[1:])
print("IMPORTED " + json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
print("CODE", code)
"""


def imported(args: list[str], cwd: Path) -> tuple[int, set[str]]:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)
    line = next(x for x in done.stdout.splitlines() if x.startswith("IMPORTED "))
    code = int(done.stdout.rsplit("CODE ", 1)[1])
    return code, set(json.loads(line[len("IMPORTED "):]))


def test_run_and_check_import_none_of_the_heavy_packages(tmp_path: Path) -> None:
    (tmp_path / "job.py").write_text(
        "import json\njson.dump({'acc': 0.9}, open('metrics.json', 'w'))\n")
    (tmp_path / "pepr.toml").write_text(
        f'[[run.stages]]\nname = "train"\ncmd = [{json.dumps(sys.executable)}, "job.py"]\n'
        '[performance]\nfile = "metrics.json"\nkey = "acc"\n'
        '[score.scale]\nenergy = 0.001\n[carbon]\ncountry = "DNK"\n'
        '[store]\nurl = "git:pepr-data"\n')
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=tmp_path, check=True)
    code, names = imported(["run", "--quiet", "--no-store", "--meter", "auto"], tmp_path)
    assert code == 0
    # The estimate read codecarbon's CPU table and DNK's intensity, without importing it.
    record = json.loads(next((tmp_path / ".pepr" / "runs").glob("*.json")).read_text())
    assert "codecarbon" in json.dumps(record["resources"]) + json.dumps(record["components"])
    assert not names & set(HEAVY), names & set(HEAVY)
    code, names = imported(["check", "--candidate", str(next(
        (tmp_path / ".pepr" / "runs").glob("*.json"))), "--baseline", str(next(
            (tmp_path / ".pepr" / "runs").glob("*.json")))], tmp_path)
    assert code in (0, 1)
    assert not names & set(HEAVY), names & set(HEAVY)
