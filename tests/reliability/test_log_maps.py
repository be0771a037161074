"""Log ConfigMaps are listed about hourly, not at every poll, and still expire on time
(docs/benchmarks.md, P5: one LIST per poll was a third of a steady poll's API calls)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from support.inmemory import SHOP_URL, World, shop_bundle, values_map
from werfop.core import names
from werfop.core.reconcile import STATUS_LOG_BYTES


class BigLogWorld(World):
    """Every Job prints more than the status keeps: its log goes to a ConfigMap."""

    def _decide_job(self, job: dict[str, Any]) -> tuple[Any, timedelta, str]:
        result, after, text = super()._decide_job(job)
        return result, after, text + "x" * (2 * STATUS_LOG_BYTES) + "\n"


class CountingPort:
    def __init__(self, cluster: Any) -> None:
        self._cluster = cluster
        self.lists = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cluster, name)

    def list_config_maps(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        self.lists += 1
        return self._cluster.list_config_maps(namespace, selector)


def log_maps(world: World) -> list[str]:
    return [
        m["metadata"]["name"]
        for m in world.cluster.list_objects("ConfigMap")
        if (m["metadata"].get("labels") or {}).get(names.LABEL_JOB_KIND) == "logs"
    ]


def test_log_config_maps_are_listed_hourly_and_expire_after_the_retention() -> None:
    ports: list[CountingPort] = []

    def wrap(cluster: Any) -> CountingPort:
        ports.append(CountingPort(cluster))
        return ports[0]

    world = BigLogWorld([values_map(), shop_bundle(poll_interval="1m")], wrap_port=wrap)
    world.registry.push(SHOP_URL, "1.0.0")
    world.run_for(timedelta(hours=3))

    assert 1 == len(log_maps(world))
    polls = sum(1 for _, _, o in world.timeline if o.type == "Polled")
    assert polls >= 150  # every minute for three hours
    # the first pass, the pass after the save, then about once an hour
    assert ports[0].lists <= 3 + 3

    world.run_for(timedelta(days=7))  # logRetentionDays: 7
    assert [] == log_maps(world)
