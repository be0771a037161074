"""``make bench``: every benchmark at its ``--quick`` size, one after the other.

Prints each script's table as it finishes and the wall time of each and of the whole
set. Quick sizes are for a trend check in a few minutes; docs/benchmarks.md holds the
full-size figures and the commands that produced them. No timing is asserted.

Usage: .venv/bin/python benchmarks/run_quick.py
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNS = [
    ["bench_machine.py"],
    ["bench_core.py", "--quick"],
    ["bench_simulator.py", "--quick"],
    ["bench_registry_economy.py", "--quick"],
    ["bench_operator_burst.py", "--quick"],
    ["bench_memory.py", "--quick"],
    ["bench_jitter.py", "--quick"],
    ["bench_api_writes.py"],
    ["bench_job_retention.py", "--quick"],
    ["repro_requested_poll.py"],
    ["reliability_summary.py", "--quick"],
]


def main() -> int:
    started = time.perf_counter()
    timings = []
    failed = 0
    for run in RUNS:
        print(f"\n$ .venv/bin/python benchmarks/{' '.join(run)}", flush=True)
        begun = time.perf_counter()
        code = subprocess.call([sys.executable, str(HERE / run[0]), *run[1:]])
        timings.append((" ".join(run), time.perf_counter() - begun, code))
        failed += code != 0
    print("\nscript                                          wall s  exit")
    for name, seconds, code in timings:
        print(f"{name:<46} {seconds:7.1f}  {code:4d}")
    print(f"{'total':<46} {time.perf_counter() - started:7.1f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
