"""Figure 5: steady-state memory with 1,000 bundles over an hour of virtual polling.

Runs the real runtime in-process (``inprocess.py``: ``MemoryCluster`` as in ``src/``,
``ScriptedRegistry``, ``RegistryEconomy``, the real ``Controller``; no event list is
kept) with N bundles at a 5-minute interval and samples this process's RSS
(``/proc/self/statm``) every virtual 10 minutes. Reports each sample, the peak
(``ru_maxrss``), and the least-squares slope after the first sample (warm-up), in MiB
per virtual hour and as a percentage of the mean RSS per hour.

The RSS includes the twin's own objects (what the API server would hold); the objects
it holds are counted by kind. The benchmark itself keeps only totals (no per-second
counters), so that nothing of its own grows. ``--tracemalloc`` prints the ten sources
whose allocations grew most between the first and the last sample. The operator
process's own RSS against the API test server is in figure 4
(``bench_operator_burst.py``).

Target: at most 128 MiB, no growth over 5 %/h. Anchors: Flux source-controller 67 MiB
at 1,000 objects; kopf's doc: Python ~300 MB vs Go ~30 MB.

Usage: .venv/bin/python benchmarks/bench_memory.py [--quick] [--hours 1] [--push-every 20m]
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc
from collections import Counter
from datetime import datetime, timedelta

import scenarios
from common import header, rss_mib, self_peak_rss_mib, slope, table
from inprocess import InProcess


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the full size (it is quick)")
    parser.add_argument("--bundles", type=int, default=1000)
    parser.add_argument("--repos", type=int, default=10)
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--push-every", default=None, help="e.g. 20m (default: no pushes)")
    parser.add_argument("--tracemalloc", action="store_true", help="show what grew (slow)")
    args = parser.parse_args()
    span = timedelta(hours=args.hours)
    push_every = scenarios.parse_span(args.push_every) if args.push_every else None
    header(
        f"Figure 5: RSS of the in-process runtime, {args.bundles} bundles, {args.repos} "
        f"repositories, poll 5m, {args.hours:g} virtual hours, "
        + (f"a release per repository every {args.push_every}" if push_every else "no pushes")
    )
    if args.tracemalloc:
        tracemalloc.start(1)
    snapshots: list[tracemalloc.Snapshot] = []
    started = time.perf_counter()
    baseline = rss_mib()
    world = InProcess(args.bundles, args.repos, push_every=push_every, until=span, per_second=False)
    samples: list[tuple[float, float, int, float]] = []

    def sample(moment: datetime) -> None:
        gc.collect()
        minutes = (moment - world.start).total_seconds() / 60
        samples.append((minutes, rss_mib(), world.total_passes, time.perf_counter() - started))
        if args.tracemalloc:
            snapshot = tracemalloc.take_snapshot()
            if not snapshots:
                snapshots.append(snapshot)  # the first sample stays the reference
            snapshots[1:] = [snapshot]

    world.run_until(world.start + span, every=timedelta(minutes=10), sample=sample)
    print(f"RSS before building the world: {baseline:.1f} MiB")
    print(
        table(
            ("virtual min", "RSS MiB", "passes", "wall s"),
            [(f"{m:.0f}", r, p, w) for m, r, p, w in samples],
        )
    )
    steady = samples[1:] if len(samples) > 2 else samples
    per_hour = slope([m / 60 for m, *_ in steady], [r for _, r, *_ in steady])
    mean = sum(r for _, r, *_ in steady) / max(1, len(steady))
    kinds = Counter(kind for kind, _, _ in world.cluster.objects)
    rows = [
        ("RSS at the end, MiB", samples[-1][1] if samples else float("nan")),
        ("peak RSS (ru_maxrss), MiB", self_peak_rss_mib()),
        ("slope after warm-up, MiB per virtual hour", per_hour),
        ("slope, % of mean RSS per hour", 100 * per_hour / mean if mean else float("nan")),
        ("polls", world.poll_count),
        ("registry requests", world.registry.total),
        ("passes", world.total_passes),
        ("objects held by the twin", ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))),
        ("wall time, s", time.perf_counter() - started),
    ]
    print(table(("figure", "value"), rows))
    if args.tracemalloc and len(snapshots) == 2:
        print("allocations that grew most from the first to the last sample:")
        for stat in snapshots[1].compare_to(snapshots[0], "lineno")[:10]:
            print(f"  {stat}")


if __name__ == "__main__":
    main()
