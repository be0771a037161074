"""The day-2 CLI's shape, checked rather than hoped for: its rendering and decision
modules are pure (no I/O, no clock, no client), nothing in it drives the operator's
runtime, and a command that talks to the API server loads none of the Kubernetes
client's generated models (memory: the raw-JSON adapter is used instead)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

CLI = Path(__file__).resolve().parents[2] / "src" / "werfop" / "cli"
PURE = ("age.py", "events.py", "explain.py", "levers.py", "table.py")
NOT_IN_PURE = (
    "kubernetes",
    "werfop.adapters",
    "werfop.kubeconfig",
    "werfop.cli.bundles",
    "werfop.cli.commands",
    "werfop.cli.wait",
    "os",
    "sys",
    "time",
    "subprocess",
    "socket",
    "urllib3",
    "httpx",
)


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def reads_the_clock(path: Path) -> bool:
    return any(
        isinstance(node, ast.Attribute) and node.attr in ("now", "utcnow", "today")
        for node in ast.walk(ast.parse(path.read_text()))
    )


@pytest.mark.parametrize("name", PURE)
def test_rendering_and_lever_modules_are_pure(name):
    path = CLI / name
    bad = sorted(
        m for m in imports(path) if any(m == f or m.startswith(f + ".") for f in NOT_IN_PURE)
    )
    assert ([], False) == (bad, reads_the_clock(path))


def test_nothing_in_the_cli_imports_the_runtime():
    bad = {
        p.name: sorted(m for m in imports(p) if m.startswith("werfop.runtime"))
        for p in CLI.glob("*.py")
    }
    assert {} == {k: v for k, v in bad.items() if v}


def test_a_command_that_calls_the_api_loads_no_generated_model(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\n"
        'clusters: [{name: c, cluster: {server: "https://127.0.0.1:9"}}]\n'
        "users: [{name: u, user: {token: not-a-secret}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n"
    )
    program = (
        "import sys\nfrom werfop.main import main\n"
        f"code = main(['get', '--kubeconfig', {str(kubeconfig)!r}])\n"
        "print(code, sorted(m for m in sys.modules if m.startswith('kubernetes.client.models.')))"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)

    assert "1 []" == done.stdout.strip()  # the request was made (and failed): exit 1
    assert "the API server is unreachable" in done.stderr
