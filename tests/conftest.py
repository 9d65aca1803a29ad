"""Shared fixtures. `make_record` builds valid, realistic run records (tests/factories.py)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pepr_gate.records import RunRecord

try:  # tests/ is a rootdir-relative package only if someone adds tests/__init__.py
    from tests.factories import make_record as _make_record
except ImportError:
    from factories import make_record as _make_record  # type: ignore[no-redef]

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "pepr-gate tests",
    "GIT_AUTHOR_EMAIL": "tests@pepr-gate.invalid",
    "GIT_COMMITTER_NAME": "pepr-gate tests",
    "GIT_COMMITTER_EMAIL": "tests@pepr-gate.invalid",
}


@pytest.fixture
def make_record() -> Callable[..., RunRecord]:
    """`make_record(**overrides)`: a valid RunRecord, see tests/factories.py for shortcuts."""
    return _make_record


@pytest.fixture
def git_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """An environment where git has an identity and ignores the user's global config."""
    home = tmp_path / "home"
    home.mkdir()
    env: dict[str, Any] = {**GIT_IDENTITY, "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("GIT_DIR", raising=False)
    monkeypatch.delenv("GIT_WORK_TREE", raising=False)
    yield dict(os.environ)


# What `make check` (the contributor's loop of about a minute: -m "not slow and not browser
# and not postgres") leaves to `make test`, marked `slow` here rather than in each file:
# files whose tests each run a whole CI job, ab session or Prometheus-metered run end to
# end, and single tests that took 15 s or more in a whole-suite run under load
# (`pytest --durations`, see docs/development.md). `make test` and .ci/run still run them.
SLOW_FILES = frozenset({
    "test_ci_cmd.py", "test_ci_adaptive.py", "test_ci_history.py", "test_prometheus.py",
    "test_dashboard_ci.py", "test_ab_cmd.py",
})
SLOW_TESTS = frozenset({
    "test_reliability_inputs.py::test_out_of_range_records_are_refused_naming_the_field",
    "test_reliability_inputs.py::test_closing_stdout_early_keeps_the_exit_code",
    "test_gpu_check.py::test_without_a_gpu_it_says_so_in_one_json_line_and_exits_2",
    "test_store_git.py::test_four_concurrent_writers_lose_nothing",
    "test_reliability_files.py::test_the_same_candidate_file_three_times_is_one_run",
    "test_store_sql.py::test_eight_concurrent_processes_all_land",
    "test_store_sql.py::test_baseline_query_on_100k_runs_takes_milliseconds",
    "test_reliability_stages.py::"
    "test_a_signal_during_the_job_keeps_the_record_and_says_how_to_import_it",
    "test_init_cmd.py::test_init_writes_a_config_that_run_accepts",
    "test_plot.py::test_derma_pt_profile_labels_do_not_overlap",
    "test_reliability_comment.py::test_field_names_from_the_file_cannot_start_a_workflow_command",
})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        name = getattr(item, "originalname", item.name)
        if item.path.name in SLOW_FILES or f"{item.path.name}::{name}" in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)
