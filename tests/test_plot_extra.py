"""matplotlib is the `plot` extra: without it, `score --plot` says what to install (exit 2)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# sys.modules[name] = None makes `import matplotlib` raise ImportError, exactly as in an
# environment where the package was never installed.
WITHOUT_MATPLOTLIB = (
    "import sys; sys.modules['matplotlib'] = None; "
    "from pepr_gate.cli import main; raise SystemExit(main(sys.argv[1:]))"
)


def test_plot_without_matplotlib_names_the_pip_command(tmp_path: Path) -> None:
    table = tmp_path / "t.csv"
    table.write_text("model,P,energy\na,0.9,1\nb,0.8,2\n", encoding="utf-8")
    png = tmp_path / "profile.png"
    proc = subprocess.run(
        [sys.executable, "-c", WITHOUT_MATPLOTLIB, "score", str(table), "--plot", str(png)],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert f"--plot {png}: drawing the profile needs matplotlib" in proc.stderr
    assert f"{sys.executable} -m pip install 'matplotlib>=3.8'" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""  # refused before any scoring was printed
    assert not png.exists()


def test_score_without_plot_needs_no_matplotlib(tmp_path: Path) -> None:
    table = tmp_path / "t.csv"
    table.write_text("model,P,energy\na,0.9,1\nb,0.8,2\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-c", WITHOUT_MATPLOTLIB, "score", str(table)],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "PePR-E" in proc.stdout
