"""Fault injection in the in-memory world: registry outages through ``ScriptedRegistry``
and API errors from a fake wrapped around ``MemoryCluster``.

What must hold under every fault: nothing crashes (the simulator's loop lets any
unexpected exception out), nothing hot-loops (passes and registry requests per virtual
hour stay on the backoff schedules), Retry-After is honoured, and once the fault ends
the bundle ends Synced on the right tag with exactly one Job per version.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from support.inmemory import (
    EDGE_URL,
    SHOP_URL,
    World,
    bundle_manifest,
    edge_bundle,
    missing_secrets,
    shop_bundle,
    values_map,
)
from werfop.adapters.scripted_registry import Push, ScriptedRegistry
from werfop.core.errors import ConflictError, TransientError, WerfopError
from werfop.core.model import RegistryUnavailable
from werfop.core.ports import Clock, DigestAnswer, Obj, Repository, TagListing
from werfop.runtime.queue import CONFLICT_DELAY

BILLING_URL = "ghcr.io/acme/billing"
# The documented registry backoff, written out: 30s, 1m, 2m, 4m, 8m, then 8m (±10%).
REGISTRY_BACKOFF = [timedelta(seconds=s) for s in (30, 60, 120, 240, 480)]
JITTER = 0.10
SLACK = timedelta(milliseconds=1)  # jittered delays are rounded to the millisecond


def registry_backoff(failures: int) -> timedelta:
    return REGISTRY_BACKOFF[min(failures, len(REGISTRY_BACKOFF)) - 1]


def queue_backoff(failures: int) -> timedelta:
    """The work queue's per-key retry delay: 1s, 2s, 4s, ... capped at 5m."""
    return min(timedelta(seconds=2 ** (failures - 1)), timedelta(minutes=5))


# -- fakes -------------------------------------------------------------------------------


class RecordingRegistry:
    """A ``RegistryPort`` that forwards to the script and remembers every request:
    (time, repository, answer)."""

    def __init__(self, registry: ScriptedRegistry) -> None:
        self._registry = registry
        self.clock: Clock | None = None
        self.requests: list[tuple[datetime, str, Any]] = []

    def list_tags(
        self, repository: Repository, etag: str | None = None
    ) -> TagListing | RegistryUnavailable:
        answer = self._registry.list_tags(repository, etag)
        self._record(repository, answer)
        return answer

    def resolve_digest(
        self, repository: Repository, tag: str
    ) -> DigestAnswer | RegistryUnavailable:
        answer = self._registry.resolve_digest(repository, tag)
        self._record(repository, answer)
        return answer

    def _record(self, repository: Repository, answer: Any) -> None:
        assert self.clock is not None
        self.requests.append((self.clock.now(), repository.url, answer))

    def to(self, host_or_url: str) -> list[tuple[datetime, str, Any]]:
        return [r for r in self.requests if r[1] == host_or_url or r[1].startswith(host_or_url)]


class FaultyCluster:
    """The cluster port, except that the next ``times`` calls of a method raise an
    error made by ``make``. Records when each port method was called."""

    def __init__(self, cluster: Any, clock: Clock) -> None:
        self._cluster = cluster
        self._clock = clock
        self._faults: dict[str, list[Any]] = {}
        self.calls: list[tuple[datetime, str, bool]] = []  # (time, method, failed)

    def fail(self, method: str, make: Callable[[], WerfopError], times: int) -> None:
        self._faults[method] = [make, times]

    def failures(self, method: str) -> list[datetime]:
        return [at for at, name, failed in self.calls if name == method and failed]

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._cluster, name)
        if name.startswith("_") or not callable(target):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            fault = self._faults.get(name)
            failing = fault is not None and fault[1] > 0
            self.calls.append((self._clock.now(), name, failing))
            if failing:
                fault[1] -= 1
                raise fault[0]()
            return target(*args, **kwargs)

        return call


def registry_world(*objects: Obj) -> tuple[World, RecordingRegistry]:
    recorder: list[RecordingRegistry] = []

    def wrap(registry: ScriptedRegistry) -> RecordingRegistry:
        recorder.append(RecordingRegistry(registry))
        return recorder[0]

    world = World([values_map(), *objects], wrap_registry=wrap)
    recorder[0].clock = world.clock  # no request is made before the first pass
    return world, recorder[0]


def faulty_world() -> tuple[World, FaultyCluster]:
    fakes: list[FaultyCluster] = []

    def wrap(cluster: Any) -> FaultyCluster:
        fakes.append(FaultyCluster(cluster, cluster.clock))
        return fakes[0]

    world = World([values_map(), shop_bundle()], wrap_port=wrap)
    world.set_outcome("succeeded", timedelta(hours=1))  # the Job runs through the faults
    return world, fakes[0]


def applied(world: World, name: str) -> tuple[str, str | None, str | None]:
    status = world.status(name)
    return (status.phase, status.last_applied_tag, _ready(world, name))


def _ready(world: World, name: str) -> str | None:
    ready = world.status(name).condition("Ready")
    return ready.status if ready is not None else None


def jobs_per_version(world: World) -> dict[tuple[str, str, int], int]:
    counts: dict[tuple[str, str, int], int] = {}
    for job in world.jobs.values():
        key = (job.bundle_key, job.tag, job.attempt)
        counts[key] = counts.get(key, 0) + 1
    return counts


def passes_per_hour(world: World, since: datetime, until: datetime) -> int:
    hours = max((until - since) / timedelta(hours=1), 1.0)
    return round(sum(n for at, n in world.passes_at.items() if since <= at < until) / hours)


# -- registry faults -----------------------------------------------------------------------


@pytest.mark.parametrize("status", [503, 500, "timeout"], ids=["503", "500", "timeout"])
@pytest.mark.parametrize(
    "length",
    [timedelta(minutes=5), timedelta(minutes=45), timedelta(hours=3)],
    ids=["5m", "45m", "3h"],
)
def test_a_registry_outage_is_polled_on_the_backoff_schedule_and_recovers(
    status: int | str, length: timedelta
) -> None:
    world, registry = registry_world(shop_bundle())
    world.registry.push(SHOP_URL, "1.0.0")
    world.run_for(timedelta(minutes=10))
    assert ("Synced", "1.0.0", "True") == applied(world, "shop")
    start = world.clock.now()
    world.outage(SHOP_URL, length, status=status)
    world.registry.schedule(SHOP_URL, start + length / 2, Push(tag="1.1.0"))

    world.run_until(start + length)
    asked = [(at, answer) for at, _, answer in registry.to(SHOP_URL) if at >= start]
    failed = [at for at, answer in asked if isinstance(answer, RegistryUnavailable)]
    assert failed, "polling went on during the outage"
    assert len(asked) == len(failed)
    for n, (earlier, later) in enumerate(itertools.pairwise(failed), start=1):
        expected = registry_backoff(n)
        assert expected * (1 - JITTER) - SLACK <= later - earlier <= expected * (1 + JITTER) + SLACK
    assert passes_per_hour(world, start, start + length) <= 2 * len(failed) + 4
    if len(failed) >= 5:
        assert ("Failed", "False") == (world.status("shop").phase, _ready(world, "shop"))
        assert "RegistryUnavailable" == world.status("shop").condition("Ready").reason

    world.run_for(registry_backoff(5) * (1 + JITTER) + timedelta(minutes=2))
    assert ("Synced", "1.1.0", "True") == applied(world, "shop")
    assert 0 == world.status("shop").consecutive_failures
    assert 1 == jobs_per_version(world)[("default/shop", "1.1.0", 1)]


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize(
    "retry_after", [timedelta(seconds=90), timedelta(minutes=10)], ids=["90s", "10m"]
)
def test_retry_after_keeps_every_request_away_from_the_registry_until_it_elapses(
    status: int, retry_after: timedelta
) -> None:
    billing = bundle_manifest("billing", BILLING_URL, constraint="~2.3", poll_interval="2m")
    world, registry = registry_world(shop_bundle(poll_interval="2m"), billing, edge_bundle())
    world.registry.push(SHOP_URL, "1.0.0")
    world.registry.push(BILLING_URL, "2.3.0")
    world.registry.push(EDGE_URL, "main")
    world.run_for(timedelta(minutes=10))
    start = world.clock.now()
    length = timedelta(hours=1)
    world.outage("ghcr.io", length, status=status, retry_after=retry_after)  # the whole host

    world.run_until(start + length + timedelta(minutes=30))
    host = [r for r in registry.to("ghcr.io/") if r[0] >= start]
    refusals = [(at, answer) for at, _, answer in host if isinstance(answer, RegistryUnavailable)]
    assert refusals
    for at, answer in refusals:
        assert retry_after == answer.retry_after
        too_soon = [r for r in host if at < r[0] < at + retry_after]
        assert [] == too_soon
    # The other host never noticed.
    edge = [at for at, _, _ in registry.to(EDGE_URL) if start <= at < start + length]
    assert len(edge) >= length / (timedelta(minutes=2) * (1 + JITTER)) - 1
    assert ("Synced", "1.0.0", "True") == applied(world, "shop")
    assert ("Synced", "2.3.0", "True") == applied(world, "billing")


def test_bundles_sharing_a_repository_never_ask_more_than_the_schedule_allows() -> None:
    twin = bundle_manifest("shop-2", SHOP_URL, constraint="^1", values_from="shop-values")
    world, registry = registry_world(shop_bundle(), twin)
    world.registry.push(SHOP_URL, "1.0.0")
    world.run_for(timedelta(minutes=10))
    start = world.clock.now()
    length = timedelta(hours=2)
    world.outage(SHOP_URL, length, status=503)

    world.run_until(start + length)
    asked = len([at for at, _, _ in registry.to(SHOP_URL) if at >= start])
    schedule, moment = 0, timedelta(0)
    while moment < length:  # the most one bundle may ask: the shortest jittered delays
        schedule += 1
        moment += registry_backoff(schedule) * (1 - JITTER)
    assert asked <= 2 * schedule


# -- cluster faults ------------------------------------------------------------------------

READS = ["get_bundle", "list_jobs", "get_config_map"]
WRITES = ["create_job", "create_secret", "patch_bundle_metadata", "replace_bundle_status"]
GUARDED_WRITES = ["patch_bundle_metadata", "replace_bundle_status"]  # resourceVersion: 409s


def retry_delay(kind: str, failures: int) -> timedelta:
    """The documented requeue after the n-th failure in a row: a conflict re-reads after
    50ms (five times), then backs off like a transient error, 1s..5m."""
    if kind == "conflict":
        return CONFLICT_DELAY if failures <= 5 else queue_backoff(failures - 5)
    return queue_backoff(failures)


def make_error(kind: str, what: str) -> Callable[[], WerfopError]:
    if kind == "conflict":
        return lambda: ConflictError(f"WerfBundle default/shop: {what}")
    return lambda: TransientError(f"the API server is busy: {what}")


@functools.cache
def baseline_passes(length: timedelta) -> int:
    world, _ = faulty_world()
    world.registry.push(SHOP_URL, "1.0.0")
    world.run_for(length)
    return world.total_passes


STORM = 30


def test_a_conflict_storm_on_status_writes_backs_off_and_recovers() -> None:
    # 30 conflicts in a row: 4 quick re-reads, then 1s, 2s, ... 5m: about 90 minutes.
    world, cluster = faulty_world()
    world.set_outcome("succeeded", timedelta(hours=2))  # no Job event during the storm
    cluster.fail("replace_bundle_status", make_error("conflict", "storm"), STORM)
    world.registry.push(SHOP_URL, "1.0.0")

    world.run_for(timedelta(hours=6))
    failures = cluster.failures("replace_bundle_status")
    assert STORM == len(failures)
    gaps = [later - earlier for earlier, later in itertools.pairwise(failures)]
    # The first retry is immediate: the pass's own writes (finalizer, Job) woke the key.
    assert [retry_delay("conflict", n) for n in range(2, STORM)] == gaps[1:]
    assert world.total_passes <= baseline_passes(timedelta(hours=6)) + 2 * STORM
    assert max(world.passes_at.values()) <= 3
    assert ("Synced", "1.0.0", "True") == applied(world, "shop")
    assert {("default/shop", "1.0.0", 1): 1} == jobs_per_version(world)
    assert 1 == len(world.status("shop").version_history)
    assert [] == missing_secrets(world)


@pytest.mark.parametrize(
    ("method", "kind"),
    [(m, "transient") for m in READS + WRITES] + [(m, "conflict") for m in GUARDED_WRITES],
)
def test_api_errors_back_off_per_key_and_the_bundle_recovers(method: str, kind: str) -> None:
    world, cluster = faulty_world()
    cluster.fail(method, make_error(kind, method), 12)
    world.registry.push(SHOP_URL, "1.0.0")

    world.run_for(timedelta(hours=2))
    failures = cluster.failures(method)
    assert 12 == len(failures)
    gaps = [later - earlier for earlier, later in itertools.pairwise(failures)]
    # From the second retry on, never sooner than the schedule (the first may come at
    # once when the failed pass's own writes woke the key).
    too_soon = [(n, gap) for n, gap in enumerate(gaps[1:], start=2) if gap < retry_delay(kind, n)]
    assert [] == too_soon
    assert world.total_passes <= baseline_passes(timedelta(hours=2)) + 2 * 12
    assert max(world.passes_at.values()) <= 3
    assert ("Synced", "1.0.0", "True") == applied(world, "shop")
    assert {("default/shop", "1.0.0", 1): 1} == jobs_per_version(world)
    assert [] == missing_secrets(world)


def test_transient_errors_are_retried_on_the_queue_backoff_schedule() -> None:
    world, cluster = faulty_world()
    world.registry.push(SHOP_URL, "1.0.0")
    world.run_for(timedelta(minutes=70))  # synced, the Job done: nothing else wakes the key
    cluster.fail("get_bundle", make_error("transient", "get"), 10)
    world.controller.enqueue("default/shop")

    world.run_for(timedelta(hours=1))
    failures = cluster.failures("get_bundle")
    assert 10 == len(failures)
    gaps = [later - earlier for earlier, later in itertools.pairwise(failures)]
    assert [queue_backoff(n) for n in range(1, 10)] == gaps
    assert ("Synced", "1.0.0", "True") == applied(world, "shop")


def test_retry_after_from_the_api_server_is_honoured() -> None:
    world, cluster = faulty_world()
    world.registry.push(SHOP_URL, "1.0.0")
    world.run_for(timedelta(minutes=70))
    wait = timedelta(seconds=45)
    cluster.fail("get_bundle", lambda: TransientError("too many requests", retry_after=wait), 3)
    start = world.clock.now()
    world.controller.enqueue("default/shop")

    world.run_for(timedelta(minutes=10))
    calls = [at for at, name, _ in cluster.calls if name == "get_bundle" and at >= start]
    assert [wait] * 3 == [later - earlier for earlier, later in itertools.pairwise(calls[:4])]
    assert ("Synced", "1.0.0", "True") == applied(world, "shop")


# -- everything at once --------------------------------------------------------------------

faults = st.lists(
    st.tuples(st.sampled_from(READS + WRITES), st.just("transient"), st.integers(1, 20))
    | st.tuples(st.sampled_from(GUARDED_WRITES), st.just("conflict"), st.integers(1, 20)),
    max_size=3,
)


@settings(max_examples=max(5, settings.default.max_examples // 5), deadline=None)
@given(
    faults=faults,
    outage=st.none() | st.tuples(st.integers(1, 180), st.sampled_from([503, 429, 500, "timeout"])),
    retry_after=st.none() | st.integers(1, 900),
)
def test_random_faults_never_crash_or_hot_loop_and_the_bundle_recovers(
    faults: list[tuple[str, str, int]],
    outage: tuple[int, int | str] | None,
    retry_after: int | None,
) -> None:
    world, cluster = faulty_world()
    # The Job outlives any run of faults here (60 failures in a row back off for about
    # 5 hours), so its inputs Secret must appear while it runs.
    world.set_outcome("succeeded", timedelta(hours=6))
    world.registry.push(SHOP_URL, "1.0.0")
    for method, kind, times in faults:
        cluster.fail(method, make_error(kind, method), times)
    if outage is not None:
        minutes, status = outage
        wait = timedelta(seconds=retry_after) if retry_after is not None else None
        world.outage(SHOP_URL, timedelta(minutes=minutes), status=status, retry_after=wait)

    world.run_for(timedelta(hours=12))
    assert max(world.passes_at.values()) <= 3
    faulted = sum(times for _, _, times in faults)
    polls_in_outage = 25 if outage is not None else 0  # 3h of registry backoff, at most
    assert world.total_passes <= baseline_passes(timedelta(hours=12)) + 2 * (
        faulted + polls_in_outage
    )
    assert ("Synced", "1.0.0", "True") == applied(world, "shop")
    assert {("default/shop", "1.0.0", 1): 1} == jobs_per_version(world)
    assert [] == missing_secrets(world)
