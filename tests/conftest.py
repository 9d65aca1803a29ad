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
