"""``MemoryCluster`` stores objects frozen and hands them out shared: what a caller was
given, or gave, can never change the store; and ``adapters.frozen`` behaves as JSON."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta

import pytest

from werfop.adapters.frozen import FrozenDict, FrozenList, freeze, thaw
from werfop.adapters.memory import ManualClock, MemoryCluster
from werfop.adapters.selectors import equality_terms
from werfop.api.codec import format_time
from werfop.core.errors import ConflictError
from werfop.core.ports import WatchEvent

START = datetime(2026, 1, 1, tzinfo=UTC)


def config_map(name: str = "settings", **labels: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default", "labels": dict(labels)},
        "data": {"values.yaml": "replicas: 2\n", "list": ["a"]},
    }


@pytest.fixture
def cluster() -> MemoryCluster:
    return MemoryCluster(ManualClock(START))


def test_frozen_data_reads_compares_and_serialises_like_plain_json() -> None:
    data = {"a": [1, {"b": None}], "c": "d"}
    frozen = freeze(data)
    assert data == frozen
    assert json.dumps(data, sort_keys=True) == json.dumps(frozen, sort_keys=True)
    assert isinstance(frozen, FrozenDict)
    assert isinstance(frozen["a"], FrozenList)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda d: d.__setitem__("c", "x"), id="set-key"),
        pytest.param(lambda d: d.pop("c"), id="pop"),
        pytest.param(lambda d: d.update(c="x"), id="update"),
        pytest.param(lambda d: d.setdefault("e", 1), id="setdefault"),
        pytest.param(lambda d: d["a"].append(2), id="append-to-nested-list"),
        pytest.param(lambda d: d["a"][1].__setitem__("b", 1), id="set-in-nested-dict"),
        pytest.param(lambda d: d["a"].sort(), id="sort"),
    ],
)
def test_frozen_data_refuses_every_change_in_place(change) -> None:
    frozen = freeze({"a": [1, {"b": None}], "c": "d"})
    with pytest.raises(TypeError):
        change(frozen)
    assert {"a": [1, {"b": None}], "c": "d"} == frozen


def test_thaw_and_deepcopy_give_plain_mutable_copies() -> None:
    frozen = freeze({"a": [1, {"b": None}]})
    for copied in (thaw(frozen), copy.deepcopy(frozen)):
        copied["a"][1]["b"] = 2
        assert dict is type(copied)
        assert list is type(copied["a"])
        assert {"a": [1, {"b": None}]} == frozen


def test_freeze_shares_frozen_parts_instead_of_copying_them() -> None:
    spec = freeze({"replicas": 2})
    assert spec is freeze(spec)
    assert spec is freeze({"spec": spec})["spec"]


def test_an_object_read_from_the_cluster_cannot_be_changed(cluster: MemoryCluster) -> None:
    cluster.create("ConfigMap", config_map())
    read = cluster.get_config_map("default", "settings")
    assert read is not None
    with pytest.raises(TypeError):
        read["data"]["values.yaml"] = "replicas: 3\n"
    assert "replicas: 2\n" == cluster.get("ConfigMap", "default", "settings")["data"]["values.yaml"]


def test_the_callers_object_is_copied_on_create_and_update(cluster: MemoryCluster) -> None:
    given = config_map()
    created = cluster.create("ConfigMap", given)
    given["data"]["list"].append("b")  # the caller keeps editing its own object
    assert ["a"] == cluster.get("ConfigMap", "default", "settings")["data"]["list"]

    edited = thaw(created)
    edited["data"]["values.yaml"] = "replicas: 3\n"
    cluster.update("ConfigMap", edited)
    edited["data"]["values.yaml"] = "replicas: 4\n"
    stored = cluster.get("ConfigMap", "default", "settings")
    assert "replicas: 3\n" == stored["data"]["values.yaml"]
    assert int(created["metadata"]["resourceVersion"]) < int(stored["metadata"]["resourceVersion"])


def test_a_read_copy_is_a_snapshot_that_later_writes_do_not_change(
    cluster: MemoryCluster,
) -> None:
    cluster.create("ConfigMap", config_map())
    before = cluster.get("ConfigMap", "default", "settings")
    cluster.patch("ConfigMap", "default", "settings", {"data": {"values.yaml": "x: 1\n"}})
    assert "replicas: 2\n" == before["data"]["values.yaml"]
    assert "x: 1\n" == cluster.get("ConfigMap", "default", "settings")["data"]["values.yaml"]


def test_every_listener_gets_the_same_read_only_event(cluster: MemoryCluster) -> None:
    seen: list[WatchEvent] = []
    cluster.listeners.append(lambda kind, event: seen.append(event))
    cluster.listeners.append(lambda kind, event: seen.append(event))
    cluster.create("ConfigMap", config_map())
    assert 2 == len(seen)
    assert seen[0] is seen[1]
    with pytest.raises(TypeError):
        seen[0].object["metadata"]["name"] = "other"


def test_a_stale_write_still_conflicts(cluster: MemoryCluster) -> None:
    created = cluster.create("ConfigMap", config_map())
    cluster.patch("ConfigMap", "default", "settings", {"data": {"values.yaml": "x: 1\n"}})
    with pytest.raises(ConflictError):
        cluster.update("ConfigMap", thaw(created))


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        pytest.param("", ["a", "b", "c"], id="everything"),
        pytest.param("app=web", ["a", "b"], id="one-equality"),
        pytest.param("app==web, tier=front", ["a"], id="two-equalities"),
        pytest.param("app!=web", ["c"], id="inequality"),
        pytest.param("tier in (front,back)", ["a", "c"], id="set-based"),
        pytest.param("tier", ["a", "c"], id="existence"),
    ],
)
def test_label_selected_lists_match_the_selector(
    cluster: MemoryCluster, selector: str, expected: list[str]
) -> None:
    cluster.create("ConfigMap", config_map("a", app="web", tier="front"))
    cluster.create("ConfigMap", config_map("b", app="web"))
    cluster.create("ConfigMap", config_map("c", app="db", tier="back"))
    listed = cluster.list_config_maps("default", selector)
    assert expected == [obj["metadata"]["name"] for obj in listed]


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        pytest.param("", (), id="empty"),
        pytest.param("a=b", (("a", "b"),), id="single"),
        pytest.param(" a == b ,c=d", (("a", "b"), ("c", "d")), id="double-equals-and-spaces"),
        pytest.param("a=b,c!=d", None, id="with-inequality"),
        pytest.param("a in (b,c)", None, id="set-based"),
        pytest.param("a", None, id="existence"),
    ],
)
def test_equality_terms_only_answers_pure_equality_selectors(selector, expected) -> None:
    assert expected == equality_terms(selector)


def test_a_one_label_list_follows_creations_relabels_and_deletions(
    cluster: MemoryCluster,
) -> None:
    def names() -> list[str]:
        return [obj["metadata"]["name"] for obj in cluster.list_config_maps("default", "app=web")]

    cluster.create("ConfigMap", config_map("b", app="web"))
    assert ["b"] == names()
    cluster.create("ConfigMap", config_map("a", app="web"))
    assert ["a", "b"] == names()
    cluster.patch("ConfigMap", "default", "a", {"metadata": {"labels": {"app": "db"}}})
    assert ["b"] == names()
    cluster.patch("ConfigMap", "default", "b", {"data": {"values.yaml": "x: 1\n"}})
    assert ["b"] == names()
    cluster.delete("ConfigMap", "default", "b")
    assert [] == names()


def bundle(labels: dict[str, str] | None = None) -> dict:
    return {
        "apiVersion": "werf.io/v1alpha1",
        "kind": "WerfBundle",
        "metadata": {"name": "shop", "namespace": "default", "labels": labels or {}},
        "spec": {"registry": {"url": "ghcr.io/acme/shop"}},
    }


def test_a_status_write_replaces_only_the_status_and_moves_the_version(
    cluster: MemoryCluster,
) -> None:
    created = cluster.create("WerfBundle", bundle({"team": "a"}))
    events: list[tuple[str, WatchEvent]] = []
    cluster.listeners.append(lambda kind, event: events.append((kind, event)))
    status = {"phase": "Synced", "conditions": [{"type": "Ready", "status": "True"}]}
    version = created["metadata"]["resourceVersion"]
    written = cluster.replace_bundle_status("default", "shop", version, status)
    status["conditions"][0]["status"] = "False"  # the caller's copy, not the store's
    assert {"phase": "Synced", "conditions": [{"type": "Ready", "status": "True"}]} == written[
        "status"
    ]
    assert written is cluster.get_bundle("default", "shop")
    assert created["spec"] is written["spec"]
    assert {**created["metadata"], "resourceVersion": written["metadata"]["resourceVersion"]} == (
        written["metadata"]
    )
    assert version != written["metadata"]["resourceVersion"]
    assert [("WerfBundle", "MODIFIED")] == [(kind, e.type) for kind, e in events]
    assert [written] == cluster.list_objects("WerfBundle", "default", "team=a")


def test_a_status_write_that_changes_nothing_is_no_new_version(cluster: MemoryCluster) -> None:
    created = cluster.create("WerfBundle", bundle())
    first = cluster.replace_bundle_status(
        "default", "shop", created["metadata"]["resourceVersion"], {"phase": "Synced"}
    )
    again = cluster.replace_bundle_status(
        "default", "shop", first["metadata"]["resourceVersion"], {"phase": "Synced"}
    )
    assert first is again


def test_a_stale_status_write_conflicts(cluster: MemoryCluster) -> None:
    created = cluster.create("WerfBundle", bundle())
    version = created["metadata"]["resourceVersion"]
    cluster.replace_bundle_status("default", "shop", version, {"phase": "Synced"})
    with pytest.raises(ConflictError):
        cluster.replace_bundle_status("default", "shop", version, {"phase": "Failed"})


def test_a_finished_job_expires_at_its_ttl_unless_its_ttl_moved() -> None:
    clock = ManualClock(START)
    cluster = MemoryCluster(clock, lambda job: ("succeeded", timedelta(minutes=1), ""))
    cluster.create(
        "Namespace", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}
    )
    cluster.create_job(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "apply", "namespace": "default"},
            "spec": {"ttlSecondsAfterFinished": 3600},
        }
    )
    clock.advance(timedelta(minutes=1))
    cluster.advance(clock.now())
    expiry = START + timedelta(minutes=1, hours=1)
    assert expiry == cluster.next_completion()
    assert expiry == cluster.next_completion()  # asked again: the same answer
    current = cluster.get("Job", "default", "apply")
    assert current is not None
    later = format_time(START + timedelta(minutes=30))
    cluster.update("Job", {**current, "status": {**current["status"], "completionTime": later}})
    assert cluster.next_completion() is None  # the heap entry is stale now
