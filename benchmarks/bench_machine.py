"""How fast is this machine's Python? The calibration the other figures are read against.

The prior-art note (section D1) measured its own machine at an empty function call of
253-273 ns and a frozen 3-field dataclass of 3.7-4.1 us, and called it 5-11x slower than
a typical CI core, against the published 0.325 us for that dataclass on Python 3.12
(rednafi.com). This script measures the same operations here, so that a figure is
never excused by a machine speed that was measured somewhere else.

Usage: .venv/bin/python benchmarks/bench_machine.py
"""

from __future__ import annotations

import dataclasses
import timeit

import attrs
from common import header, table

PUBLISHED_FROZEN_DATACLASS_NS = 325.0  # Python 3.12, rednafi.com (prior-art D1)


def nanoseconds(statement: str, setup: str = "pass", number: int = 1_000_000) -> float:
    """Best of five runs, per call, in ns (the least disturbed by neighbours)."""
    runs = timeit.repeat(statement, setup, repeat=5, number=number, globals=globals())
    return min(runs) / number * 1e9


@dataclasses.dataclass(frozen=True)
class FrozenDataclass:
    a: int
    b: int
    c: int


@attrs.frozen
class FrozenAttrs:
    a: int
    b: int
    c: int


def main() -> None:
    header("Machine calibration: CPython micro-operations, best of 5")
    empty = nanoseconds("f()", "def f(): pass", number=5_000_000)
    frozen = nanoseconds("FrozenDataclass(1, 2, 3)")
    rows = [
        ("empty function call", empty, "253-273 ns on the prior-art machine"),
        ("frozen 3-field dataclass", frozen, "3,700-4,100 ns there; 325 ns published"),
        ("frozen 3-field attrs class", nanoseconds("FrozenAttrs(1, 2, 3)"), ""),
        ("dict of 3 keys", nanoseconds("{'a': 1, 'b': 2, 'c': 3}"), ""),
        (
            "frozen dataclass vs published",
            f"{frozen / PUBLISHED_FROZEN_DATACLASS_NS:.2f}x",
            "1.00x = the published machine",
        ),
    ]
    print(table(("operation", "ns", "reference"), rows))


if __name__ == "__main__":
    main()
