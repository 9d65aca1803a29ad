"""The real CLI in a subprocess, for the reliability tests (docs/reliability.md)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

PY = sys.executable
ROOT = Path(__file__).resolve().parents[1]


def pepr_gate(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PY, "-m", "pepr_gate", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def assert_exit(proc: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    assert proc.returncode == code, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr, proc.stderr
    for needle in needles:
        assert needle in proc.stderr, f"{needle!r} not in:\n{proc.stderr}"


def job(code: str) -> str:
    """A TOML argv list running `code` with this interpreter."""
    return json.dumps([PY, "-c", textwrap.dedent(code)])


def write_config(folder: Path, body: str, name: str = "pepr.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def perf_config(code: str, extra: str = "") -> str:
    """A one-stage config whose job runs `code` and must write metrics.json {"acc": ...}."""
    return (f"[[run.stages]]\nname = \"train\"\ncmd = {job(code)}\n\n"
            "[performance]\nfile = \"metrics.json\"\nkey = \"acc\"\n\n"
            f"[score.scale]\ntime = 60.0\n\n[meter]\nkind = \"process\"\n{extra}")


WRITE_METRICS = "import json; json.dump({'acc': 0.9}, open('metrics.json', 'w'))"
