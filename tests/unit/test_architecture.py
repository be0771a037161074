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
