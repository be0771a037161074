"""The observer parses a bundle's values documents and hashes them once per content:
a changed ConfigMap, inline values or uid is read anew, never taken from the memo."""

from __future__ import annotations

from datetime import UTC, datetime

import attrs

from werfop.adapters.memory import ManualClock, MemoryCluster
from werfop.adapters.scripted_registry import ScriptedRegistry
from werfop.core.model import BundleSpec, ConvergeSpec, Meta, RegistrySpec, ValuesSource
from werfop.core.values import values_hash
from werfop.runtime.observe import Observer
from werfop.runtime.registry_economy import RegistryEconomy

T0 = datetime(2026, 1, 1, tzinfo=UTC)
META = Meta(namespace="default", name="shop", uid="uid-1")
SPEC = BundleSpec(
    registry=RegistrySpec(url="ghcr.io/acme/shop"),
    converge=ConvergeSpec(
        values_json='{"replicas": 1}',
        values_from=(ValuesSource(kind="ConfigMap", name="settings", key="values.yaml"),),
    ),
)


def world() -> tuple[MemoryCluster, Observer]:
    clock = ManualClock(T0)
    cluster = MemoryCluster(clock)
    settings(cluster, "tier: web\n")
    return cluster, Observer(cluster, RegistryEconomy(ScriptedRegistry(clock), clock), clock)


def settings(cluster: MemoryCluster, text: str) -> None:
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": "default"},
        "data": {"values.yaml": text},
    }
    if cluster.get("ConfigMap", "default", "settings") is None:
        cluster.create("ConfigMap", obj)
    else:
        cluster.update("ConfigMap", obj)


def contents(observer: Observer, meta: Meta = META, spec: BundleSpec = SPEC) -> list[str]:
    inputs = observer.inputs(meta, spec)
    return [f.content.value for f in inputs.values_files]


def hash_of(observer: Observer, meta: Meta = META, spec: BundleSpec = SPEC) -> str:
    return observer.inputs(meta, spec).values_hash


def test_unchanged_inputs_give_the_same_files_and_hash() -> None:
    _, observer = world()
    first = observer.inputs(META, SPEC)
    assert first == observer.inputs(META, SPEC)
    assert values_hash({"tier": "web", "replicas": 1}, "uid-1") == first.values_hash


def test_a_changed_config_map_is_parsed_and_hashed_again() -> None:
    cluster, observer = world()
    hash_of(observer)
    settings(cluster, "tier: db\n")
    assert ["tier: db\n", "replicas: 1\n"] == contents(observer)
    assert values_hash({"tier": "db", "replicas": 1}, "uid-1") == hash_of(observer)


def test_changed_inline_values_are_read_again() -> None:
    _, observer = world()
    hash_of(observer)
    spec = attrs.evolve(SPEC, converge=attrs.evolve(SPEC.converge, values_json='{"replicas": 3}'))
    assert ["tier: web\n", "replicas: 3\n"] == contents(observer, spec=spec)
    assert values_hash({"tier": "web", "replicas": 3}, "uid-1") == hash_of(observer, spec=spec)


def test_a_recreated_bundle_hashes_with_its_new_uid() -> None:
    _, observer = world()
    hash_of(observer)
    meta = attrs.evolve(META, uid="uid-2")
    assert values_hash({"tier": "web", "replicas": 1}, "uid-2") == hash_of(observer, meta=meta)


def test_a_document_that_stopped_parsing_is_a_problem_again() -> None:
    cluster, observer = world()
    hash_of(observer)
    settings(cluster, "- a list\n")
    inputs = observer.inputs(META, SPEC)
    assert ["spec.converge.valuesFrom[0].configMapRef.name"] == [p.path for p in inputs.problems]
    assert values_hash({"replicas": 1}, "uid-1") == inputs.values_hash


def test_a_bundle_that_switches_repository_follows_only_the_new_one() -> None:
    _, observer = world()
    observer._follow("default/shop", ("ghcr.io/a", "", False))
    observer._follow("default/shop", ("ghcr.io/b", "", False))
    assert {
        ("ghcr.io/a", "", False): set(),
        ("ghcr.io/b", "", False): {"default/shop"},
    } == observer.followers
    observer.forget("default/shop")
    assert [set(), set()] == list(observer.followers.values())


def test_a_bundle_refers_only_to_what_its_last_pass_read() -> None:
    _, observer = world()
    other = attrs.evolve(META, name="cart")
    observer.inputs(META, SPEC)
    observer.inputs(other, SPEC)
    place = ("default", "ConfigMap", "settings")
    assert {"default/shop", "default/cart"} == observer.referrers[place]
    observer.forget_inputs("default/shop")
    observer.inputs(META, attrs.evolve(SPEC, converge=attrs.evolve(SPEC.converge, values_from=())))
    assert {"default/cart"} == observer.referrers[place]
    observer.forget("default/cart")
    assert set() == observer.referrers[place]
