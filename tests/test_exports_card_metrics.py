"""`report --model-card` read back by huggingface_hub, and `history --format openmetrics`
parsed by prometheus_client and scraped by the real Prometheus (docs/integrations.md)."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

import httpx
import pytest
from factories import make_record
from harness import assert_exit, pepr_gate
from prometheus_server import free_port, prometheus_binary

from pepr_gate.publish.exports.model_card import merge_front_matter
from pepr_gate.publish.exports.openmetrics import CONTENT_TYPE, render
from pepr_gate.records import GpuInfo, Hardware
from pepr_gate.store import open_store

CARD = """---
language: en
license: apache-2.0
# a comment the owner wrote
tags:
- image-classification
co2_eq_emissions:
  emissions: 1.0
  training_type: "pre-training"

datasets:
- digits
---

# digits-cnn

A small CNN. The body stays exactly as written.
"""


def _store(tmp_path: Path, *records: Any) -> str:
    url = f"sqlite:///{tmp_path / 'history.db'}"
    with open_store(url, root=tmp_path) as store:
        for record in records:
            store.append(record)
    return url


def _gpu_record(**kw: Any) -> Any:
    hw = Hardware(cpu_model="Intel Xeon Gold 6338", cpu_count=64, ram_bytes=2**38,
                  platform="Linux", fingerprint="hw-1",
                  gpus=[GpuInfo(index=i, name="NVIDIA A100-SXM4-40GB") for i in range(2)])
    record = make_record(hardware=hw, **kw)
    res = record.resources.model_copy(update={
        "carbon_kg": 0.0123, "carbon_source": "codecarbon global_energy_mix: Denmark, 2022"})
    return record.model_copy(update={"resources": res})


def test_model_card_merges_into_front_matter_and_huggingface_reads_it(tmp_path: Path) -> None:
    from huggingface_hub import ModelCard, metadata_load

    record = _gpu_record()
    url = _store(tmp_path, record)
    card = tmp_path / "README.md"
    card.write_text(CARD, encoding="utf-8")
    proc = pepr_gate("report", "--model-card", record.id, "--store", url, "--update", str(card),
                     cwd=tmp_path)
    assert_exit(proc, 0)
    assert "co2_eq_emissions:\n  emissions: 12.3\n" in proc.stdout
    assert "Training and evaluating this model used" in proc.stdout
    meta = metadata_load(card)
    assert meta is not None
    co2 = meta["co2_eq_emissions"]
    assert co2["emissions"] == pytest.approx(12.3)
    assert co2["source"].startswith("pepr-gate ")
    assert co2["geographical_location"] == "Denmark"
    assert co2["hardware_used"] == "2 x NVIDIA A100-SXM4-40GB"
    assert co2["training_type"] == "pre-training"  # the owner's value stays
    assert meta["license"] == "apache-2.0" and meta["datasets"] == ["digits"]
    text = card.read_text(encoding="utf-8")
    assert "# a comment the owner wrote\n" in text
    assert text.endswith(CARD.split("---\n", 2)[2])  # the body, byte for byte
    assert ModelCard.load(card).data.co2_eq_emissions["emissions"] == pytest.approx(12.3)


def test_model_card_from_a_record_file_sets_training_type_and_prints_only(
        tmp_path: Path) -> None:
    record = _gpu_record()
    path = tmp_path / "run.json"
    path.write_text(record.to_json(), encoding="utf-8")
    proc = pepr_gate("report", "--model-card", str(path), "--training-type", "fine-tuning",
                     cwd=tmp_path)
    assert_exit(proc, 0)
    assert '  training_type: "fine-tuning"\n' in proc.stdout
    assert proc.stdout.startswith("---\nco2_eq_emissions:\n")


def test_a_card_without_front_matter_gets_one_and_crlf_is_kept() -> None:
    block = "co2_eq_emissions:\n  emissions: 2.5\n"
    assert merge_front_matter("# model\n", block) == f"---\n{block}---\n# model\n"
    crlf = "---\r\nlicense: mit\r\n---\r\nbody\r\n"
    merged = merge_front_matter(crlf, block)
    assert merged == ("---\r\nlicense: mit\r\nco2_eq_emissions:\r\n  emissions: 2.5\r\n"
                      "---\r\nbody\r\n")


@pytest.mark.parametrize(("setup", "needle"), [
    ("failed", "failed: it has no emissions to report"),
    ("nocarbon", "has no carbon figure"),
    ("unknown", "neither a run record file nor a run id"),
    ("unclosed", "front matter has no closing '---' line"),
])
def test_model_card_bad_input_exits_2(tmp_path: Path, setup: str, needle: str) -> None:
    record = make_record(status="failed") if setup == "failed" else make_record()
    if setup == "nocarbon":
        record = record.model_copy(update={
            "resources": record.resources.model_copy(update={"carbon_kg": None})})
    url = _store(tmp_path, record)
    card = tmp_path / "README.md"
    card.write_text("---\nlicense: mit\n# no end\n", encoding="utf-8")
    ref = "nope" if setup == "unknown" else record.id
    args = ["--update", str(card)] if setup == "unclosed" else []
    proc = pepr_gate("report", "--model-card", ref, "--store", url, *args, cwd=tmp_path)
    assert_exit(proc, 2, needle)
    assert card.read_text(encoding="utf-8") == "---\nlicense: mit\n# no end\n"


BLOCK = "co2_eq_emissions:\n  emissions: 12.3\n"


def test_a_card_with_a_byte_order_mark_keeps_one_front_matter() -> None:
    import yaml

    merged = merge_front_matter("\ufeff---\nlicense: mit\n---\n# m\n", BLOCK)
    assert merged == "\ufeff---\nlicense: mit\nco2_eq_emissions:\n  emissions: 12.3\n---\n# m\n"
    meta = yaml.safe_load(merged.lstrip("\ufeff").split("---\n")[1])
    assert meta == {"license": "mit", "co2_eq_emissions": {"emissions": 12.3}}


@pytest.mark.parametrize("old", [
    "co2_eq_emissions: {emissions: 5, training_type: fine-tuning}\n",
    "co2_eq_emissions:\n  emissions: 5\n  training_type: fine-tuning\n",
])
def test_the_owners_training_type_stays_in_block_and_flow_style(old: str) -> None:
    import yaml

    merged = merge_front_matter(f"---\nlicense: mit\n{old}tags: [a]\n---\nbody\n", BLOCK)
    meta = yaml.safe_load(merged.split("---\n")[1])
    assert meta == {"license": "mit", "tags": ["a"],
                    "co2_eq_emissions": {"emissions": 12.3, "training_type": "fine-tuning"}}
    assert merged.endswith("---\nbody\n")


def test_a_zero_indented_sequence_under_the_key_is_replaced_whole() -> None:
    import yaml

    merged = merge_front_matter("---\nco2_eq_emissions:\n- 1\n- 2\nlicense: mit\n---\n", BLOCK)
    assert yaml.safe_load(merged.split("---\n")[1]) == {
        "co2_eq_emissions": {"emissions": 12.3}, "license": "mit"}
    assert "- 1" not in merged


@pytest.mark.parametrize(("front", "needle"), [
    ("- a\n- b\n", "line 2: the card's front matter is a YAML list, not a mapping"),
    ("license: mit\ntags: [a\n", "line 4: the card's front matter is not valid YAML"),
    ("license: mit\nco2_eq_emissions: 1\nco2_eq_emissions: {emissions: 2}\n",
     "line 3: co2_eq_emissions cannot be replaced safely"),
])
def test_front_matter_that_cannot_be_edited_safely_exits_2_unchanged(
        tmp_path: Path, front: str, needle: str) -> None:
    path = tmp_path / "run.json"
    path.write_text(_gpu_record().to_json(), encoding="utf-8")
    card = tmp_path / "README.md"
    card.write_text(f"---\n{front}---\nbody\n", encoding="utf-8")
    proc = pepr_gate("report", "--model-card", str(path), "--update", str(card), cwd=tmp_path)
    assert_exit(proc, 2, f"{card}: {needle}")
    assert card.read_text(encoding="utf-8") == f"---\n{front}---\nbody\n"


def test_a_card_linked_into_an_unwritable_folder_exits_2_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    path.write_text(_gpu_record().to_json(), encoding="utf-8")
    (tmp_path / "procl.md").symlink_to("/proc/version")
    proc = pepr_gate("report", "--model-card", str(path), "--update", "procl.md", cwd=tmp_path)
    assert_exit(proc, 2, "procl.md (a link to /proc/version): cannot write the card")
    assert "internal error" not in proc.stderr


def test_history_openmetrics_gives_the_newest_ok_run_per_branch(tmp_path: Path) -> None:
    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    old = make_record(branch="main", performance=0.80)
    new = make_record(branch="main", performance=0.91)
    failed = make_record(branch="main", status="failed")
    feature = make_record(branch='feat/"quoted"\\x', performance=0.85)
    url = _store(tmp_path, old, new, failed, feature)
    proc = pepr_gate("history", "--all-branches", "--format", "openmetrics", "--store", url,
                     cwd=tmp_path)
    assert_exit(proc, 0)
    families = {f.name: f for f in text_string_to_metric_families(proc.stdout)}
    perf = {s.labels["branch"]: s.value for s in families["pepr_gate_performance"].samples}
    assert perf == {"main": pytest.approx(0.91), 'feat/"quoted"\\x': pytest.approx(0.85)}
    energy = families["pepr_gate_energy_joules"]
    assert energy.unit == "joules"
    assert energy.samples[0].value == pytest.approx(0.0084 * 3.6e6)
    info = {s.labels["branch"]: s.labels for s in families["pepr_gate_run_info"].samples}
    assert info["main"]["run_id"] == new.id
    assert proc.stdout.endswith("# EOF\n")


def test_history_openmetrics_refuses_failed_runs_and_reports_skipped_values(
        tmp_path: Path) -> None:
    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    huge = make_record(branch="main", performance=0.9)
    huge = huge.model_copy(update={
        "resources": huge.resources.model_copy(update={"energy_kwh": 1e307})})
    url = _store(tmp_path, huge, make_record(branch="dev", status="failed"))
    failed = pepr_gate("history", "--all-branches", "--status", "failed", "--format",
                       "openmetrics", "--store", url, cwd=tmp_path)
    assert_exit(failed, 2, "--status failed cannot go with --format openmetrics")
    assert failed.stdout == ""
    proc = pepr_gate("history", "--all-branches", "--format", "openmetrics", "--store", url,
                     cwd=tmp_path)
    assert_exit(proc, 0, "warning: pepr_gate_energy_joules of run "
                f"{huge.id} (branch main) is inf, not a finite number; left out")
    families = {f.name for f in text_string_to_metric_families(proc.stdout)}
    assert "pepr_gate_energy_joules" not in families and "pepr_gate_performance" in families


def test_a_built_dashboard_holds_a_parseable_openmetrics_file(tmp_path: Path) -> None:
    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    older = make_record(branch="main", performance=0.8)
    main_run = make_record(branch="main", performance=0.91)
    url = _store(tmp_path, older, main_run, make_record(branch="dev", performance=0.7))
    out = tmp_path / "site"
    assert_exit(pepr_gate("dashboard", "--store", url, "--out", str(out), cwd=tmp_path), 0)
    text = (out / "data" / "openmetrics.txt").read_text(encoding="utf-8")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    perf = {s.labels["branch"]: s.value for s in families["pepr_gate_performance"].samples}
    assert perf == {"main": pytest.approx(0.91), "dev": pytest.approx(0.7)}
    info = {s.labels["branch"]: s.labels for s in families["pepr_gate_run_info"].samples}
    assert info["main"]["run_id"] == main_run.id
    # The same exposition as `history --format openmetrics` gives from the full records.
    history = pepr_gate("history", "--all-branches", "--format", "openmetrics", "--store", url,
                        cwd=tmp_path)
    assert_exit(history, 0)
    assert text == history.stdout


def test_an_empty_store_gives_an_empty_exposition(tmp_path: Path) -> None:
    assert render([]) == "# EOF\n"


class _Serve(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def served() -> Iterator[tuple[ThreadingHTTPServer, type[_Serve]]]:
    handler = type("Handler", (_Serve,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    Thread(target=server.serve_forever, daemon=True).start()
    yield server, handler
    server.shutdown()
    server.server_close()


def test_prometheus_scrapes_the_exposition(served: Any) -> None:
    binary = prometheus_binary()
    if binary is None:
        if os.environ.get("PEPR_REQUIRE_PROMETHEUS"):
            pytest.fail("prometheus is not installed (.ci/prometheus.sh installs it)")
        pytest.skip("prometheus is not installed")
    server, handler = served
    handler.body = render([make_record(branch="main", performance=0.9),
                           make_record(branch="dev", performance=0.7)]).encode()
    folder = Path(tempfile.mkdtemp(prefix="pepr-om-"))
    port = free_port()
    (folder / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n"
        f"  - job_name: pepr\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{server.server_port}']\n")
    proc = subprocess.Popen(
        [binary, f"--config.file={folder / 'prometheus.yml'}",
         f"--storage.tsdb.path={folder / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
         "--log.level=warn"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        values: dict[str, float] = {}
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and len(values) < 2:
            time.sleep(1)
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/api/v1/query",
                                   params={"query": "pepr_gate_performance"}, timeout=2).json()
            except (httpx.HTTPError, ValueError):
                continue
            values = {r["metric"]["branch"]: float(r["value"][1])
                      for r in answer.get("data", {}).get("result", [])}
        assert values == {"main": pytest.approx(0.9), "dev": pytest.approx(0.7)}
        up = httpx.get(f"http://127.0.0.1:{port}/api/v1/query", params={"query": "up"},
                       timeout=2).json()["data"]["result"]
        assert up[0]["value"][1] == "1"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
