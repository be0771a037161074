"""``decode_bundle`` memoises a spec by identity only for types declared immutable
(``trust_identity``: the in-memory cluster's frozen dicts); a plain dict is always read
by its content, so changing it in place is seen."""

from __future__ import annotations

import copy

from werfop.adapters.frozen import FrozenDict, freeze
from werfop.adapters.memory import MemoryCluster  # noqa: F401  (declares FrozenDict)
from werfop.api import codec
from werfop.api.codec import decode_bundle

BUNDLE = {
    "apiVersion": "werf.io/v1alpha1",
    "kind": "WerfBundle",
    "metadata": {"name": "shop", "namespace": "default", "uid": "u1", "generation": 1},
    "spec": {"registry": {"url": "oci://registry.example/shop", "pollInterval": "5m"}},
}


def test_the_memory_clusters_frozen_dicts_are_trusted() -> None:
    assert FrozenDict in codec._IMMUTABLE_TYPES
    assert dict not in codec._IMMUTABLE_TYPES


def test_a_plain_spec_changed_in_place_is_decoded_again() -> None:
    obj = copy.deepcopy(BUNDLE)
    first, _ = decode_bundle(obj)
    obj["spec"]["registry"]["pollInterval"] = "7m"
    second, _ = decode_bundle(obj)
    assert first is not None and second is not None
    assert 300 == first.spec.registry.poll_interval.total_seconds()
    assert 420 == second.spec.registry.poll_interval.total_seconds()


def test_the_same_frozen_spec_is_decoded_once() -> None:
    obj = freeze(BUNDLE)
    first, _ = decode_bundle(obj)
    assert id(obj["spec"]) in codec._SPECS_BY_IDENTITY
    second, _ = decode_bundle(
        freeze({**BUNDLE, "status": {"phase": "Synced"}, "spec": obj["spec"]})
    )
    assert first is not None and second is not None
    assert first.spec is second.spec


def test_a_new_frozen_spec_is_decoded_by_its_content() -> None:
    decode_bundle(freeze(BUNDLE))
    changed = copy.deepcopy(BUNDLE)
    changed["spec"]["registry"]["pollInterval"] = "9m"
    bundle, problems = decode_bundle(freeze(changed))
    assert [] == problems
    assert bundle is not None and bundle.spec is not None
    assert 540 == bundle.spec.registry.poll_interval.total_seconds()


def test_a_bad_frozen_spec_keeps_its_problems_on_every_read() -> None:
    bad = copy.deepcopy(BUNDLE)
    bad["spec"]["registry"]["pollInterval"] = "1s"
    obj = freeze(bad)
    first = decode_bundle(obj)[1]
    second = decode_bundle(obj)[1]
    assert ["spec.registry.pollInterval"] == [p.path for p in first]
    assert first == second


def test_the_identity_memo_is_bounded(monkeypatch) -> None:
    monkeypatch.setattr(codec, "_SPECS_BY_IDENTITY_MAX", 3)
    monkeypatch.setattr(codec, "_SPECS_BY_IDENTITY", {})
    objects = [freeze(BUNDLE) for _ in range(5)]
    for obj in objects:
        decode_bundle(obj)
    assert [id(o["spec"]) for o in objects[-3:]] == list(codec._SPECS_BY_IDENTITY)
