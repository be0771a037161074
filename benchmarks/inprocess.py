"""The operator's runtime in-process over the twins, with restarts (for figures 5 and 6).

Role: what ``werfop.simulate.simulate`` builds (``MemoryCluster``, ``ScriptedRegistry``,
``RegistryEconomy``, ``ManualClock``, the real ``Controller``) and the same loop (jump to
the next due moment, end Jobs, run due passes), but driven step by step so a benchmark
can sample memory on the way, count polls per virtual second, and restart the operator
(a new ``Controller`` and ``RegistryEconomy`` over the same cluster and registry, the
way a new process would find them). It keeps no event list.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import scenarios

from werfop.adapters.memory import ManualClock, MemoryCluster
from werfop.adapters.scripted_registry import ScriptedRegistry
from werfop.core.timeline import Entry
from werfop.runtime import bootstrap
from werfop.runtime.controller import Controller


class CountingRegistry:
    """Forwards to a ``ScriptedRegistry`` and counts requests (per virtual second when
    ``per_second``; a memory benchmark keeps only the total, so that its own counters do
    not grow)."""

    def __init__(
        self, inner: ScriptedRegistry, clock: ManualClock, start: datetime, per_second: bool
    ) -> None:
        self.inner = inner
        self.clock = clock
        self.start = start
        self.by_second = per_second
        self.per_second: Counter[int] = Counter()
        self.total = 0

    def _count(self) -> None:
        self.total += 1
        if self.by_second:
            self.per_second[int((self.clock.now() - self.start).total_seconds())] += 1

    def list_tags(self, repository, etag=None):  # type: ignore[no-untyped-def]
        self._count()
        return self.inner.list_tags(repository, etag)

    def resolve_digest(self, repository, tag):  # type: ignore[no-untyped-def]
        self._count()
        return self.inner.resolve_digest(repository, tag)


class InProcess:
    def __init__(
        self,
        bundles: int,
        repos: int,
        *,
        interval: str = "5m",
        push_every: timedelta | None = None,
        until: timedelta = timedelta(days=1),
        per_second: bool = True,
        paced: bool = True,
    ) -> None:
        self.start = scenarios.START
        self.paced = paced
        self.clock = ManualClock(self.start)
        self.cluster = MemoryCluster(self.clock, self._decide_job)
        registry = ScriptedRegistry(self.clock)
        for r in range(repos):
            registry.create(scenarios.repository(r))
        events = scenarios.pushes(repos, until, push_every or until * 2)
        for url, at, event in events:
            registry.schedule(url, at, event)
        self.registry = CountingRegistry(registry, self.clock, self.start, per_second)
        self.per_second = per_second
        self.polls: Counter[int] = Counter()  # Polled occurrences per virtual second
        self.poll_count = 0
        self.occurrences: Counter[str] = Counter()
        self.passes = 0
        self.restarts = 0
        self.controller = self._new_controller()
        self.cluster.create(
            "Namespace", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}
        )
        for obj in scenarios.bundles(bundles, repos, interval):
            self.cluster.create("WerfBundle", obj)
        self.controller.resync()

    @staticmethod
    def _decide_job(job: dict[str, Any]) -> tuple[Any, timedelta, str]:
        return "succeeded", timedelta(minutes=1), "$ werf bundle apply\nSucceeded\n"

    def _record(self, key: str, moment: datetime, timeline: tuple[Entry, ...]) -> None:
        for occurrence in timeline:
            self.occurrences[occurrence.type] += 1
            if occurrence.type == "Polled":
                self.poll_count += 1
                if self.per_second:
                    self.polls[int((moment - self.start).total_seconds())] += 1

    def _new_controller(self) -> Controller:
        # Unpaced: a pacer whose room no herd fills (jitter alone, for comparison).
        options = bootstrap.Options() if self.paced else bootstrap.Options(pacer_minimum=10**9)
        controller = bootstrap.build(
            options,
            self.cluster,
            self.registry,  # type: ignore[arg-type]
            self.clock,
            bootstrap.Listeners(on_timeline=self._record),
        ).controller
        self.cluster.listeners.append(controller.on_event)
        return controller

    def restart(self, downtime: timedelta = timedelta(0)) -> None:
        """Stop the operator, let ``downtime`` pass (Jobs still end), start a new one."""
        self.passes += self.controller.passes
        self.cluster.listeners.remove(self.controller.on_event)
        if downtime > timedelta(0):
            end = self.clock.now() + downtime
            while (moment := self.cluster.next_completion()) is not None and moment <= end:
                self.clock.set(max(moment, self.clock.now()))
                self.cluster.advance(self.clock.now())
            self.clock.set(end)
            self.cluster.advance(end)
        self.controller = self._new_controller()
        self.controller.resync()
        self.restarts += 1

    def run_until(
        self,
        end: datetime,
        every: timedelta | None = None,
        sample: Callable[[datetime], None] | None = None,
    ) -> None:
        """Run the runtime until ``end``; call ``sample(moment)`` every ``every``."""
        next_sample = self.clock.now() + every if every else None
        while True:
            moments = [
                m
                for m in (self.controller.next_due(), self.cluster.next_completion())
                if m is not None
            ]
            if next_sample is not None and sample is not None:
                moments.append(next_sample)
            if not moments or min(moments) > end:
                break
            moment = max(min(moments), self.clock.now())
            self.clock.set(moment)
            self.cluster.advance(moment)
            self.controller.run_due(moment)
            if next_sample is not None and sample is not None and moment >= next_sample:
                sample(moment)
                next_sample += every  # type: ignore[operator]
        self.clock.set(max(self.clock.now(), end))

    @property
    def total_passes(self) -> int:
        return self.passes + self.controller.passes
