"""What the executor writes is always the full encoding of the status it was given."""

from __future__ import annotations

from typing import Any

import attrs

from support.statuses import sample_status
from support.world import T0
from werfop.adapters.memory import ManualClock, MemoryCluster
from werfop.api.codec import encode_status
from werfop.core.actions import Plan, WriteStatus
from werfop.runtime.executor import Executor

STATUS = sample_status()
READY = STATUS.conditions[0]


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
