"""``MemoryCluster`` expires Events ``EVENT_TTL`` (1 h) after their last write, as
kube-apiserver's ``--event-ttl`` does, at the first ``advance`` past that moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from werfop.adapters.frozen import thaw
from werfop.adapters.memory import EVENT_TTL, ManualClock, MemoryCluster
from werfop.core.ports import WatchEvent

START = datetime(2026, 1, 1, tzinfo=UTC)


def event(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": "default"},
        "reason": "Polled",
        "message": "m",
        "count": 1,
    }


@pytest.fixture
def cluster() -> MemoryCluster:
    return MemoryCluster(ManualClock(START))


def names(cluster: MemoryCluster) -> list[str]:
    return [e["metadata"]["name"] for e in cluster.list_objects("Event")]


def advance(cluster: MemoryCluster, delta: timedelta) -> None:
    cluster.clock.advance(delta)  # type: ignore[attr-defined]
    cluster.advance(cluster.clock.now())


def test_the_ttl_is_the_api_servers_default() -> None:
    assert timedelta(hours=1) == EVENT_TTL


def test_an_event_is_deleted_one_hour_after_it_was_created(cluster: MemoryCluster) -> None:
    cluster.create_event(event("first"))
    advance(cluster, timedelta(minutes=30))
    cluster.create_event(event("second"))
    advance(cluster, timedelta(minutes=29, seconds=59))
    assert ["first", "second"] == names(cluster)
    advance(cluster, timedelta(seconds=1))
    assert ["second"] == names(cluster)
    advance(cluster, timedelta(minutes=30))
    assert [] == names(cluster)


def test_a_write_renews_the_ttl(cluster: MemoryCluster) -> None:
    cluster.create_event(event("renewed"))
    advance(cluster, timedelta(minutes=50))
    current = thaw(cluster.get("Event", "default", "renewed"))
    current["count"] = 2
    cluster.update("Event", current)
    advance(cluster, timedelta(minutes=10))  # 1 h after creation, 10 min after the write
    assert ["renewed"] == names(cluster)
    advance(cluster, timedelta(minutes=50))
    assert [] == names(cluster)


def test_a_deleted_and_recreated_event_lives_from_its_new_creation(
    cluster: MemoryCluster,
) -> None:
    cluster.create_event(event("again"))
    advance(cluster, timedelta(minutes=40))
    cluster.delete("Event", "default", "again")
    cluster.create_event(event("again"))
    advance(cluster, timedelta(minutes=20))  # the first one's expiry passes
    assert ["again"] == names(cluster)
    advance(cluster, timedelta(minutes=40))
    assert [] == names(cluster)


def test_expiry_is_not_a_wake_up_and_is_seen_as_a_deletion(cluster: MemoryCluster) -> None:
    seen: list[tuple[str, str]] = []

    def listen(kind: str, watch_event: WatchEvent) -> None:
        seen.append((kind, watch_event.type))

    cluster.listeners.append(listen)
    cluster.create_event(event("watched"))
    assert cluster.next_completion() is None  # nothing watches Events: no moment of its own
    advance(cluster, EVENT_TTL)
    assert [("Event", "ADDED"), ("Event", "DELETED")] == seen
