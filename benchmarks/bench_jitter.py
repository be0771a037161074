"""Figure 7: jitter: polls per second with 1,000 bundles at a 5-minute interval.

Runs the real runtime in-process (``inprocess.py``: the twins, the real ``Controller``)
with N bundles created at once, one release per repository at the start and nothing
after (so every poll comes from the schedule, none from a wake-up after a change), and
counts ``Polled`` occurrences (and registry requests) per virtual second in 10-minute
windows:

- right after creation;
- before the first restart (minutes 50-60);
- after a restart at 1 h (a new ``Controller`` + ``RegistryEconomy`` over the same
  ``MemoryCluster``, no downtime);
- after a second restart at 2 h that follows 10 minutes of downtime (every bundle is
  overdue when the new process starts);
- optionally a window late in the run (``--hours``), to see whether the spread converges.

Target: the busiest second holds at most 1.5x the mean poll rate (N / 300 s), including
right after a restart. Anchor: Flux's jitter doc, 1,000 objects at 5 min: 50 requeues/s
without jitter, 15-18.3/s with +-10 % jitter.

``--no-pacer`` turns the runtime's poll pacer off (``runtime.pacer``), to show what the
+-10 % jitter does alone.

Usage: .venv/bin/python benchmarks/bench_jitter.py [--quick] [--hours 6] [--no-pacer]
"""

from __future__ import annotations

import argparse
import math
import time
from datetime import timedelta

from common import header, table
from inprocess import InProcess

WINDOW = 600


def poisson_max(rate: float, seconds: int) -> int:
    """Median of the busiest of ``seconds`` one-second bins when polls arrive as a
    Poisson process of ``rate`` (perfectly independent, uniformly spread phases)."""
    k, term = 0, math.exp(-rate)
    cumulative = term
    while cumulative**seconds < 0.5:
        k += 1
        term *= rate / k
        cumulative += term
    return k


def window_row(name: str, world: InProcess, first: int, mean: float) -> tuple:
    seconds = range(first, first + WINDOW)
    polls = [world.polls.get(s, 0) for s in seconds]
    requests = [world.registry.per_second.get(s, 0) for s in seconds]
    busiest = max(polls)
    at = first + polls.index(busiest)
    return (
        name,
        f"{first // 60}-{(first + WINDOW) // 60} min",
        sum(polls),
        sum(polls) / WINDOW,
        busiest,
        f"{at // 60}:{at % 60:02d}",
        busiest / mean,
        "yes" if busiest <= 1.5 * mean else "NO",
        sum(requests),
        max(requests),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2.5 h (no late window)")
    parser.add_argument("--bundles", type=int, default=1000)
    parser.add_argument("--repos", type=int, default=10)
    parser.add_argument("--hours", type=float, default=3.0, help="total run (>= 2.5)")
    parser.add_argument("--no-pacer", action="store_true", help="jitter alone, no pacing")
    args = parser.parse_args()
    if args.quick:
        args.hours = 2.5
    header(
        f"Figure 7: polls per virtual second, {args.bundles} bundles at 5m, "
        f"{args.repos} repositories" + (" [NO PACER: jitter alone]" if args.no_pacer else "")
    )
    started = time.perf_counter()
    world = InProcess(args.bundles, args.repos, paced=not args.no_pacer)
    start = world.start
    hour = timedelta(hours=1)
    world.run_until(start + hour)
    world.restart()  # no downtime
    world.run_until(start + 2 * hour)
    world.restart(downtime=timedelta(minutes=10))  # every bundle is overdue
    world.run_until(start + timedelta(hours=max(args.hours, 2.5)))
    wall = time.perf_counter() - started
    mean = args.bundles / 300
    rows = [
        window_row("after creation", world, 0, mean),
        window_row("before restart", world, 3000, mean),
        window_row("after restart (no downtime)", world, 3600, mean),
        window_row("after restart (10 min down)", world, 7800, mean),
    ]
    last = int(max(args.hours, 2.5) * 3600) - WINDOW
    if last >= 8400:
        rows.append(window_row("late in the run", world, last, mean))
    print(
        f"mean poll rate N/300s = {mean:.2f}/s; 1.5x = {1.5 * mean:.1f}/s; "
        f"Flux anchor with +-10% jitter: <= 18.3/s; busiest second of {WINDOW} for "
        f"independent uniform phases (Poisson, median): {poisson_max(mean, WINDOW)}/s"
    )
    print(
        table(
            (
                "window",
                "virtual",
                "polls",
                "polls/s",
                "busiest s",
                "at",
                "x mean",
                "<=1.5x",
                "reg. requests",
                "busiest req/s",
            ),
            rows,
        )
    )
    print(f"wall {wall:.1f} s, {world.total_passes:,} passes, {world.restarts} restarts")


if __name__ == "__main__":
    main()
