"""A pass reads the clock once: the core decides at the moment the observer read the
bundle and the registry, however long that took (a status that said it polled later
than it did would hide a change another bundle saw meanwhile: ``Observer._has_news``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from werfop.adapters.memory import ManualClock, MemoryCluster
from werfop.adapters.scripted_registry import ScriptedRegistry
from werfop.api.codec import parse_time
from werfop.runtime import bootstrap

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class TickingClock(ManualClock):
    """Time moves by a millisecond at every reading, as a busy process's clock does."""

    def now(self) -> datetime:
        self.advance(timedelta(milliseconds=1))
        return super().now()


def test_the_core_decides_at_the_passs_one_reading_of_the_clock() -> None:
    clock = TickingClock(T0)
    cluster = MemoryCluster(clock)
    registry = ScriptedRegistry(clock)
    registry.push("ghcr.io/acme/shop", "1.0.0")
    cluster.create("Namespace", {"metadata": {"name": "default"}})
    cluster.create(
        "WerfBundle",
        {
            "apiVersion": "werf.io/v1alpha1",
            "kind": "WerfBundle",
            "metadata": {"namespace": "default", "name": "shop"},
            "spec": {"registry": {"url": "ghcr.io/acme/shop"}},
        },
    )
    readings: list[datetime] = []
    runtime = bootstrap.build(
        bootstrap.Options(),
        cluster,
        registry,
        clock,
        bootstrap.Listeners(on_timeline=lambda key, now, entries: readings.append(now)),
    )

    runtime.controller.process("default/shop")

    status = cluster.get_bundle("default", "shop")["status"]
    assert [parse_time(status["lastPollTime"])] == readings
