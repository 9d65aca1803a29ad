"""The README is a front page and its links work; the exit codes are listed in one place.
(The MkDocs site itself is checked by `mkdocs build --strict` in `make test`.)"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
LINK = re.compile(r"\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    text = re.sub(r"[^\w\s-]", "", heading.strip().lower())
    return re.sub(r"\s", "-", text)


def anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    return {slug(m) for m in re.findall(r"^#{1,6} (.+)$", text, re.M)}


def test_readme_is_a_front_page() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 250
    # The first screen shows the comment; the workflow step and the two commands follow.
    assert text.index("docs/img/pr-comment.png") < text.index("uses: OWNER/pepr-gate@v1")
    assert "make demo" in text and "make test" in text


def test_readme_links_resolve() -> None:
    for target in LINK.findall(README.read_text(encoding="utf-8")):
        if target.startswith(("http://", "https://")):
            continue
        path, _, anchor = target.partition("#")
        assert (ROOT / path).exists(), f"README links to missing {path}"
        if anchor:
            assert anchor in anchors(ROOT / path), f"README links to missing #{anchor} in {path}"


def test_every_docs_page_is_in_the_nav() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))

    def pages(nav: object) -> set[str]:
        if isinstance(nav, str):
            return {nav}
        if isinstance(nav, list):
            return set().union(*(pages(x) for x in nav))
        if isinstance(nav, dict):
            return set().union(*(pages(x) for x in nav.values()))
        return set()

    listed = pages(config["nav"])
    assert {p.name for p in (ROOT / "docs").glob("*.md")} == listed
    assert config["theme"]["font"] is False  # no Google Fonts: builds and reads offline


def test_exit_codes_are_listed_in_one_place() -> None:
    # A table row for the internal-error code appears in exactly one page.
    found = [p.name for p in [README, *(ROOT / "docs").glob("*.md")]
             if re.search(r"^\| 4 \| internal error", p.read_text(encoding="utf-8"), re.M)]
    assert found == ["commands.md"]


def test_the_complete_example_config_loads_and_names_every_section(tmp_path: Path) -> None:
    """docs/configuration.md calls its example complete: it must load, and every section
    of the config model must appear in it."""
    from pepr_gate.config import Config, load_config

    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    block = re.search(r"```toml\n(.*?)```", page, re.S)
    assert block is not None
    (tmp_path / "pepr.toml").write_text(block.group(1), encoding="utf-8")
    load_config(str(tmp_path / "pepr.toml"))
    for section in Config.model_fields:
        if section not in ("root", "source"):
            assert f"[{section}" in block.group(1), section
