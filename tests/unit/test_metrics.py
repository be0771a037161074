"""What /metrics says about bundles and about this replica: the condition metric follows a
bundle's status (through the real controller over the in-memory world) and goes with
the bundle, a condition type that leaves the status takes its series along, foreign
condition types cannot grow the series, a new leader exports bundles whose status does
not change, ``werfop_leader`` follows the real ``LeaderElector``, and the process
collectors are on our registry."""

from __future__ import annotations

import sys
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from support.inmemory import NAMESPACE, SHOP_URL, World, bundle_manifest
from werfop.core.errors import AlreadyExistsError, ConflictError
from werfop.core.model import BundleStatus, Condition
from werfop.runtime import bootstrap
from werfop.runtime.leader import LeaderElector
from werfop.runtime.metrics import MAX_CONDITION_TYPES, Metrics

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def samples(metrics: Metrics, metric: str, **labels: str) -> dict[tuple[str, ...], float]:
    """The samples of one metric whose labels include ``labels``, keyed by the values of
    the labels not given (in the metric's label order)."""
    out: dict[tuple[str, ...], float] = {}
    for family in metrics.registry.collect():
        for sample in family.samples:
            if sample.name != metric or not labels.items() <= sample.labels.items():
                continue
            rest = tuple(v for k, v in sample.labels.items() if k not in labels)
            out[rest] = sample.value
    return out


def conditions_of(metrics: Metrics, name: str) -> dict[tuple[str, ...], float]:
    """``{(type, status): value}`` of one bundle of the world's namespace."""
    return samples(metrics, "werfop_bundle_condition", namespace=NAMESPACE, name=name)


def of_shop(metrics: Metrics, metric: str) -> dict[tuple[str, ...], float]:
    return samples(metrics, metric, namespace=NAMESPACE, name="shop")


def _condition(type_: str, status: str) -> Condition:
    return Condition(
        type=type_,
        status=status,  # type: ignore[arg-type]
        reason="Because",
        message="",
        last_transition_time=T0,
        observed_generation=1,
    )


def _status(*conditions: Condition, phase: str = "Synced") -> BundleStatus:
    return BundleStatus(phase=phase, conditions=conditions)  # type: ignore[arg-type]


def ready_of(metrics: Metrics, name: str) -> dict[tuple[str, ...], float]:
    return {k: v for k, v in conditions_of(metrics, name).items() if k[0] == "Ready"}


def three(type_: str, current: str) -> dict[tuple[str, ...], float]:
    return {(type_, s): (1.0 if s == current else 0.0) for s in ("True", "False", "Unknown")}


# --- through the controller ----------------------------------------------------------------


def test_condition_metric_follows_a_bundle_through_a_change_and_goes_with_it():
    world = World(
        [bundle_manifest("shop", SHOP_URL, constraint="^1")],
        options=bootstrap.Options(metrics=True),
    )
    assert world.runtime is not None
    metrics = world.runtime.metrics
    assert metrics is not None
    world.registry.push(SHOP_URL, "1.0.0")

    world.run_for(timedelta(minutes=3))  # polled, deployed, the Job succeeded
    assert "Synced" == world.status("shop").phase
    assert {
        **three("Ready", "True"),
        **three("RegistryReachable", "True"),
        **three("Released", "True"),
    } == conditions_of(metrics, "shop")
    assert {(): 0.0} == of_shop(metrics, "werfop_bundle_suspended")
    assert {(): 0.0} == of_shop(metrics, "werfop_version_lag")

    world.patch_bundle("shop", {"spec": {"suspend": True}})
    world.run_for(timedelta(seconds=1))
    assert "Suspended" == world.status("shop").phase
    assert three("Ready", "False") == ready_of(metrics, "shop")
    assert {(): 1.0} == of_shop(metrics, "werfop_bundle_suspended")
    assert 1.0 == samples(metrics, "werfop_bundles", phase="Suspended")[()]

    world.cluster.delete("WerfBundle", NAMESPACE, "shop")
    world.run_for(timedelta(minutes=1))
    assert world.bundle("shop") is None
    assert {} == conditions_of(metrics, "shop")
    assert {} == of_shop(metrics, "werfop_bundle_suspended")
    assert {} == of_shop(metrics, "werfop_version_lag")
    assert 0.0 == samples(metrics, "werfop_bundles", phase="Suspended")[()]


def test_a_new_leader_exports_a_bundle_whose_status_does_not_change():
    """A suspended bundle writes no status; a fresh process must still export it."""
    world = World(
        [bundle_manifest("shop", SHOP_URL, constraint="^1", suspend=True)],
        options=bootstrap.Options(metrics=True),
    )
    world.run_for(timedelta(minutes=1))
    assert "Suspended" == world.status("shop").phase
    world.start_runtime()  # a new process (new metrics): resync, one pass per bundle
    assert world.runtime is not None
    metrics = world.runtime.metrics
    assert metrics is not None

    world.run_now()

    assert three("Ready", "False") == ready_of(metrics, "shop")
    assert {(): 1.0} == of_shop(metrics, "werfop_bundle_suspended")


# --- the metrics object itself ---------------------------------------------------------------


def test_a_condition_the_status_no_longer_carries_loses_its_series():
    metrics = Metrics()
    metrics.status_seen(
        "default/shop", _status(_condition("Ready", "False"), _condition("Stalled", "True"))
    )
    assert three("Ready", "False") | three("Stalled", "True") == conditions_of(metrics, "shop")

    metrics.status_seen("default/shop", _status(_condition("Ready", "True")))

    assert three("Ready", "True") == conditions_of(metrics, "shop")


def test_any_condition_type_werfop_writes_is_exported_without_a_list_of_them():
    """The core will add RegistryReachable and Released; nothing here names them."""
    metrics = Metrics()
    metrics.status_seen(
        "default/shop",
        _status(_condition("Ready", "Unknown"), _condition("RegistryReachable", "False")),
    )
    assert three("Ready", "Unknown") | three("RegistryReachable", "False") == conditions_of(
        metrics, "shop"
    )


def test_foreign_condition_types_cannot_grow_the_series():
    """Other writers' conditions stay in the status; only CamelCase types without a domain
    prefix are exported, at most MAX_CONDITION_TYPES per bundle."""
    many = [_condition(f"Extra{i}", "True") for i in range(MAX_CONDITION_TYPES + 5)]
    metrics = Metrics()
    metrics.status_seen(
        "default/shop",
        _status(_condition("Ready", "True"), _condition("example.com/Thing", "True"), *many),
    )

    exported = {type_ for type_, _ in conditions_of(metrics, "shop")}
    assert MAX_CONDITION_TYPES == len(exported)
    assert "Ready" in exported
    assert "example.com/Thing" not in exported


def test_forget_removes_only_that_bundle():
    metrics = Metrics()
    metrics.status_seen("default/shop", _status(_condition("Ready", "True")))
    metrics.status_seen("default/edge", _status(_condition("Ready", "False"), phase="Failed"))

    metrics.forget("default/shop")

    assert {} == conditions_of(metrics, "shop")
    assert three("Ready", "False") == conditions_of(metrics, "edge")
    assert {"Synced": 0.0, "Failed": 1.0} == {
        phase: samples(metrics, "werfop_bundles", phase=phase)[()] for phase in ("Synced", "Failed")
    }


def test_bundles_by_phase_counts_each_bundle_once_as_it_moves():
    metrics = Metrics()
    for key, phase in [
        ("default/a", "Syncing"),
        ("default/b", "Syncing"),
        ("default/a", "Synced"),
        ("default/c", "Failed"),
        ("default/b", "Synced"),
        ("default/c", "Failed"),  # the same phase again
    ]:
        metrics.status_seen(key, _status(_condition("Ready", "True"), phase=phase))
    metrics.forget("default/c")

    assert {"Pending": 0.0, "Syncing": 0.0, "Synced": 2.0, "Failed": 0.0, "Suspended": 0.0} == {
        phase: value for (phase,), value in samples(metrics, "werfop_bundles").items()
    }


# --- leadership ----------------------------------------------------------------------------


class MemoryLeases:
    """A ``LeasePort`` over a dict, with the API server's conflict on a stale write."""

    def __init__(self) -> None:
        self.leases: dict[tuple[str, str], dict[str, Any]] = {}
        self.version = 0

    def get_lease(self, namespace: str, name: str) -> dict[str, Any] | None:
        found = self.leases.get((namespace, name))
        return None if found is None else {**found, "spec": dict(found["spec"])}

    def create_lease(self, lease: dict[str, Any]) -> dict[str, Any]:
        key = (lease["metadata"]["namespace"], lease["metadata"]["name"])
        if key in self.leases:
            raise AlreadyExistsError(f"lease {key} exists")
        return self._store(key, lease)

    def replace_lease(self, lease: dict[str, Any]) -> dict[str, Any]:
        key = (lease["metadata"]["namespace"], lease["metadata"]["name"])
        stored = self.leases[key]
        if lease["metadata"].get("resourceVersion") != stored["metadata"]["resourceVersion"]:
            raise ConflictError(f"lease {key} changed")
        return self._store(key, lease)

    def _store(self, key: tuple[str, str], lease: dict[str, Any]) -> dict[str, Any]:
        self.version += 1
        stored = {**lease, "metadata": {**lease["metadata"], "resourceVersion": str(self.version)}}
        self.leases[key] = stored
        return stored


def leader_value(metrics: Metrics) -> float:
    return samples(metrics, "werfop_leader")[()]


def test_the_leader_gauge_is_1_while_the_elector_leads_and_0_once_it_released():
    metrics = Metrics()
    stop = threading.Event()
    seen_while_leading: list[float] = []

    def started() -> None:
        seen_while_leading.append(leader_value(metrics))
        stop.set()  # run() then ends at once and releases the Lease

    elector = LeaderElector(
        MemoryLeases(), "werfop-system", "werfop-leader", "a", on_started=started
    )
    metrics.watch_leader(elector.leading.is_set)
    before = leader_value(metrics)

    elector.run(stop)

    assert (0.0, [1.0], 0.0) == (before, seen_while_leading, leader_value(metrics))


def test_a_standby_replica_reports_0_while_another_holds_the_lease():
    leases = MemoryLeases()
    holder = LeaderElector(leases, "werfop-system", "werfop-leader", "a")
    stop = threading.Event()
    assert holder._try_acquire_or_renew()

    class OneRound:
        """The same Leases; asking for one ends the standby's run after this round."""

        def get_lease(self, namespace: str, name: str) -> dict[str, Any] | None:
            stop.set()
            return leases.get_lease(namespace, name)

        create_lease = leases.create_lease
        replace_lease = leases.replace_lease

    standby = LeaderElector(OneRound(), "werfop-system", "werfop-leader", "b")
    metrics = Metrics()
    metrics.watch_leader(standby.leading.is_set)

    standby.run(stop)

    assert "a" == leases.get_lease("werfop-system", "werfop-leader")["spec"]["holderIdentity"]
    assert 0.0 == leader_value(metrics)


def test_the_leader_gauge_is_0_before_anything_is_wired():
    assert 0.0 == leader_value(Metrics())


# --- the process ----------------------------------------------------------------------------


@pytest.mark.skipif(sys.platform != "linux", reason="process_* metrics read /proc (Linux)")
def test_process_and_platform_metrics_are_on_our_registry():
    names = {family.name for family in Metrics().registry.collect()}

    assert {"process_resident_memory_bytes", "process_cpu_seconds", "python_info"} <= names
    assert "python_gc_collections" in names


def test_a_repository_that_answers_a_tag_list_gets_its_last_poll_time():
    from datetime import UTC, datetime

    from werfop.adapters.memory import ManualClock
    from werfop.adapters.scripted_registry import ScriptedRegistry
    from werfop.core.ports import Repository
    from werfop.runtime.metrics import CountingRegistry

    metrics = Metrics()
    inner = ScriptedRegistry(ManualClock(datetime(2026, 1, 1, tzinfo=UTC)))
    inner.push("ghcr.io/acme/shop", "1.0.0")
    counting = CountingRegistry(inner, metrics)
    name = "werfop_registry_last_poll_timestamp_seconds"
    labels = {"repository": "ghcr.io/acme/shop"}
    assert metrics.registry.get_sample_value(name, labels) is None
    counting.list_tags(Repository(url="ghcr.io/acme/shop"))
    seen = metrics.registry.get_sample_value(name, labels)
    assert seen is not None and seen > 1.7e9  # a Unix time, set by the answer
    counting.list_tags(Repository(url="ghcr.io/acme/missing"))  # not an answer: unset
    assert metrics.registry.get_sample_value(name, {"repository": "ghcr.io/acme/missing"}) is None
