"""Screenshots for docs/integrations.md, made from real renders.

    python scripts/integrations_screenshots.py [--out docs/img]

1. Starts `mlflow server` on 127.0.0.1 (SQLite backend in a temporary folder), measures a
   small job three times with `pepr-gate run --repeats 3 --mlflow`, checks it, and
   photographs the MLflow UI's page of the newest run with headless Chromium.
2. Writes a model card with `pepr-gate report --model-card latest --update README.md`
   and photographs it rendered (python-markdown, the front matter shown as YAML, the way
   the Hub's card editor shows it).

Needs `pip install -e '.[dev]'` (mlflow, markdown, Pillow) and Debian's `chromium`.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from screenshots import CSS, shoot

ROOT = Path(__file__).resolve().parents[1]
JOB = ("import json, time; t = time.time()\n"
       "while time.time() - t < 1.5: sum(i * i for i in range(10000))\n"
       "json.dump({'test': {'accuracy': 0.914}}, open('metrics.json', 'w'))\n")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _project(folder: Path, uri: str) -> None:
    folder.mkdir(parents=True)
    (folder / "pepr.toml").write_text(textwrap.dedent(f"""\
        [[run.stages]]
        name = "train"
        cmd = {json.dumps([sys.executable, "-c", JOB])}

        [performance]
        file = "metrics.json"
        key = "test.accuracy"

        [score]
        resource = "time"

        [score.scale]
        time = 10.0

        [export.mlflow]
        tracking_uri = "{uri}"
        experiment = "digits-cnn"
        tags = {{ team = "vision" }}
        """), encoding="utf-8")
    for args in (["init", "-q", "-b", "main"], ["add", "pepr.toml"],
                 ["-c", "user.name=demo", "-c", "user.email=demo@example.com", "commit", "-qm",
                  "train a small CNN"]):
        subprocess.run(["git", *args], cwd=folder, check=True)


def _cli(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pepr_gate", *args], cwd=folder, text=True,
                          capture_output=True, check=False, timeout=600)


def mlflow_shot(work: Path, out: Path) -> None:
    port = _port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{work / 'mlflow.db'}",
         "--artifacts-destination", str(work / "artifacts"), "--workers", "1"],
        cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(240):
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        project = work / "project"
        _project(project, url)
        for args in (["run", "--repeats", "3", "--quiet"], ["check"]):
            done = _cli(project, *args)
            print(done.stdout[-400:], done.stderr[-400:], sep="\n")
        from mlflow.tracking import MlflowClient

        client = MlflowClient(url)
        exp = client.get_experiment_by_name("digits-cnn")
        assert exp is not None
        run = client.search_runs([exp.experiment_id], order_by=["attributes.start_time DESC"])[0]
        page = f"{url}/#/experiments/{exp.experiment_id}/runs/{run.info.run_id}"
        shoot_url(page, out)
        report = _cli(project, "report", "--model-card", "latest")
        (work / "card-block.md").write_text(report.stdout, encoding="utf-8")
    finally:
        server.terminate()
        server.wait(timeout=30)


def shoot_url(page: str, out: Path) -> None:
    """Like screenshots.shoot, for a live page that needs time to draw itself."""
    shoot(page, out, width=1280, height=1100, wait_ms=20000)


def card_shot(work: Path, out: Path) -> None:
    import markdown

    block = (work / "card-block.md").read_text(encoding="utf-8")
    front, paragraph = block.split("---\n\n", 1)
    card = (f"{front}---\n\n# digits-cnn\n\nA small CNN for scikit-learn's digits.\n\n"
            f"## Environmental impact\n\n{paragraph}")
    (work / "README.md").write_text(card, encoding="utf-8")
    yaml_text = front.strip("-\n")
    body = card.split("---\n\n", 1)[1]
    html = (f"<!doctype html><meta charset='utf-8'><style>{CSS}</style>"
            "<div class='comment'><div class='header'><b>README.md</b> · model card</div>"
            f"<div class='body'><pre style='white-space: pre-wrap'>{yaml_text}</pre>"
            f"{markdown.markdown(body)}</div></div>")
    page = work / "card.html"
    page.write_text(html, encoding="utf-8")
    shoot(page, out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    args = ap.parse_args(argv)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    with tempfile.TemporaryDirectory(prefix="pepr-integrations-") as tmp:
        work = Path(tmp)
        mlflow_shot(work, args.out / "mlflow-run.png")
        card_shot(work, args.out / "model-card.png")
    print(f"wrote {args.out / 'mlflow-run.png'} and {args.out / 'model-card.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
