"""The layout's rules, checked on the source: imports flow one way, functions stay small.

Packages follow the data flow (docs/architecture.md):
top < measure < store < decide < leaderboard < publish < services < commands.
A module may import its own layer and the layers before it, never a later one; on top
of that, decide never imports measure (a decision needs no hardware) and store imports
only the top modules. Every import counts: at module level, inside functions (the lazy
ones) and under TYPE_CHECKING. The import graph has no cycles, and modules (<= 330 lines)
and functions (<= 60 lines) stay small.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "pepr_gate"
LAYERS = ("top", "measure", "store", "decide", "leaderboard", "publish", "services",
          "commands")
# Pairs the order alone would allow but the architecture forbids: (importer, imported).
FORBIDDEN = {("decide", "measure"), ("store", "measure")}
# Grade C (cyclomatic complexity up to 20) or better, as `radon cc -nd pepr_gate` checks.
MAX_COMPLEXITY = 20


def layer_of(module: str) -> str:
    """`pepr_gate.publish.github.api` -> publish; the entry points sit with commands."""
    parts = module.split(".")
    if len(parts) < 2:
        return "top"
    if parts[1] in ("cli", "__main__"):
        return "commands"
    return parts[1] if parts[1] in LAYERS else "top"


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every pepr_gate import in the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from pepr_gate import units` imports pepr_gate.units
            base = node.module
            found += [(node.lineno, f"{base}.{a.name}" if base == "pepr_gate" else
                       _submodule(base, a.name)) for a in node.names]
    return [(line, name) for line, name in found if name.split(".")[0] == "pepr_gate"]


def _submodule(base: str, name: str) -> str:
    """`from pepr_gate.commands import run` imports the module `pepr_gate.commands.run`:
    the arrow points at that module, not only at its package; a name defined in the
    package's `__init__` stays an arrow to the package."""
    path = PACKAGE.parent.joinpath(*base.split("."), name)
    if path.with_suffix(".py").is_file() or (path / "__init__.py").is_file():
        return f"{base}.{name}"
    return base


SOURCES = sorted(PACKAGE.rglob("*.py"))


def violations(path: Path) -> list[str]:
    mine = layer_of(module_name(path))
    out = []
    for line, target in imports(path):
        theirs = layer_of(target)
        if LAYERS.index(theirs) > LAYERS.index(mine) or (mine, theirs) in FORBIDDEN:
            out.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {mine} imports "
                       f"{target} ({theirs})")
    return out


def test_imports_flow_one_way() -> None:
    assert len(SOURCES) > 50
    broken = [v for path in SOURCES for v in violations(path)]
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize(("source", "bad"), [
    ("from pepr_gate.publish.markdown import render_markdown\n", True),
    ("def f():\n    from pepr_gate.commands import run\n", True),
    ("from pepr_gate.measure.meter import nvml\n", True),  # decide never imports meters
    ("from pepr_gate import units\nfrom pepr_gate.records import RunRecord\n", False),
    ("from pepr_gate.decide import stats\n", False),
])
def test_the_rule_checker_catches_a_wrong_import(tmp_path: Path, source: str, bad: bool,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "pepr_gate" / "decide" / "x.py"
    fake.parent.mkdir(parents=True)
    fake.write_text(source, encoding="utf-8")
    monkeypatch.setattr(f"{__name__}.PACKAGE", tmp_path / "pepr_gate")
    assert bool(violations(fake)) is bad


def test_the_cli_imports_every_command_it_offers() -> None:
    """cli.py imports each command module by name (no `importlib`), so the import graph
    has an arrow from the CLI to every command it offers and this test checks them."""
    from pepr_gate.cli import COMMANDS

    cli = PACKAGE / "cli.py"
    targets = {target for _, target in imports(cli)}
    missing = {f"pepr_gate.commands.{name}" for name in COMMANDS} - targets
    assert not missing, f"cli.py offers these commands without importing them: {missing}"
    assert "import_module" not in cli.read_text(encoding="utf-8")
    assert layer_of("pepr_gate.cli") == "commands" and not violations(cli)


# Known offenders owned by work in progress elsewhere; each entry must name its function.
# The list may only shrink.
PENDING: set[str] = set()


def test_no_function_is_more_complex_than_grade_c() -> None:
    from radon.complexity import cc_visit

    too_complex = []
    for path in SOURCES:
        rel = path.relative_to(PACKAGE.parent).as_posix()
        for block in cc_visit(path.read_text(encoding="utf-8")):
            if block.complexity > MAX_COMPLEXITY and f"{rel}:{block.name}" not in PENDING:
                too_complex.append(f"{rel}:{block.lineno} {block.name}: {block.complexity}")
    assert not too_complex, "split these into smaller functions:\n" + "\n".join(too_complex)


def test_no_rule_in_decide_is_above_complexity_15() -> None:
    """The gate's rules stay small enough to read at a glance (issue 9)."""
    from radon.complexity import cc_visit

    too_complex = [
        f"{path.name}:{block.lineno} {block.name}: {block.complexity}"
        for path in SOURCES if path.parent.name == "decide"
        for block in cc_visit(path.read_text(encoding="utf-8")) if block.complexity > 15
    ]
    assert not too_complex, "split these into smaller functions:\n" + "\n".join(too_complex)


def import_graph() -> dict[str, set[str]]:
    """module -> the pepr_gate modules it imports (every import: top level, lazy,
    TYPE_CHECKING; `from pkg import module` points at the module)."""
    return {module_name(path): {target for _, target in imports(path)
                                if target != module_name(path)} for path in SOURCES}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of two or more modules, each sorted (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_import_graph_has_no_cycles() -> None:
    graph = import_graph()
    assert "pepr_gate.records.load" in graph["pepr_gate.records"]
    circles = cycles(graph)
    assert not circles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in circles)


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


MAX_MODULE_LINES = 330
MAX_FUNCTION_LINES = 60


def too_long(path: Path) -> list[str]:
    """The module if it has more than MAX_MODULE_LINES lines, and every function (method,
    nested function) longer than MAX_FUNCTION_LINES: end_lineno - lineno + 1 with ast, from
    the `def` line (decorators not counted) to the body's last line."""
    text = path.read_text(encoding="utf-8")
    rel = path.relative_to(PACKAGE.parent).as_posix()
    out = []
    lines = len(text.splitlines())
    if lines > MAX_MODULE_LINES:
        out.append(f"{rel}: {lines} lines (at most {MAX_MODULE_LINES}): split it")
    for node in ast.walk(ast.parse(text, str(path))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                out.append(f"{rel}:{node.lineno} {node.name}: {length} lines "
                           f"(at most {MAX_FUNCTION_LINES})")
    return out


def test_modules_and_functions_stay_small() -> None:
    found = [problem for path in SOURCES for problem in too_long(path)]
    assert not found, "\n".join(found)


def test_the_size_checker_catches_a_long_module_and_function(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(f"{__name__}.PACKAGE", tmp_path / "pepr_gate")
    fake = tmp_path / "pepr_gate" / "x.py"
    fake.parent.mkdir(parents=True)
    body = "".join(f"    a{i} = {i}\n" for i in range(MAX_FUNCTION_LINES))
    fake.write_text(f"def long():\n{body}\n\ndef short():\n    return 1\n", encoding="utf-8")
    assert [p.split(" ")[1] for p in too_long(fake)] == ["long:"]
    fake.write_text("x = 1\n" * (MAX_MODULE_LINES + 1), encoding="utf-8")
    assert len(too_long(fake)) == 1
    fake.write_text("x = 1\n" * MAX_MODULE_LINES, encoding="utf-8")
    assert too_long(fake) == []


MAX_TOP_MODULES = 8  # issue 22: what stays at the package top is what every layer shares


def test_few_modules_at_the_package_top() -> None:
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= MAX_TOP_MODULES, (
        f"{len(top)} modules at the package top (at most {MAX_TOP_MODULES}): {top}; move "
        "one into the package of the layer that owns it")
