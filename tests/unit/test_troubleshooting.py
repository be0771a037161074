"""docs/troubleshooting.md explains exactly the reasons the code can write: every Ready
reason and every Event reason has a section, and no section names a reason the code no
longer has."""

import ast
import re
from pathlib import Path

from werfop.core import names
from werfop.core.timeline import EVENT_REASONS

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "troubleshooting.md"


def _sections(title: str) -> set[str]:
    text = DOC.read_text()
    part = text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^### (\w+)$", part, flags=re.MULTILINE))


def _verdict_reasons() -> set[str]:
    """Every ``reason=`` literal of a ``Verdict(...)`` in the core: the Ready reasons."""
    found = set()
    for path in (ROOT / "src" / "werfop" / "core").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Verdict":
                for keyword in node.keywords:
                    if keyword.arg == "reason" and isinstance(keyword.value, ast.Constant):
                        found.add(keyword.value.value)
    return found


def test_the_list_of_ready_reasons_is_the_code_s():
    assert _verdict_reasons() == set(names.READY_REASONS)


def test_every_ready_reason_has_a_section_and_no_other():
    assert set(names.READY_REASONS) == _sections("Ready reasons")


def test_every_event_reason_has_a_section_and_no_other():
    assert set(EVENT_REASONS) == _sections("Events")


def test_the_event_reasons_are_the_timeline_s_event_types():
    from werfop.core import timeline

    with_events = set()
    for name in dir(timeline):
        cls = getattr(timeline, name)
        if isinstance(cls, type) and "event" in vars(cls) and name != "_Entry":
            with_events.add(name)
    assert {"PhaseChanged"} | {r for r in EVENT_REASONS if not r.startswith("Phase")} == with_events
