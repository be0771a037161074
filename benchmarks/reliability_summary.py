"""The reliability summary table of docs/benchmarks.md: faults injected, runs, and what
the checks found (duplicates and data lost must be 0).

It replays the reliability suite's in-memory scenarios (``tests/reliability``) with
counters instead of asserts, many more times than ``make test`` does, and counts:

- *runs*: scenario plays (each with a fresh world);
- *faults injected*: crashes that fired (kill after an action, or inside a CreateJob),
  registry answers that were failures (5xx, 429, timeouts), API calls that raised;
- *unexpected exceptions*: anything that escaped the runtime (the simulator lets bugs
  out; ``Crash`` is the injected one and is not counted);
- *hot loops*: more than 3 passes of one bundle at one virtual instant;
- *duplicate Jobs*: Jobs beyond the first for one (bundle, tag, digest, values, attempt);
- *data lost*: a Job missing from (or mis-recorded in) ``status.versionHistory``, a
  final status different from the run without faults, a Job whose inputs Secret never
  appeared, or a bundle that did not recover to Synced on the expected version.

Usage: ``.venv/bin/python benchmarks/reliability_summary.py [--seeds N]``
(N random scenarios per tier; default 200; ``--quick``: 20).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from common import TESTS, header, table

sys.path.insert(0, str(TESTS / "reliability"))

import test_crash_consistency as crash
import test_fault_injection_memory as faults

from support.inmemory import SHOP_URL, HotLoop, missing_secrets
from werfop.core.model import RegistryUnavailable
from werfop.core.reconcile import MAX_HISTORY


class Tally:
    def __init__(self, name: str) -> None:
        self.name = name
        self.runs = 0
        self.faults = 0
        self.exceptions = 0
        self.hot_loops = 0
        self.duplicates = 0
        self.lost = 0
        self.seconds = 0.0

    def play(self, run: Callable[[], tuple[Any, int, int]]) -> None:
        """One run: ``run`` plays a scenario and returns (world, faults injected, data
        lost); an escaped exception or a hot loop is counted instead."""
        started = time.perf_counter()
        self.runs += 1
        try:
            world, faults_injected, lost = run()
        except HotLoop:
            self.hot_loops += 1
            return
        except Exception:
            self.exceptions += 1
            return
        finally:
            self.seconds += time.perf_counter() - started
        self.faults += faults_injected
        self.hot_loops += int(hot(world))
        self.duplicates += duplicates_of(world)
        self.lost += lost

    def row(self) -> list[object]:
        return [
            self.name,
            self.runs,
            self.faults,
            self.exceptions,
            self.hot_loops,
            self.duplicates,
            self.lost,
            f"{self.seconds:.1f}",
        ]


def duplicates_of(world: Any) -> int:
    identities = Counter(job.identity for job in world.jobs.values())
    return sum(n - 1 for n in identities.values() if n > 1)


def hot(world: Any) -> bool:
    return max(world.passes_at.values(), default=0) > 3


# -- crash consistency ---------------------------------------------------------------------


def lost_after_crash(run: Any, reference: Any, scenario: Any) -> int:
    """The crash suite's checks, counted: each broken fact is one loss."""
    world = run.world
    lost = 0
    if set(j.identity for j in reference.world.jobs.values()) != set(
        j.identity for j in world.jobs.values()
    ):
        lost += 1
    if crash.summary(reference.world) != crash.summary(world):
        lost += 1
    lost += len(missing_secrets(world))
    if scenario.deletes_bundle:
        return lost + len(world.cluster.list_objects("Job"))
    status = world.status("shop")
    newest = sorted(world.jobs.values(), key=lambda j: (j.created_at, j.name), reverse=True)
    expected = {
        job.name: job.result or ("Lost" if job.deleted else "Running")
        for job in newest[:MAX_HISTORY]
    }
    recorded = {entry.job_name: entry.result for entry in status.version_history}
    lost += sum(1 for name, result in expected.items() if recorded.get(name) != result)
    names = [entry.job_name for entry in status.version_history]
    return lost + len(names) - len(set(names))


def crash_tier(seeds: int) -> list[Tally]:
    every, rnd = Tally("crash after every action (5 scenarios)"), Tally("crash, random scenario")
    for scenario in crash.SCENARIOS:
        reference = crash.play(scenario, crash.Params())
        for point in crash.crash_points(reference):
            play_crash(every, scenario, crash.Params(), reference, point)
    chooser = random.Random(8)
    for _ in range(seeds):
        scenario = chooser.choice(crash.SCENARIOS)
        params = crash.Params(
            job_minutes=chooser.randint(1, 20),
            poll_interval=chooser.choice(["30s", "2m", "5m", "15m"]),
            new_tag=chooser.choice(["1.0.1", "1.1.0", "1.9.9"]),
            failures=chooser.randint(1, 2),
        )
        reference = crash.play(scenario, params)
        points = crash.crash_points(reference)
        play_crash(rnd, scenario, params, reference, chooser.choice(points))
    return [every, rnd]


def play_crash(tally: Tally, scenario: Any, params: Any, reference: Any, point: Any) -> None:
    def run() -> tuple[Any, int, int]:
        played = crash.play(scenario, params, point)
        return played.world, int(played.crashed), lost_after_crash(played, reference, scenario)

    tally.play(run)


# -- registry and API faults ---------------------------------------------------------------


def recovered(world: Any, tag: str) -> int:
    """0 when the bundle ended Synced on ``tag``, its Jobs recorded; else 1."""
    status = world.status("shop")
    ok = (status.phase, status.last_applied_tag) == ("Synced", tag)
    return 0 if ok and not missing_secrets(world) else 1


def registry_tier(seeds: int) -> Tally:
    tally = Tally("registry: 5xx, 429 + Retry-After, timeouts")
    chooser = random.Random(9)
    for _ in range(seeds):
        status = chooser.choice([503, 500, 429, "timeout"])
        length = timedelta(minutes=chooser.randint(1, 240))
        wait = chooser.choice([None, timedelta(seconds=chooser.randint(1, 900))])

        def run(
            status: int | str = status, length: timedelta = length, wait: timedelta | None = wait
        ) -> tuple[Any, int, int]:
            world, registry = faults.registry_world(faults.shop_bundle())
            world.registry.push(SHOP_URL, "1.0.0")
            world.run_for(timedelta(minutes=10))
            start = world.clock.now()
            world.outage(SHOP_URL, length, status=status, retry_after=wait)
            world.registry.schedule(SHOP_URL, start + length / 2, faults.Push(tag="1.1.0"))
            world.run_for(length + timedelta(minutes=30))
            refused = sum(
                1 for _, _, answer in registry.requests if isinstance(answer, RegistryUnavailable)
            )
            return world, refused, recovered(world, "1.1.0")

        tally.play(run)
    return tally


def api_tier(seeds: int) -> Tally:
    tally = Tally("Kubernetes API: 409 storms, transient errors")
    chooser = random.Random(10)
    methods = faults.READS + faults.WRITES

    def run() -> tuple[Any, int, int]:
        world, cluster = faults.faulty_world()
        world.set_outcome("succeeded", timedelta(hours=6))
        world.registry.push(SHOP_URL, "1.0.0")
        for _ in range(chooser.randint(1, 3)):
            if chooser.random() < 0.3:
                method, kind = chooser.choice(faults.GUARDED_WRITES), "conflict"
            else:
                method, kind = chooser.choice(methods), "transient"
            cluster.fail(method, faults.make_error(kind, method), chooser.randint(1, 30))
        world.run_for(timedelta(hours=12))
        failed = sum(1 for _, _, failed in cluster.calls if failed)
        return world, failed, recovered(world, "1.0.0")

    for _ in range(seeds):
        tally.play(run)
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="20 random runs per tier")
    args = parser.parse_args()
    seeds = 20 if args.quick else args.seeds
    header(f"Reliability summary: the in-memory fault tiers, {seeds} random runs each")
    tallies = [*crash_tier(seeds), registry_tier(seeds), api_tier(seeds)]
    total = Tally("all")
    for t in tallies:
        for field in ("runs", "faults", "exceptions", "hot_loops", "duplicates", "lost"):
            setattr(total, field, getattr(total, field) + getattr(t, field))
        total.seconds += t.seconds
    headers = [
        "tier",
        "runs",
        "faults injected",
        "unexpected exceptions",
        "hot loops",
        "duplicate Jobs",
        "data lost",
        "wall s",
    ]
    print(table(headers, [t.row() for t in [*tallies, total]]))


if __name__ == "__main__":
    main()
