"""Figure 2: simulator scale: N bundles over D virtual days at a 5-minute poll interval.

Drives ``werfop.simulate.simulate()`` (the operator's own Controller over
``MemoryCluster`` + ``ScriptedRegistry`` + ``RegistryEconomy`` + ``ManualClock``) with
generated bundles (``scenarios.py``: R repositories, a new release per repository every
few hours, Jobs succeed after a minute). Prints wall time, passes (decisions) and polls
per second, peak RSS (``resource.getrusage``) and the events ``simulate`` streamed (the
benchmark counts them as they come, with ``keep_events=False``, instead of holding a
week of them in memory; ``--keep-events`` measures the old way).

When the full size (1,000 bundles, 7 days, ~2 million polls) exceeds ``--max-wall``, the
run is stopped (through ``simulate``'s progress hook) and the figure is extrapolated
from the fraction of virtual time done; the output says so.
``--profile N`` prints the top N functions by own time (cProfile; the simulator is
single threaded). ``--stages`` prints where a pass's time goes, in microseconds per
pass, from timers around the controller's steps (no profiler: each timer adds ~0.3 us).

Target: 1,000 bundles x 7 days in under 60 s on this 2-core machine.

Usage: .venv/bin/python benchmarks/bench_simulator.py [--quick] [--span 24h] [--profile 20]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import scenarios
from common import header, self_peak_rss_mib, table

from werfop.core.actions import Plan
from werfop.runtime import controller, executor, observe
from werfop.simulate import simulate


class OutOfTime(Exception):
    """Raised from the progress hook to stop a run that exceeds ``--max-wall``."""


class Progress(io.TextIOBase):
    """The ``progress`` stream ``simulate`` writes to every ~2 s; stops the run when the
    wall-time budget is spent, remembering how far it got."""

    LINE = re.compile(r"simulate:\s+([\d.]+)% of virtual time, (\d+) passes")

    def __init__(self, budget: float, started: float) -> None:
        self.budget = budget
        self.started = started
        self.done = 0.0
        self.passes = 0
        self.points: list[tuple[float, int, float]] = []  # (done, passes, wall)

    def write(self, text: str) -> int:
        match = self.LINE.search(text)
        if match:
            self.done = float(match.group(1)) / 100
            self.passes = int(match.group(2))
            self.points.append((self.done, self.passes, time.perf_counter() - self.started))
        if time.perf_counter() - self.started > self.budget:
            raise OutOfTime
        return len(text)


def run(
    bundles: int, span: timedelta, repos: int, every: timedelta, budget: float, keep: bool
) -> dict:
    objects = scenarios.bundles(bundles, repos)
    scenario = scenarios.scenario(repos, span, every)
    counts: Counter[str] = Counter()
    started = time.perf_counter()
    progress = Progress(budget, started)
    try:
        result = simulate(
            objects,
            scenario,
            progress=progress,
            on_event=lambda event: counts.update((event["type"],)),
            keep_events=keep,
        )
    except OutOfTime:
        wall = time.perf_counter() - started
        return {
            "wall": wall,
            "done": progress.done,
            "passes": progress.passes,
            "polls": None,
            "events": None,
            "requests": None,
            "rates": _rates(progress.points),
        }
    wall = time.perf_counter() - started
    return {
        "wall": wall,
        "done": 1.0,
        "passes": result.passes,
        "polls": counts["Polled"],
        "events": counts.total(),
        "kept": len(result.events),
        "event_mib": _events_mib(result.events),
        "requests": sum(v["requests"] for v in result.registry.values()),
        "rates": _rates(progress.points),
    }


class Stages:
    """Timers around the steps of ``Controller.process`` (observe, the core's decision,
    execute) and around the whole pass (``run_one``), and the passes split by what they
    decided: a quiet poll (the plan has no action, and the timeline says at most
    ``Polled``) or anything else (a new version, a Job created or finished, a pruned
    Job, a first pass)."""

    STEPS = (
        ("observe (read + decode)", observe.Observer, "observe"),
        ("execute (status write, Jobs)", executor.Executor, "execute"),
    )

    def __init__(self) -> None:
        labels = [label for label, _, _ in self.STEPS]
        self.spent = dict.fromkeys([labels[0], "reconcile (the core)", *labels[1:]], 0)
        for label, owner, name in self.STEPS:
            setattr(owner, name, self._timed(label, getattr(owner, name)))
        self.quiet = False
        self.kinds = {True: [0, 0], False: [0, 0]}  # quiet -> [passes, ns]
        decide, run_one = controller.reconcile, controller.Controller.run_one

        def reconcile(*args: Any) -> Plan:
            plan = decide(*args)
            self.quiet = not plan.actions and all(o.type == "Polled" for o in plan.timeline)
            return plan

        def whole(controller_: controller.Controller, key: str) -> Any:
            self.quiet = False
            started = time.perf_counter_ns()
            try:
                return run_one(controller_, key)
            finally:
                kind = self.kinds[self.quiet]
                kind[0] += 1
                kind[1] += time.perf_counter_ns() - started

        controller.reconcile = self._timed("reconcile (the core)", reconcile)
        controller.Controller.run_one = whole  # type: ignore[method-assign]

    def _timed(self, label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        clock, spent = time.perf_counter_ns, self.spent

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = clock()
            try:
                return function(*args, **kwargs)
            finally:
                spent[label] += clock() - started

        return timed

    def rows(self, passes: int, wall: float) -> list[tuple[str, object]]:
        per = {label: ns / 1000 / passes for label, ns in self.spent.items()}
        whole = sum(ns for _, ns in self.kinds.values()) / 1000 / passes
        rows: list[tuple[str, object]] = [(f"  {k}, us", v) for k, v in per.items()]
        rows.append(("  rest of the pass (queue, get, timeline), us", whole - sum(per.values())))
        rows.append(("  simulator loop and twin time-keeping, us", wall * 1e6 / passes - whole))
        rows.append(("per pass in all, us", wall * 1e6 / passes))
        for quiet, label in ((True, "quiet polls"), (False, "other passes")):
            count, ns = self.kinds[quiet]
            each = ns / 1000 / count if count else 0.0
            rows.append((label, f"{count:,} x {each:,.0f} us = {ns / 1e9:,.1f} s"))
        return rows


def _rates(points: list[tuple[float, int, float]]) -> str:
    """Decisions per second over the first and the last reported stretch of the run:
    whether a pass gets dearer as the run goes on (retained Jobs, events)."""
    if len(points) < 3:
        return "-"
    (d0, p0, w0), (_, p1, w1) = points[0], points[1]
    (_, p2, w2), (d3, p3, w3) = points[-2], points[-1]
    first = (p1 - p0) / max(w1 - w0, 1e-9)
    last = (p3 - p2) / max(w3 - w2, 1e-9)
    return f"{first:,.0f} at {d0:.0%} -> {last:,.0f} at {d3:.0%}"


def _events_mib(events: list[dict]) -> float:
    """Approximate memory held by the event dicts ``simulate`` returns (sampled)."""
    if not events:
        return 0.0
    sample = events[:: max(1, len(events) // 2000)]
    per = sum(
        sys.getsizeof(e) + sum(sys.getsizeof(v) for v in e.values() if isinstance(v, str))
        for e in sample
    ) / len(sample)
    return per * len(events) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 bundles for 12 h")
    parser.add_argument("--bundles", type=int, default=1000)
    parser.add_argument("--span", default="7d", help="virtual time, e.g. 12h or 7d")
    parser.add_argument("--repos", type=int, default=10)
    parser.add_argument("--push-every", default="3h")
    parser.add_argument("--max-wall", type=float, default=600.0, help="seconds (then extrapolate)")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="print top N costs")
    parser.add_argument("--stages", action="store_true", help="time a pass's steps")
    parser.add_argument(
        "--keep-events", action="store_true", help="let simulate() keep every event (P7)"
    )
    args = parser.parse_args()
    if args.quick:
        args.bundles, args.span = 300, "12h"
    span = scenarios.parse_span(args.span)
    header(
        f"Figure 2: simulate() with {args.bundles} bundles, {args.repos} repositories, "
        f"{args.span} virtual, poll 5m, a release per repository every {args.push_every}"
    )
    stages = Stages() if args.stages else None
    profiler = cProfile.Profile() if args.profile else None
    if profiler is not None:
        profiler.enable()
    figures = run(
        args.bundles,
        span,
        args.repos,
        scenarios.parse_span(args.push_every),
        args.max_wall,
        args.keep_events,
    )
    if profiler is not None:
        profiler.disable()
    wall, done = figures["wall"], figures["done"]
    expected_polls = args.bundles * span / timedelta(minutes=5)
    rows = [
        ("virtual time done", f"{done:.1%} of {args.span}"),
        ("wall time, s", wall),
        (
            "wall time for the full span, s",
            wall if done >= 1 else f"~{wall / max(done, 1e-9):,.0f} (extrapolated, linear)",
        ),
        ("passes (decisions)", figures["passes"]),
        ("decisions/s", figures["passes"] / wall),
        ("decisions/s early -> late in the run", figures["rates"]),
        ("polls", figures["polls"] if figures["polls"] is not None else "-"),
        ("polls expected (N x span / 5m)", round(expected_polls * done)),
        ("polls/s", (figures["polls"] / wall) if figures["polls"] else "-"),
        ("peak RSS, MiB (ru_maxrss)", self_peak_rss_mib()),
        ("events (streamed)", figures["events"] if figures["events"] else "-"),
        ("events kept by simulate()", figures.get("kept", "-")),
        ("  of which memory, MiB (approx.)", figures.get("event_mib", "-")),
        ("registry requests", figures["requests"] if figures["requests"] else "-"),
    ]
    if stages is not None and figures["passes"]:
        rows += stages.rows(figures["passes"], wall)
    print(table(("figure", "value"), rows))
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(args.profile)
        print(out.getvalue())


if __name__ == "__main__":
    main()
