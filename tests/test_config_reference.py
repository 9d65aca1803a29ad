"""docs/configuration.md's key tables: written from the config models by
scripts/config_reference.py, so a new key or a changed default shows up there or fails."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from pydantic import BaseModel, Field

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "config_reference.py"
PAGE = ROOT / "docs" / "configuration.md"


def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("config_reference", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_page_is_what_the_script_writes() -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--check"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_every_key_of_every_section_has_a_row() -> None:
    from pepr_gate.config import Config

    page = PAGE.read_text(encoding="utf-8")
    tables = dict(re.findall(r"#### `\[+([\w.]+)\]+`\n\n(.*?)\n\n", page, re.S))

    def walk(model: type[BaseModel], path: str) -> None:
        for name, field in model.model_fields.items():
            if field.exclude:
                continue
            sub = script()._model_of(field.annotation)
            if path:
                assert re.search(rf"^\| `{name}` \| [^|]", tables[path], re.M), (path, name)
            if sub is not None:
                walk(sub, f"{path}.{name}" if path else name)

    walk(Config, "")
    assert "| `max_pepr_drop` | number from 0, under 1 | `0.05` |" in tables["gate"]
    assert '| `repeats` | integer from 1 to 100, or `"auto"` | `1` |' in tables["run"]


def test_a_stale_table_fails_the_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = script()
    page = tmp_path / "configuration.md"
    page.write_text(PAGE.read_text(encoding="utf-8").replace("| `window` | integer >= 1 | `5`",
                                                             "| `window` | integer | `3`"))
    monkeypatch.setattr(module, "PAGE", page)
    assert module.main(["--check"]) == 1
    assert module.main([]) == 0  # rewriting brings it back
    assert module.main(["--check"]) == 0
    assert page.read_text(encoding="utf-8") == PAGE.read_text(encoding="utf-8")


def test_a_key_without_a_meaning_stops_the_script() -> None:
    module = script()

    class Section(BaseModel):
        documented: int = Field(default=1, description="has a meaning")
        forgotten: int = 2

    class Top(BaseModel):
        extra: Section = Section()

    with pytest.raises(module.MissingMeaning, match=r"\[extra\] forgotten has no meaning"):
        module.sections(Top)


    class Documented(BaseModel):
        extra: Section = Field(default_factory=Section, description="the section")

    Section.model_fields["forgotten"].description = "now it has one"
    rows = module.sections(Documented)[0][1]
    assert [row[3] for row in rows] == ["has a meaning", "now it has one"]


def test_the_example_lines_are_not_clipped() -> None:
    block = re.search(r"```toml\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.S)
    assert block is not None
    assert max(map(len, block.group(1).splitlines())) <= 84
