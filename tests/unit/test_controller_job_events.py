"""Which Job watch events wake the Job's bundle: its end and its deletion, not its
progress (the pass that created a Job recorded it; every pass lists Jobs first)."""

from datetime import UTC, datetime

import pytest

from werfop.adapters.memory import ManualClock, MemoryCluster
from werfop.adapters.scripted_registry import ScriptedRegistry
from werfop.core import names
from werfop.core.ports import WatchEvent
from werfop.runtime import bootstrap
from werfop.runtime.controller import Controller

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SUCCEEDED = {"succeeded": 1, "completionTime": "2026-01-01T00:01:00Z"}
FAILED = {"failed": 1, "conditions": [{"type": "Failed", "status": "True"}]}


def _controller() -> tuple[Controller, list[str]]:
    clock = ManualClock(T0)
    controller = bootstrap.build(
        bootstrap.Options(), MemoryCluster(clock), ScriptedRegistry(clock), clock
    ).controller
    woken: list[str] = []
    controller.enqueue = lambda key, at=None: woken.append(key)  # type: ignore[method-assign]
    return controller, woken


def _job(name: str, status: dict) -> dict:
    return {
        "metadata": {
            "namespace": "apps",
            "name": name,
            "annotations": {names.ANNOTATION_BUNDLE: "apps/shop"},
        },
        "status": status,
    }


@pytest.mark.parametrize("ending", [SUCCEEDED, FAILED], ids=["succeeded", "failed"])
def test_a_job_wakes_its_bundle_when_it_ends_and_when_it_goes(ending):
    controller, woken = _controller()
    steps = [
        ("ADDED", {}, []),
        ("MODIFIED", {"startTime": "2026-01-01T00:00:00Z"}, []),
        ("MODIFIED", {"startTime": "2026-01-01T00:00:00Z", "active": 1}, []),
        ("MODIFIED", ending, ["apps/shop"]),
        ("MODIFIED", {**ending, "ready": 0}, []),  # still ended: no news
        ("DELETED", ending, ["apps/shop"]),
    ]
    for type_, status, expected in steps:
        before = len(woken)
        controller.on_event("Job", WatchEvent(type=type_, object=_job("shop-1", status)))
        assert expected == woken[before:], (type_, status)


def test_a_job_first_seen_ended_wakes_its_bundle():
    """After a watch gap the relist shows a Job that ended meanwhile as ADDED."""
    controller, woken = _controller()
    controller.on_event("Job", WatchEvent(type="ADDED", object=_job("shop-2", SUCCEEDED)))
    assert ["apps/shop"] == woken


def test_a_job_without_a_bundle_wakes_nothing():
    controller, woken = _controller()
    job = _job("other", SUCCEEDED)
    job["metadata"]["annotations"] = {}
    controller.on_event("Job", WatchEvent(type="MODIFIED", object=job))
    assert [] == woken
