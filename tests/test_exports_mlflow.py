"""`[export.mlflow]` and `pepr-gate run --mlflow` against real MLflow tracking stores: the file
and SQLite backends and `mlflow server` on 127.0.0.1; a tracker that is down or refuses
costs a warning, never the run or the store write (docs/integrations.md)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

import httpx
import pytest
from harness import WRITE_METRICS, assert_exit, pepr_gate, perf_config, write_config

pytest.importorskip("mlflow")


def _client(uri: str) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _runs(uri: str, experiment: str = "pepr-gate") -> list[Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client = _client(uri)
        exp = client.get_experiment_by_name(experiment)
        assert exp is not None, f"no experiment {experiment} in {uri}"
        return list(client.search_runs([exp.experiment_id], order_by=["attributes.start_time"]))


def _project(tmp_path: Path, extra: str = "") -> Path:
    folder = tmp_path / "proj"
    write_config(folder, perf_config(WRITE_METRICS, '\n[score]\nresource = "time"\n' + extra))
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=folder, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit",
                    "-q", "--allow-empty", "-m", "init"], cwd=folder, check=True)
    return folder


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    return {**env, **extra}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_run_mlflow_logs_each_run_to_a_file_store(tmp_path: Path) -> None:
    folder = _project(tmp_path)
    uri = (tmp_path / "mlruns").as_uri()
    # MLflow 3.7+ keeps its file backend behind this switch; the warning says so.
    refused = pepr_gate("run", "--mlflow", cwd=folder, env=_env(MLFLOW_TRACKING_URI=uri),
                        timeout=180)
    if "MLFLOW_ALLOW_FILE_STORE" in refused.stderr:
        assert_exit(refused, 0, "warning: the runs were not logged", "they are stored as usual")
    for old in (folder / ".pepr" / "runs").glob("*.json"):
        old.unlink()
    proc = pepr_gate("run", "--repeats", "2", "--mlflow", cwd=folder,
                     env=_env(MLFLOW_TRACKING_URI=uri, MLFLOW_ALLOW_FILE_STORE="true"),
                     timeout=180)
    assert_exit(proc, 0)
    assert "logged 2 runs to MLflow at file://" in proc.stdout
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"  # for reading it back in this process
    try:
        runs = _runs(uri)
    finally:
        os.environ.pop("MLFLOW_ALLOW_FILE_STORE")
    assert len(runs) == 2
    records = sorted((folder / ".pepr" / "runs").glob("*.json"))
    ids = {r.data.tags["pepr_gate.run_id"] for r in runs}
    assert ids == {p.stem for p in records}
    first = runs[0]
    assert first.info.status == "FINISHED"
    metrics = first.data.metrics
    assert metrics["performance"] == pytest.approx(0.9)
    for key in ("pepr_t", "energy_kwh", "carbon_kg", "duration_s", "R"):
        assert key in metrics, key
    tags = first.data.tags
    assert tags["pepr_gate.branch"] == "main"
    assert tags["pepr_gate.variant"] == "PePR-T"
    assert tags["pepr_gate.methods"].startswith("cpu:estimated")
    assert tags["pepr_gate.scopes"] == "job-share"
    assert tags["pepr_gate.fingerprint"]
    assert len(tags["pepr_gate.sha"]) == 40
    assert tags["mlflow.source.git.commit"] == tags["pepr_gate.sha"]
    run_dir = next((tmp_path / "mlruns").rglob(first.info.run_id))
    artifacts = [p.name for p in (run_dir / "artifacts" / "pepr-gate").iterdir()]
    assert artifacts == [f"run-{tags['pepr_gate.run_id']}.json"]


def test_the_config_table_logs_to_sqlite_and_check_tags_the_verdict(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    folder = _project(tmp_path, f'\n[export.mlflow]\ntracking_uri = "{uri}"\n'
                      'experiment = "digits"\nrun_name = "nightly"\ntags = { team = "vision" }\n')
    for _ in range(2):
        assert_exit(pepr_gate("run", cwd=folder, env=_env(), timeout=180), 0)
    check = pepr_gate("check", cwd=folder, env=_env(), timeout=180)
    assert check.returncode in (0, 1), check.stderr
    assert "tagged 1 MLflow run(s)" in check.stderr
    runs = _runs(uri, "digits")
    assert [r.info.run_name for r in runs] == ["nightly", "nightly"]
    assert all(r.data.tags["team"] == "vision" for r in runs)
    newest = runs[-1].data.tags
    assert newest["pepr_gate.verdict"] in ("pass", "warn", "inconclusive", "fail")
    assert "pepr_gate.verdict" not in runs[0].data.tags  # only the checked candidate


def test_an_active_run_gets_the_figures_and_keeps_running(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client = _client(uri)
        exp = client.create_experiment("training")
        active = client.create_run(exp).info.run_id
    folder = _project(tmp_path)
    proc = pepr_gate("run", "--repeats", "2", "--mlflow", cwd=folder,
                     env=_env(MLFLOW_TRACKING_URI=uri, MLFLOW_RUN_ID=active), timeout=180)
    assert_exit(proc, 0)
    assert f"run {active}" in proc.stdout
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = client.get_run(active)
        history = client.get_metric_history(active, "pepr_t")
    assert run.info.status == "RUNNING"  # the job's own run is the job's to end
    assert sorted(m.step for m in history) == [0, 1]


def test_a_tracker_that_is_down_costs_a_warning_not_the_run(tmp_path: Path) -> None:
    port = _free_port()  # nothing listens there
    folder = _project(tmp_path, f'\n[export.mlflow]\ntracking_uri = "http://127.0.0.1:{port}"\n'
                      "timeout_s = 2\n")
    started = time.monotonic()
    proc = pepr_gate("run", cwd=folder, env=_env(), timeout=180)
    took = time.monotonic() - started
    assert_exit(proc, 0, "warning: the runs were not logged to MLflow at http://127.0.0.1")
    assert "they are stored as usual" in proc.stderr
    assert took < 90, f"a dead tracker held the run for {took:.0f} s"
    history = pepr_gate("history", "--format", "json", cwd=folder, env=_env())
    assert history.returncode == 0 and '"status": "ok"' in history.stdout


class _Refuse(BaseHTTPRequestHandler):
    def _deny(self) -> None:
        body = b'{"error_code": "PERMISSION_DENIED", "message": "token lacks write access"}'
        self.send_response(403)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _deny

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_a_tracker_that_refuses_costs_a_warning_naming_the_refusal(tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refuse)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        folder = _project(tmp_path)
        proc = pepr_gate("run", "--mlflow", cwd=folder, timeout=180,
                         env=_env(MLFLOW_TRACKING_URI=f"http://127.0.0.1:{server.server_port}"))
    finally:
        server.shutdown()
        server.server_close()
    assert_exit(proc, 0, "warning: the runs were not logged", "PERMISSION_DENIED")
    assert len(list((folder / ".pepr" / "runs").glob("*.json"))) == 1


def test_mlflow_asked_for_but_not_installed_stops_before_the_job(tmp_path: Path) -> None:
    folder = _project(tmp_path, "\n[export.mlflow]\n")
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text("import sys\nsys.modules['mlflow'] = None\n")
    env = _env(PYTHONPATH=os.pathsep.join([str(blocker), os.environ.get("PYTHONPATH", "")]))
    proc = pepr_gate("run", cwd=folder, env=env)
    assert_exit(proc, 2, "[export.mlflow] needs the mlflow package",
                "pip install 'pepr-gate[mlflow]'")
    assert not (folder / "metrics.json").exists()  # the job never started


@pytest.fixture
def mlflow_server(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "mlflow-server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
         "--artifacts-destination", str(tmp_path / "artifacts"), "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, (tmp_path / "mlflow-server.log").read_text()[-3000:]
            time.sleep(0.5)
        else:
            pytest.fail("mlflow server did not start: "
                        + (tmp_path / "mlflow-server.log").read_text()[-3000:])
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.mark.slow
def test_mlflow_server_on_localhost_gets_runs_and_artifacts(
        tmp_path: Path, mlflow_server: str) -> None:
    folder = _project(tmp_path)
    proc = pepr_gate("run", "--mlflow", cwd=folder, env=_env(MLFLOW_TRACKING_URI=mlflow_server),
                     timeout=180)
    assert_exit(proc, 0)
    runs = _runs(mlflow_server)
    assert len(runs) == 1
    run_id = runs[0].info.run_id
    artifacts = _client(mlflow_server).list_artifacts(run_id, "pepr-gate")
    assert len(artifacts) == 1 and artifacts[0].path.endswith(".json")


def test_a_password_in_the_tracking_uri_is_never_printed(tmp_path: Path) -> None:
    port = _free_port()  # nothing listens there: MLflow's error quotes the URL
    folder = _project(tmp_path, "\n[export.mlflow]\ntimeout_s = 1\n")
    uri = f"http://user:s3cr3tpw@127.0.0.1:{port}/"
    proc = pepr_gate("run", "--no-store", "--mlflow", cwd=folder, timeout=180,
                     env=_env(MLFLOW_TRACKING_URI=uri))
    assert_exit(proc, 0, "warning: the runs were not logged to MLflow at "
                f"http://***@127.0.0.1:{port}/")
    assert "s3cr3tpw" not in proc.stdout + proc.stderr
    tracked = f'\n[export.mlflow]\ntracking_uri = "http://u:p%40ss%2Fw0rd@127.0.0.1:{port}"\n'
    folder2 = _project(tmp_path / "two", tracked + "timeout_s = 1\n")
    proc = pepr_gate("run", cwd=folder2, timeout=180, env=_env())
    assert_exit(proc, 0, "warning: the runs were not logged")
    for secret in ("p%40ss%2Fw0rd", "p@ss/w0rd"):
        assert secret not in proc.stdout + proc.stderr


def test_an_unusable_sqlite_tracker_costs_one_line_within_the_deadline(tmp_path: Path) -> None:
    folder = _project(tmp_path, "\n[export.mlflow]\ntimeout_s = 1\n")
    started = time.monotonic()
    proc = pepr_gate("run", "--no-store", "--mlflow", cwd=folder, timeout=180,
                     env=_env(MLFLOW_TRACKING_URI="sqlite:////proc/x.db"))
    took = time.monotonic() - started
    assert_exit(proc, 0, "warning: the runs were not logged to MLflow at sqlite:////proc/x.db")
    # MLflow retries opening the database for minutes; the export stops at its deadline
    # (3 x timeout_s + 15 s) and none of MLflow's, SQLAlchemy's or alembic's lines show.
    assert took < 60, f"the export held the run for {took:.0f} s"
    assert [ln for ln in proc.stderr.splitlines() if ln.strip()] == [
        ln for ln in proc.stderr.splitlines() if ln.startswith("pepr-gate: ")], proc.stderr
    assert "SQLAlchemy" not in proc.stderr and "retried" not in proc.stderr
    # Not stored: the warning names the record file, never "stored as usual".
    record = next((folder / ".pepr" / "runs").glob("*.json"))
    assert "they were not stored (--no-store); their record is in " in proc.stderr
    assert record.name in proc.stderr and "stored as usual" not in proc.stderr


def test_check_mlflow_tags_the_verdict_without_a_config_table(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    folder = _project(tmp_path)
    assert_exit(pepr_gate("run", "--mlflow", cwd=folder, env=_env(MLFLOW_TRACKING_URI=uri),
                          timeout=180), 0)
    plain = pepr_gate("check", cwd=folder, env=_env(MLFLOW_TRACKING_URI=uri), timeout=180)
    assert plain.returncode in (0, 1) and "tagged" not in plain.stderr  # off without --mlflow
    check = pepr_gate("check", "--mlflow", cwd=folder, env=_env(MLFLOW_TRACKING_URI=uri),
                      timeout=180)
    assert check.returncode in (0, 1), check.stderr
    assert "tagged 1 MLflow run(s)" in check.stderr
    assert _runs(uri)[0].data.tags["pepr_gate.verdict"] in ("pass", "warn", "inconclusive",
                                                            "fail")
