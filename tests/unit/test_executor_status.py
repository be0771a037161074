"""The executor encodes a status from the bundle's previous encoding: what it writes is
always the full, fresh encoding of the status it was given."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import attrs
import pytest

from support.statuses import sample_status
from support.world import T0
from werfop.adapters.memory import ManualClock, MemoryCluster
from werfop.api.codec import encode_status
from werfop.core.actions import Plan, WriteStatus
from werfop.core.model import Soak
from werfop.runtime.executor import Executor

STATUS = sample_status()
READY = STATUS.conditions[0]


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({}, id="nothing"),
        pytest.param({"poll_count": 2, "last_poll_time": T0 + timedelta(minutes=5)}, id="poll"),
        pytest.param(
            {"conditions": (attrs.evolve(READY, status="False", reason="Failed"),)},
            id="a-new-condition",
        ),
        pytest.param({"selection": None, "version_history": ()}, id="fields-cleared"),
        pytest.param({"soak": Soak(tag="1.0.1", digest="sha256:1", since=T0)}, id="field-set"),
    ],
)
def test_an_encoding_from_the_previous_one_is_the_fresh_encoding(change) -> None:
    changed = attrs.evolve(STATUS, **change)
    previous = (STATUS, encode_status(STATUS))
    assert encode_status(changed) == encode_status(changed, previous)


def test_only_the_same_field_object_takes_its_encoding_from_the_previous_one() -> None:
    stale = encode_status(STATUS) | {"conditions": ["stale"], "versionHistory": ["stale"]}
    equal_but_new = attrs.evolve(STATUS, conditions=(attrs.evolve(READY),))
    encoded = encode_status(equal_but_new, (STATUS, stale))
    assert encode_status(STATUS)["conditions"] == encoded["conditions"]
    assert ["stale"] == encoded["versionHistory"]  # the same object: taken as it was


def test_each_status_written_is_stored_as_its_full_encoding() -> None:
    clock = ManualClock(T0)
    cluster = MemoryCluster(clock)
    created = cluster.create(
        "WerfBundle",
        {
            "apiVersion": "werf.io/v1alpha1",
            "kind": "WerfBundle",
            "metadata": {"name": "shop", "namespace": "default"},
        },
    )
    executor = Executor(cluster, clock)
    version = created["metadata"]["resourceVersion"]
    first = STATUS
    second = attrs.evolve(first, conditions=(attrs.evolve(READY, status="False"),), poll_count=2)
    stored: list[Any] = []
    for status in (first, second):
        executor.execute(
            Plan(
                actions=(
                    WriteStatus(
                        namespace="default", name="shop", resource_version=version, status=status
                    ),
                )
            )
        )
        current = cluster.get_bundle("default", "shop")
        version = current["metadata"]["resourceVersion"]
        stored.append(current["status"])
    assert [encode_status(first), encode_status(second)] == stored
