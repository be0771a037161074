"""Helpers shared by the benchmark scripts: paths, memory readings, tables.

Role: keep each ``bench_*.py`` about what it measures. Benchmarks print figures; they
never assert on timing (house style). Nothing here imports ``werfop``.
"""

from __future__ import annotations

import os
import platform
import resource
import statistics
import sys
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))  # support.world, kubeapi

PAGE = os.sysconf("SC_PAGE_SIZE")
MIB = 1024 * 1024


def rss_mib(pid: int | str = "self") -> float:
    """Current resident set size of a process, in MiB (from /proc)."""
    with open(f"/proc/{pid}/statm") as handle:
        return int(handle.read().split()[1]) * PAGE / MIB


def peak_rss_mib(pid: int | str = "self") -> float:
    """Peak resident set size (VmHWM) of a process, in MiB."""
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def self_peak_rss_mib() -> float:
    """``resource.getrusage(RUSAGE_SELF).ru_maxrss`` in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds(pid: int | str = "self") -> float:
    """User + system CPU time a process has used, in seconds (from /proc)."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` in [0, 1]); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


def slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of ys over xs (0 for fewer than two points)."""
    if len(xs) < 2:
        return 0.0
    return statistics.linear_regression(xs, ys).slope


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A plain-text table with right-aligned numbers, as printed by every script."""
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for index, row in enumerate(cells):
        lines.append(
            "  ".join(
                value.ljust(width) if column == 0 else value.rjust(width)
                for column, (value, width) in enumerate(zip(row, widths, strict=True))
            )
        )
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


class StackSampler(threading.Thread):
    """A poor man's sampling profiler of this process's other threads: every 2 ms, the
    innermost frame of each thread that is not waiting, and every function on its stack
    whose file path contains ``include``. The main thread and the sampler are skipped.
    (cProfile sees one thread only; the operator and the API server use several.)"""

    IDLE = frozenset({"select", "wait", "_wait_for_tstate_lock", "sleep", "poll", "readline"})

    def __init__(self, include: str) -> None:
        super().__init__(daemon=True)
        self.include = include
        self.leaf: Counter[str] = Counter()
        self.inclusive: Counter[str] = Counter()
        self.samples = 0
        self.stop = threading.Event()

    def run(self) -> None:
        skip = {threading.get_ident(), threading.main_thread().ident}  # the sampler, the driver
        while not self.stop.wait(0.002):
            for ident, frame in sys._current_frames().items():
                if ident in skip or frame.f_code.co_name in self.IDLE:
                    continue
                self.samples += 1
                self.leaf[_where(frame)] += 1
                seen = set()
                while frame is not None:
                    if self.include in frame.f_code.co_filename:
                        seen.add(_where(frame))
                    frame = frame.f_back  # type: ignore[assignment]
                self.inclusive.update(seen)

    def report(self, top: int = 12) -> str:
        total = max(1, self.samples)
        lines = [f"{self.samples} samples (2 ms period, busy threads only)"]
        lines.append("  leaf functions:")
        lines += [f"    {100 * n / total:5.1f}%  {k}" for k, n in self.leaf.most_common(top)]
        lines.append(f"  {self.include} functions on the stack (inclusive):")
        lines += [f"    {100 * n / total:5.1f}%  {k}" for k, n in self.inclusive.most_common(top)]
        return "\n".join(lines)


def _where(frame: Any) -> str:
    path = frame.f_code.co_filename
    short = "/".join(Path(path).parts[-2:])
    return f"{short}:{frame.f_code.co_name}"


def machine() -> str:
    """One line naming the machine, for the header of every script's output."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}"


def header(title: str) -> None:
    print(f"# {title}")
    print(f"# {machine()}")
