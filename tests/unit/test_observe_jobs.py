"""The observer's view of a bundle's Jobs: what the listing says, sorted, with the active
Job looked up when a cache lags behind our own create (``runtime.decoded`` keeps the
decodings: tests/unit/test_decoded.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from werfop.adapters.memory import ManualClock
from werfop.adapters.scripted_registry import ScriptedRegistry
from werfop.core import names
from werfop.core.model import Bundle, BundleStatus, Meta
from werfop.runtime.observe import Observer
from werfop.runtime.registry_economy import RegistryEconomy

START = datetime(2026, 1, 1, tzinfo=UTC)
BUNDLE = Bundle(meta=Meta(namespace="default", name="shop", uid="uid-1"), spec=None)


def job(name: str, version: str | None, *, succeeded: bool = False, uid: str | None = None):
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": "default",
        "creationTimestamp": "2026-01-01T00:00:00Z",
        "labels": {names.LABEL_BUNDLE_UID: "uid-1"},
        "annotations": {names.ANNOTATION_TAG: "1.0.0", names.ANNOTATION_ATTEMPT: "1"},
    }
    if version is not None:
        metadata |= {"uid": uid or f"uid-{name}", "resourceVersion": version}
    status = {"succeeded": 1, "completionTime": "2026-01-01T00:01:00Z"} if succeeded else {}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "status": status}


class ListedJobs:
    """The part of ``ClusterPort`` the Job listing uses: answers what the test says."""

    def __init__(self) -> None:
        self.jobs: list[dict[str, Any]] = []

    def list_jobs(self, label_selector: str) -> list[dict[str, Any]]:
        return list(self.jobs)

    def get_job(self, namespace: str, name: str) -> dict[str, Any] | None:
        return None


def observer(cluster: ListedJobs) -> Observer:
    clock = ManualClock(START)
    return Observer(cluster, RegistryEconomy(ScriptedRegistry(clock), clock), clock)  # type: ignore[arg-type]


def test_a_new_job_a_finished_one_and_a_vanished_one_show_at_once() -> None:
    cluster = ListedJobs()
    cluster.jobs = [job("b", "5"), job("a", "4")]
    watcher = observer(cluster)
    assert ["a", "b"] == [j.name for j in watcher._jobs(BUNDLE)]
    cluster.jobs = [job("b", "6", succeeded=True), job("c", "9")]
    assert [("b", "Succeeded"), ("c", "Active")] == [
        (j.name, j.state) for j in watcher._jobs(BUNDLE)
    ]


def test_the_active_job_missing_from_the_listing_is_still_looked_up() -> None:
    class Lagging(ListedJobs):
        def get_job(self, namespace: str, name: str) -> dict[str, Any] | None:
            return job(name, "8") if name == "new" else None

    cluster = Lagging()
    cluster.jobs = [job("a", "4", succeeded=True)]
    watcher = observer(cluster)
    status = BundleStatus(active_job_name="new", active_job_namespace="default")
    bundle = Bundle(meta=BUNDLE.meta, spec=None, status=status)
    assert ["a", "new"] == [j.name for j in watcher._jobs(bundle)]
