"""The release: the tag, the package version and CHANGELOG.md must agree before anything
is published, and the release notes carry install lines that can be pasted as they are."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "release.py"
WORKFLOW = ROOT / ".github" / "workflows" / "release.yml"


def release() -> ModuleType:
    spec = importlib.util.spec_from_file_location("release", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the two files a release reads, with this version dated."""
    (tmp_path / "pepr_gate").mkdir()
    shutil.copy(ROOT / "pepr_gate" / "__init__.py", tmp_path / "pepr_gate")
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    version = release().package_version()
    text = re.sub(rf"^## \[{re.escape(version)}\] - .*$", f"## [{version}] - 2027-01-15",
                  text, flags=re.M)
    (tmp_path / "CHANGELOG.md").write_text(text, encoding="utf-8")
    return tmp_path


def test_the_changelog_has_a_section_for_this_version() -> None:
    version = release().package_version()
    assert re.search(rf"^## \[{re.escape(version)}\] - ", (ROOT / "CHANGELOG.md").read_text(),
                     re.M)
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)


def test_a_dated_section_and_the_matching_tag_pass(tree: Path) -> None:
    mod = release()
    version = mod.package_version(tree)
    assert mod.check(f"v{version}", tree) == version


@pytest.mark.parametrize(("tag", "says"), [
    ("v0.0.1", "but pepr_gate/__init__.py says"),
    ("1.0.0", "is not vX.Y.Z"),
    ("v1.0", "is not vX.Y.Z"),
])
def test_a_tag_that_does_not_name_the_version_is_refused(tree: Path, tag: str,
                                                         says: str) -> None:
    mod = release()
    with pytest.raises(mod.ReleaseError, match=re.escape(says)):
        mod.check(tag, tree)


def test_an_undated_section_is_refused(tree: Path) -> None:
    mod = release()
    version = mod.package_version(tree)
    path = tree / "CHANGELOG.md"
    path.write_text(path.read_text().replace("- 2027-01-15", "- unreleased"))
    with pytest.raises(mod.ReleaseError, match="put the release date"):
        mod.check(f"v{version}", tree)


def test_the_notes_hold_pasteable_install_lines(tree: Path) -> None:
    mod = release()
    version = mod.package_version(tree)
    major = f"v{version.split('.')[0]}"
    text = mod.notes(f"v{version}", "Saints-Lab/pepr-gate", tree)
    assert "### Added" in text
    base = "https://github.com/Saints-Lab/pepr-gate"
    wheel = f"{base}/releases/download/v{version}/pepr_gate-{version}-py3-none-any.whl"
    assert f"- uses: Saints-Lab/pepr-gate@{major}\n" in text
    assert f"pipx install {wheel}\n" in text and f"uv tool install {wheel}\n" in text
    assert f"pip install 'pepr-gate @ git+{base}@v{version}'" in text
    assert f"docker pull ghcr.io/saints-lab/pepr-gate:{version}" in text  # lower case


def test_the_script_reports_a_refusal_on_stderr_with_exit_1() -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "check", "v0.0.0"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stderr.startswith("release: tag v0.0.0 but")


def test_the_workflow_publishes_files_image_and_major_tag() -> None:
    doc = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert doc[True] == {"push": {"tags": ["v[0-9]+.[0-9]+.[0-9]+"]}}
    assert doc["permissions"] == {}
    job = doc["jobs"]["release"]
    assert job["permissions"] == {"contents": "write", "packages": "write"}
    runs = "\n".join(step.get("run", "") for step in job["steps"])
    order = ["release.py check", "python -m build", "pepr-gate --version",
             "gh release create", "docker push", "git/refs/tags/$major"]
    positions = [runs.index(word) for word in order]
    assert positions == sorted(positions)  # nothing is published before the checks
    assert 'gh release create "$TAG" dist/*' in runs
    assert 'image="ghcr.io/${REPO,,}"' in runs  # GHCR refuses upper case
