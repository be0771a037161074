"""The hexagon's import rules, enforced by an AST scan (a convention would rot)."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "werfop"
FORBIDDEN_IN_CORE = {
    "kubernetes",
    "httpx",
    "logging",
    "socket",
    "threading",
    "time",
    "random",
    "os",
    "subprocess",
    "asyncio",
    "werfop.runtime",
    "werfop.adapters",
    "werfop.api",
    "werfop.main",
}
# Which werfop packages each layer may import.
ALLOWED = {
    "core": {"werfop.core"},
    "api": {"werfop.core", "werfop.api"},
    "runtime": {"werfop.core", "werfop.api", "werfop.runtime"},
    "adapters": {"werfop.core", "werfop.api", "werfop.adapters"},
}


def _imports(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, node.lineno))
    return found


def _calls_datetime_now(path: Path) -> list[int]:
    tree = ast.parse(path.read_text())
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("now", "utcnow", "today"):
            base = node.value
            name = base.id if isinstance(base, ast.Name) else getattr(base, "attr", "")
            if name in ("datetime", "date"):
                lines.append(node.lineno)
    return lines


def _files(layer: str) -> list[Path]:
    return sorted((SRC / layer).rglob("*.py"))


@pytest.mark.parametrize("path", _files("core"), ids=lambda p: p.name)
def test_core_imports_no_io_or_ambient_state(path):
    bad = [
        (name, line)
        for name, line in _imports(path)
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN_IN_CORE)
    ]
    assert [] == bad


@pytest.mark.parametrize("path", _files("core"), ids=lambda p: p.name)
def test_core_never_reads_ambient_time(path):
    assert [] == _calls_datetime_now(path)


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layers_import_only_inward(layer):
    bad = []
    for path in _files(layer):
        for name, line in _imports(path):
            if name.startswith("werfop.") and not any(
                name == a or name.startswith(a + ".") for a in ALLOWED[layer]
            ):
                bad.append(f"{path.relative_to(SRC)}:{line} imports {name}")
    assert [] == bad


def test_scan_detects_a_forbidden_import(tmp_path):
    # The scan itself must be able to fail.
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nfrom datetime import datetime\nx = datetime.now()\n")
    assert ("os", 1) in _imports(sample)
    assert [3] == _calls_datetime_now(sample)


def _core_edges(path: Path) -> set[str]:
    """The core modules ``path`` imports, ``from werfop.core import a`` and imports
    under ``TYPE_CHECKING`` included (a cycle hidden there is still a cycle)."""
    modules = {p.stem for p in _files("core")}
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "werfop.core":
                found |= {a.name for a in node.names if a.name in modules}
            elif node.module.startswith("werfop.core."):
                found.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[2] for a in node.names if a.name.startswith("werfop.core.")}
    return found - {path.stem}


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle of ``graph`` (module -> modules it imports), or []."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = "open"
        stack.append(node)
        for other in sorted(graph.get(node, ())):
            if state.get(other) == "open":
                return [*stack[stack.index(other) :], other]
            if other not in state and (found := visit(other)):
                return found
        state[node] = "done"
        stack.pop()
        return []

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return []


def test_core_modules_import_each_other_without_a_cycle():
    graph = {p.stem: _core_edges(p) for p in _files("core") if p.stem != "__init__"}
    assert "reconcile" not in set().union(*graph.values())  # the fold imports, nobody else
    assert [] == _cycle(graph)


def test_the_cycle_check_can_fail():
    assert ["a", "b", "a"] == _cycle({"a": {"b"}, "b": {"a"}})
    assert [] == _cycle({"a": {"b"}, "b": set()})


def test_no_module_imports_a_private_name_of_another():
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    private = alias.name.startswith("_") and not alias.name.endswith("__")
                    if private and node.module.startswith("werfop"):
                        bad.append(f"{path.relative_to(SRC)}:{node.lineno} {alias.name}")
    assert [] == bad
