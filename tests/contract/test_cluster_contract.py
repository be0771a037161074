"""The ``ClusterPort`` contract, run against the twin AND the real adapter.

Every test here runs on three targets: ``MemoryCluster`` (the twin the simulator and the
in-memory tiers use), ``KubernetesApi`` against the API test server (``tests/kubeapi``)
and ``KubernetesApi`` against the real kube-apiserver of the cluster tier (marked
``cluster``). Tests go through the port's methods, as the operator calls them, plus a
few direct operations the operator never makes (creating a bundle, deleting it, reading
Events back), and assert what the real API server does: where the twin or the test
server answered otherwise, they were fixed, never this suite.

Covered: list-then-watch and resuming a watch, 409 on a stale resourceVersion, the
status subresource's isolation, label selectors, merge patches of the finalizers,
finalizers and deletion, owner references and garbage collection, Events.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pytest
from kubernetes import config

from kubeapi.fixtures import kube_api, kube_api_factory, kube_api_kubeconfig  # noqa: F401
from support.controlplane import ControlPlane
from werfop.adapters.kubernetes import KubernetesApi
from werfop.adapters.memory import ManualClock, MemoryCluster
from werfop.core.errors import AlreadyExistsError, ConflictError, NotFoundError, TerminalError
from werfop.core.ports import ClusterPort, Obj, Watch, WatchEvent

T = TypeVar("T")
MANAGED = {"app.kubernetes.io/managed-by": "werfop"}
FINALIZER = "werf.io/cleanup"
SPEC = {"registry": {"url": "registry.example/team/app"}}
# SPEC as the real API server stores it: the CRD's structural defaults applied.
STORED_SPEC = {
    "registry": {
        "url": "registry.example/team/app",
        "pollInterval": "15m",
        "insecure": False,
        "allowDowngrade": False,
        "minAge": "0s",
    },
    "converge": {
        "resourceLimits": {"cpu": "1", "memory": "1Gi"},
        "timeout": "15m",
        "image": "registry.werf.io/werf/werf:2-stable",
        "logRetentionDays": 7,
        "maxAttempts": 3,
        "redeployOnValuesChange": True,
        "deletionPolicy": "Retain",
        "remediation": {"strategy": "None"},
        "driftDetection": {"enabled": False, "interval": "15m", "mode": "Report", "maxRetries": 3},
    },
    "suspend": False,
}


class Target(Protocol):
    """A cluster under test: the port, a fresh namespace, and what the operator never
    does itself (someone else creating or deleting a bundle, reading Events back)."""

    cluster: ClusterPort
    namespace: str

    def create_bundle(self, name: str, **metadata: Any) -> Obj: ...
    def patch_bundle(self, name: str, patch: Obj) -> Obj: ...
    def delete_bundle(self, name: str) -> None: ...
    def events(self) -> list[Obj]: ...
    def watch(self) -> Recorder: ...
    def interrupt_watch(self) -> None: ...


class Recorder:
    """The WatchEvents of WerfBundles and Jobs in one namespace, in arrival order."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.events: list[tuple[str, WatchEvent]] = []
        self.lock = threading.Lock()

    def __call__(self, kind: str, event: WatchEvent) -> None:
        if kind in ("WerfBundle", "Job") and _ns(event.object) == self.namespace:
            with self.lock:
                self.events.append((kind, event))

    def wait(self, count: int, name: str) -> list[tuple[str, str, str, str]]:
        """The events of ``name`` seen so far, once there are at least ``count``."""

        def enough() -> list[tuple[str, str, str, str]] | None:
            found = [e for e in self.seen() if e[2] == name]
            return found if len(found) >= count else None

        return eventually(enough, f"{count} watch events for {name}")

    def seen(self) -> list[tuple[str, str, str, str]]:
        """(kind, type, name, resourceVersion) of each event so far."""
        with self.lock:
            return [
                (
                    kind,
                    e.type,
                    e.object["metadata"]["name"],
                    e.object["metadata"]["resourceVersion"],
                )
                for kind, e in self.events
            ]


def _ns(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("namespace", ""))


def _bundle(namespace: str, name: str, **metadata: Any) -> Obj:
    return {
        "apiVersion": "werf.io/v1alpha1",
        "kind": "WerfBundle",
        "metadata": {"name": name, "namespace": namespace, **metadata},
        "spec": SPEC,
    }


class MemoryTarget:
    def __init__(self) -> None:
        self.memory = MemoryCluster(ManualClock(datetime(2026, 1, 1, tzinfo=UTC)))
        self.cluster: ClusterPort = self.memory
        self.namespace = "contract"
        self.memory.create("Namespace", {"metadata": {"name": self.namespace}})

    def create_bundle(self, name: str, **metadata: Any) -> Obj:
        return self.memory.create("WerfBundle", _bundle(self.namespace, name, **metadata))

    def patch_bundle(self, name: str, patch: Obj) -> Obj:
        return self.memory.patch("WerfBundle", self.namespace, name, patch)

    def delete_bundle(self, name: str) -> None:
        self.memory.delete("WerfBundle", self.namespace, name)

    def events(self) -> list[Obj]:
        return self.memory.list_objects("Event", self.namespace)

    def watch(self) -> Recorder:
        recorder = Recorder(self.namespace)
        watch = self.cluster.watch(recorder)  # the port's watch, as on the real server
        assert watch.synced() and watch.alive()
        return recorder

    def interrupt_watch(self) -> None:
        """Nothing to interrupt: the twin calls its listeners as it writes."""


class ApiTarget:
    """``KubernetesApi`` on a server given by a kubeconfig, with informers as the
    operator runs them (a short read timeout, so a test can make them reconnect)."""

    READ_TIMEOUT = 1.0

    def __init__(self, kubeconfig: Path, namespace: str) -> None:
        self.client = config.new_client_from_config(config_file=str(kubeconfig))
        self.api = KubernetesApi(self.client, watch_read_timeout=self.READ_TIMEOUT)
        self.cluster = self.api
        self.namespace = namespace
        self.watches: list[Watch] = []
        self.api.request("POST", "/api/v1/namespaces", body={"metadata": {"name": namespace}})

    def close(self) -> None:
        for watch in self.watches:
            watch.stop(timeout=10)
            assert not watch.alive()
        try:
            self.api.request("DELETE", f"/api/v1/namespaces/{self.namespace}")
        finally:
            self.client.close()

    def _bundles(self, name: str = "") -> str:
        path = f"/apis/werf.io/v1alpha1/namespaces/{self.namespace}/werfbundles"
        return f"{path}/{name}" if name else path

    def create_bundle(self, name: str, **metadata: Any) -> Obj:
        made = self.api.request(
            "POST", self._bundles(), body=_bundle(self.namespace, name, **metadata)
        )
        assert isinstance(made, dict)
        return made

    def patch_bundle(self, name: str, patch: Obj) -> Obj:
        patched = self.api.request(
            "PATCH",
            self._bundles(name),
            body=patch,
            content_type="application/merge-patch+json",
        )
        assert isinstance(patched, dict)
        return patched

    def delete_bundle(self, name: str) -> None:
        self.api.request("DELETE", self._bundles(name), body={"propagationPolicy": "Background"})

    def events(self) -> list[Obj]:
        listed = self.api.request("GET", f"/api/v1/namespaces/{self.namespace}/events")
        return list(listed.get("items", []))

    def watch(self) -> Recorder:
        recorder = Recorder(self.namespace)
        watch = self.cluster.watch(recorder)  # the port's watch: informers in threads
        self.watches.append(watch)
        eventually(watch.synced, "the watch's informers to list")
        assert watch.alive()
        return recorder

    def interrupt_watch(self) -> None:
        """Let every watch fall silent for longer than its read timeout: the informers
        reconnect from their last resourceVersion, as after any broken stream."""
        time.sleep(self.READ_TIMEOUT * 2.5)


@pytest.fixture(
    params=[
        pytest.param("memory"),
        pytest.param("kubeapi"),
        pytest.param("real", marks=pytest.mark.cluster),
    ]
)
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    if request.param == "memory":
        yield MemoryTarget()
        return
    namespace = f"contract-{uuid.uuid4().hex[:8]}"
    if request.param == "kubeapi":
        kubeconfig = request.getfixturevalue("kube_api_kubeconfig")
    else:
        plane: ControlPlane = request.getfixturevalue("plane")
        request.getfixturevalue("deployed")  # the CRD, established
        kubeconfig = plane.kubeconfig
    made = ApiTarget(kubeconfig, namespace)
    yield made
    made.close()


def eventually(check: Callable[[], T], what: str, seconds: float = 30.0) -> T:
    """``check()`` once it is truthy: the real garbage collector and watches are
    asynchronous, the twin's are not (there the first call answers)."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            assert value, f"timed out after {seconds} s waiting for {what}"
            return value
        time.sleep(0.1)


def job(namespace: str, name: str, labels: dict[str, str] | None = None, **meta: Any) -> Obj:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {**MANAGED, **(labels or {})},
            **meta,
        },
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "werf", "image": "registry.example/werf:2"}],
                }
            },
        },
    }


def owned_by(obj: Obj) -> list[Obj]:
    meta = obj["metadata"]
    return [
        {
            "apiVersion": obj["apiVersion"],
            "kind": obj["kind"],
            "name": meta["name"],
            "uid": meta["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]


def rv(obj: Obj) -> str:
    return str(obj["metadata"]["resourceVersion"])


STATUS = {"phase": "Synced", "observedGeneration": 1, "lastAppliedTag": "1.0.0"}


# --- reads ------------------------------------------------------------------------------


def test_a_created_bundle_is_read_with_identity_generation_one_and_defaults(
    target: Target,
) -> None:
    made = target.create_bundle("app", labels={"team": "a"})

    got = target.cluster.get_bundle(target.namespace, "app")
    listed = [b for b in target.cluster.list_bundles() if _ns(b) == target.namespace]

    assert (made["metadata"]["uid"], rv(made), 1) == (
        got["metadata"]["uid"],
        rv(got),
        got["metadata"]["generation"],
    )
    assert ["app"] == [b["metadata"]["name"] for b in listed]
    assert STORED_SPEC == got["spec"] and {"team": "a"} == got["metadata"]["labels"]


def test_a_missing_bundle_is_not_found_and_missing_objects_read_as_none(target: Target) -> None:
    with pytest.raises(NotFoundError):
        target.cluster.get_bundle(target.namespace, "absent")

    assert [None] * 4 == [
        target.cluster.get_job(target.namespace, "absent"),
        target.cluster.get_secret(target.namespace, "absent"),
        target.cluster.get_config_map(target.namespace, "absent"),
        target.cluster.get_service_account(target.namespace, "absent"),
    ]
    assert target.cluster.get_namespace(target.namespace) is not None
    assert target.cluster.get_namespace(f"absent-{uuid.uuid4().hex[:6]}") is None


def test_creating_a_job_twice_is_already_exists(target: Target) -> None:
    target.cluster.create_job(job(target.namespace, "deploy"))

    with pytest.raises(AlreadyExistsError):
        target.cluster.create_job(job(target.namespace, "deploy"))


def test_creating_a_job_in_a_missing_namespace_is_not_found(target: Target) -> None:
    with pytest.raises(NotFoundError):
        target.cluster.create_job(job(f"absent-{uuid.uuid4().hex[:6]}", "deploy"))


def test_deleting_a_missing_job_is_not_found(target: Target) -> None:
    with pytest.raises(NotFoundError):
        target.cluster.delete_job(target.namespace, "absent")


# --- 409 on a stale resourceVersion ------------------------------------------------------


def test_a_status_write_with_a_stale_resource_version_is_a_conflict(target: Target) -> None:
    made = target.create_bundle("app")
    target.cluster.patch_bundle_metadata(target.namespace, "app", rv(made), [FINALIZER])

    with pytest.raises(ConflictError):
        target.cluster.replace_bundle_status(target.namespace, "app", rv(made), STATUS)
    assert "status" not in target.cluster.get_bundle(target.namespace, "app")


def test_a_finalizer_patch_with_a_stale_resource_version_is_a_conflict(target: Target) -> None:
    made = target.create_bundle("app")
    target.cluster.replace_bundle_status(target.namespace, "app", rv(made), STATUS)

    with pytest.raises(ConflictError):
        target.cluster.patch_bundle_metadata(target.namespace, "app", rv(made), [FINALIZER])
    assert [] == target.cluster.get_bundle(target.namespace, "app")["metadata"].get(
        "finalizers", []
    )


def test_a_write_with_the_current_resource_version_succeeds_and_moves_it(target: Target) -> None:
    made = target.create_bundle("app")

    written = target.cluster.replace_bundle_status(target.namespace, "app", rv(made), STATUS)
    patched = target.cluster.patch_bundle_metadata(
        target.namespace, "app", rv(written), [FINALIZER]
    )

    assert len({rv(made), rv(written), rv(patched)}) == 3
    assert rv(patched) == rv(target.cluster.get_bundle(target.namespace, "app"))


# --- the status subresource ------------------------------------------------------------


def test_a_status_write_changes_only_the_status(target: Target) -> None:
    made = target.create_bundle(
        "app", labels={"team": "a"}, annotations={"note": "kept"}, finalizers=[FINALIZER]
    )

    written = target.cluster.replace_bundle_status(target.namespace, "app", rv(made), STATUS)

    got = target.cluster.get_bundle(target.namespace, "app")
    assert STATUS == written["status"] == got["status"]
    assert (STORED_SPEC, 1) == (got["spec"], got["metadata"]["generation"])
    assert {"team": "a"} == got["metadata"]["labels"]
    assert {"note": "kept"} == got["metadata"]["annotations"]
    assert [FINALIZER] == got["metadata"]["finalizers"]


def test_a_status_write_replaces_the_whole_status(target: Target) -> None:
    made = target.create_bundle("app")
    first = target.cluster.replace_bundle_status(target.namespace, "app", rv(made), STATUS)

    second = target.cluster.replace_bundle_status(
        target.namespace, "app", rv(first), {"phase": "Failed"}
    )

    assert {"phase": "Failed"} == second["status"]
    assert {"phase": "Failed"} == target.cluster.get_bundle(target.namespace, "app")["status"]


def test_writing_the_same_status_again_keeps_the_resource_version(target: Target) -> None:
    made = target.create_bundle("app")
    first = target.cluster.replace_bundle_status(target.namespace, "app", rv(made), STATUS)

    again = target.cluster.replace_bundle_status(target.namespace, "app", rv(first), STATUS)

    assert rv(first) == rv(again)


def test_the_generation_moves_with_the_spec_and_nothing_else(target: Target) -> None:
    """``runtime.decoded`` validates a spec again only when the generation moved."""
    made = target.create_bundle("app")
    written = target.cluster.replace_bundle_status(target.namespace, "app", rv(made), STATUS)
    labelled = target.patch_bundle(
        "app", {"metadata": {"labels": {"team": "a"}, "annotations": {"note": "x"}}}
    )
    respecced = target.patch_bundle("app", {"spec": {"registry": {"pollInterval": "7m"}}})
    unchanged = target.patch_bundle("app", {"spec": {"registry": {"pollInterval": "7m"}}})

    generations = [o["metadata"]["generation"] for o in (made, written, labelled, respecced)]
    assert [1, 1, 1, 2] == generations
    assert (2, rv(respecced)) == (unchanged["metadata"]["generation"], rv(unchanged))
    assert len({rv(made), rv(written), rv(labelled), rv(respecced)}) == 4


def test_a_finalizer_patch_leaves_the_status_and_generation_alone(target: Target) -> None:
    made = target.create_bundle("app")
    written = target.cluster.replace_bundle_status(target.namespace, "app", rv(made), STATUS)

    patched = target.cluster.patch_bundle_metadata(
        target.namespace, "app", rv(written), [FINALIZER]
    )

    assert (STATUS, 1) == (patched["status"], patched["metadata"]["generation"])


# --- merge patches of the finalizers ---------------------------------------------------


def test_a_finalizer_patch_replaces_the_list_and_keeps_the_other_metadata(target: Target) -> None:
    made = target.create_bundle(
        "app", labels={"team": "a"}, annotations={"note": "kept"}, finalizers=["a.io/x", FINALIZER]
    )

    patched = target.cluster.patch_bundle_metadata(target.namespace, "app", rv(made), [FINALIZER])

    got = target.cluster.get_bundle(target.namespace, "app")
    assert [FINALIZER] == patched["metadata"]["finalizers"] == got["metadata"]["finalizers"]
    assert ({"team": "a"}, {"note": "kept"}) == (
        got["metadata"]["labels"],
        got["metadata"]["annotations"],
    )
    assert STORED_SPEC == got["spec"]


def test_a_finalizer_patch_with_an_empty_list_removes_every_finalizer(target: Target) -> None:
    made = target.create_bundle("app", finalizers=["a.io/x", FINALIZER])

    target.cluster.patch_bundle_metadata(target.namespace, "app", rv(made), [])

    assert [] == target.cluster.get_bundle(target.namespace, "app")["metadata"].get(
        "finalizers", []
    )


# --- finalizers and deletion -------------------------------------------------------------


def test_deleting_a_bundle_with_a_finalizer_only_marks_it(target: Target) -> None:
    target.create_bundle("app", finalizers=[FINALIZER])

    target.delete_bundle("app")

    got = target.cluster.get_bundle(target.namespace, "app")
    assert got["metadata"].get("deletionTimestamp")
    assert [FINALIZER] == got["metadata"]["finalizers"]


def test_removing_the_last_finalizer_of_a_deleted_bundle_removes_it(target: Target) -> None:
    target.create_bundle("app", finalizers=[FINALIZER])
    target.delete_bundle("app")
    marked = target.cluster.get_bundle(target.namespace, "app")

    target.cluster.patch_bundle_metadata(target.namespace, "app", rv(marked), [])

    with pytest.raises(NotFoundError):
        target.cluster.get_bundle(target.namespace, "app")


def test_no_finalizer_can_be_added_to_a_bundle_being_deleted(target: Target) -> None:
    target.create_bundle("app", finalizers=[FINALIZER])
    target.delete_bundle("app")
    marked = target.cluster.get_bundle(target.namespace, "app")

    with pytest.raises(TerminalError, match="no new finalizers"):
        target.cluster.patch_bundle_metadata(
            target.namespace, "app", rv(marked), [FINALIZER, "a.io/late"]
        )

    assert [FINALIZER] == target.cluster.get_bundle(target.namespace, "app")["metadata"][
        "finalizers"
    ]


def test_a_status_write_on_a_bundle_being_deleted_still_succeeds(target: Target) -> None:
    made = target.create_bundle("app", finalizers=[FINALIZER])
    target.delete_bundle("app")
    marked = target.cluster.get_bundle(target.namespace, "app")

    written = target.cluster.replace_bundle_status(target.namespace, "app", rv(marked), STATUS)

    assert STATUS == written["status"] and rv(made) != rv(written)
    assert written["metadata"].get("deletionTimestamp")


# --- label selectors --------------------------------------------------------------------

SELECTOR_CASES = [
    pytest.param("tier=web", ["web-a", "web-b"], id="equality"),
    pytest.param("tier==web", ["web-a", "web-b"], id="double-equality"),
    pytest.param("tier!=web", ["db", "plain"], id="inequality-includes-unlabelled"),
    pytest.param("tier in (web,db)", ["db", "web-a", "web-b"], id="in"),
    pytest.param("tier notin (web)", ["db", "plain"], id="notin-includes-unlabelled"),
    pytest.param("tier", ["db", "web-a", "web-b"], id="exists"),
    pytest.param("!tier", ["plain"], id="not-exists"),
    pytest.param("tier=web,zone=b", ["web-b"], id="and"),
    pytest.param("tier=cache", [], id="no-match"),
    pytest.param("", ["db", "plain", "web-a", "web-b"], id="everything"),
]

LABELLED = {
    "web-a": {"tier": "web", "zone": "a"},
    "web-b": {"tier": "web", "zone": "b"},
    "db": {"tier": "db", "zone": "a"},
    "plain": {},
}


def scoped(target: Target, selector: str) -> str:
    """``selector`` limited to this test's objects (the real server holds others)."""
    return ",".join(term for term in (f"contract-run={target.namespace}", selector) if term)


@pytest.mark.parametrize(("selector", "expected"), SELECTOR_CASES)
def test_jobs_are_listed_by_label_selector(
    target: Target, selector: str, expected: list[str]
) -> None:
    run = {"contract-run": target.namespace}
    for name, labels in LABELLED.items():
        target.cluster.create_job(job(target.namespace, name, {**labels, **run}))

    listed = target.cluster.list_jobs(scoped(target, selector))

    assert expected == sorted(j["metadata"]["name"] for j in listed)


@pytest.mark.parametrize(("selector", "expected"), SELECTOR_CASES)
def test_config_maps_are_listed_by_label_selector(
    target: Target, selector: str, expected: list[str]
) -> None:
    run = {"contract-run": target.namespace}  # the real server adds kube-root-ca.crt
    for name, labels in LABELLED.items():
        target.cluster.apply_config_map(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": name,
                    "namespace": target.namespace,
                    "labels": {**labels, **run},
                },
                "data": {"k": "v"},
            }
        )

    listed = target.cluster.list_config_maps(target.namespace, scoped(target, selector))

    assert expected == sorted(c["metadata"]["name"] for c in listed)


def test_only_werfops_jobs_are_listed(target: Target) -> None:
    run = {"contract-run": target.namespace}
    target.cluster.create_job(job(target.namespace, "ours", run))
    foreign = job(target.namespace, "theirs", run)
    foreign["metadata"]["labels"]["app.kubernetes.io/managed-by"] = "someone-else"
    target.cluster.create_job(foreign)

    listed = target.cluster.list_jobs(f"contract-run={target.namespace}")

    assert ["ours"] == [j["metadata"]["name"] for j in listed]


def test_applying_a_config_map_again_replaces_its_data_and_labels(target: Target) -> None:
    def config_map(data: dict[str, str], labels: dict[str, str]) -> Obj:
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "logs", "namespace": target.namespace, "labels": labels},
            "data": data,
        }

    target.cluster.apply_config_map(config_map({"a": "1", "b": "2"}, {"old": "x"}))
    target.cluster.apply_config_map(config_map({"a": "3"}, {"new": "y"}))

    got = target.cluster.get_config_map(target.namespace, "logs")
    assert got is not None
    assert ({"a": "3"}, {"new": "y"}) == (dict(got["data"]), dict(got["metadata"]["labels"]))
    assert [] == target.cluster.list_config_maps(target.namespace, "old=x")


# --- owner references and garbage collection ---------------------------------------------


def test_a_jobs_owned_secret_goes_with_the_job(target: Target) -> None:
    created = target.cluster.create_job(job(target.namespace, "deploy"))
    target.cluster.create_secret(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": "deploy-inputs",
                "namespace": target.namespace,
                "ownerReferences": owned_by(created),
            },
            "data": {"values.yaml": "e30="},
        }
    )
    assert target.cluster.get_secret(target.namespace, "deploy-inputs") is not None

    target.cluster.delete_job(target.namespace, "deploy")

    eventually(lambda: target.cluster.get_job(target.namespace, "deploy") is None, "the Job to go")
    eventually(
        lambda: target.cluster.get_secret(target.namespace, "deploy-inputs") is None,
        "the garbage collector to delete the Job's Secret",
    )


def test_a_bundles_owned_job_goes_with_the_bundle(target: Target) -> None:
    bundle = target.create_bundle("app")
    target.cluster.create_job(job(target.namespace, "deploy", ownerReferences=owned_by(bundle)))

    target.delete_bundle("app")

    eventually(
        lambda: target.cluster.get_job(target.namespace, "deploy") is None,
        "the garbage collector to delete the bundle's Job",
    )


def test_an_owner_reference_is_kept_as_written(target: Target) -> None:
    bundle = target.create_bundle("app")

    created = target.cluster.create_job(
        job(target.namespace, "deploy", ownerReferences=owned_by(bundle))
    )

    got = target.cluster.get_job(target.namespace, "deploy")
    assert got is not None
    assert owned_by(bundle) == created["metadata"]["ownerReferences"]
    assert owned_by(bundle) == got["metadata"]["ownerReferences"]


# --- Events ------------------------------------------------------------------------------


def event(namespace: str, bundle: Obj, name: str, reason: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": namespace},
        "involvedObject": {
            "apiVersion": "werf.io/v1alpha1",
            "kind": "WerfBundle",
            "name": bundle["metadata"]["name"],
            "namespace": namespace,
            "uid": bundle["metadata"]["uid"],
        },
        "type": "Normal",
        "reason": reason,
        "message": f"{reason} happened",
        "source": {"component": "werfop"},
        "reportingComponent": "werfop",
        "reportingInstance": "werfop",
        "firstTimestamp": "2026-01-01T00:00:00Z",
        "lastTimestamp": "2026-01-01T00:00:00Z",
        "count": 1,
    }


def test_an_event_is_recorded_against_its_bundle(target: Target) -> None:
    bundle = target.create_bundle("app")

    target.cluster.create_event(event(target.namespace, bundle, "app.1", "JobCreated"))

    [found] = target.events()
    assert ("JobCreated", "JobCreated happened", "Normal") == (
        found["reason"],
        found["message"],
        found["type"],
    )
    assert (bundle["metadata"]["uid"], "WerfBundle", "app") == (
        found["involvedObject"]["uid"],
        found["involvedObject"]["kind"],
        found["involvedObject"]["name"],
    )


def test_the_same_event_twice_is_recorded_once(target: Target) -> None:
    bundle = target.create_bundle("app")

    target.cluster.create_event(event(target.namespace, bundle, "app.1", "JobCreated"))
    target.cluster.create_event(event(target.namespace, bundle, "app.1", "JobCreated"))
    target.cluster.create_event(event(target.namespace, bundle, "app.2", "JobSucceeded"))

    assert ["JobCreated", "JobSucceeded"] == sorted(e["reason"] for e in target.events())


# --- list-then-watch and resumption --------------------------------------------------------


def test_a_watch_starts_from_what_is_listed_and_reports_every_later_change_in_order(
    target: Target,
) -> None:
    before = target.create_bundle("before")
    recorder = target.watch()
    listed = [b for b in target.cluster.list_bundles() if _ns(b) == target.namespace]

    made = target.create_bundle("app", finalizers=[FINALIZER])
    written = target.cluster.replace_bundle_status(target.namespace, "app", rv(made), STATUS)
    target.delete_bundle("app")
    marked = eventually(  # the operator reads from its watch's cache
        lambda: (
            (got := target.cluster.get_bundle(target.namespace, "app"))["metadata"].get(
                "deletionTimestamp"
            )
            and got
        ),
        "the bundle marked for deletion",
    )
    target.cluster.patch_bundle_metadata(target.namespace, "app", rv(marked), [])

    assert [("before", rv(before))] == [(b["metadata"]["name"], rv(b)) for b in listed]
    expected = [
        ("WerfBundle", "ADDED", "app", rv(made)),
        ("WerfBundle", "MODIFIED", "app", rv(written)),
        ("WerfBundle", "MODIFIED", "app", rv(marked)),
        ("WerfBundle", "DELETED", "app"),
    ]
    seen = recorder.wait(len(expected), "app")
    assert expected[:3] == seen[:3]
    assert expected[3] == seen[3][:3] and len(seen) == 4


def test_a_watch_reports_werfops_jobs(target: Target) -> None:
    recorder = target.watch()

    created = target.cluster.create_job(job(target.namespace, "deploy"))
    target.cluster.delete_job(target.namespace, "deploy")

    seen = eventually(
        lambda: (seen := recorder.seen()) and seen[-1][1] == "DELETED" and seen,
        "the Job's DELETED event",
    )
    assert ("Job", "ADDED", "deploy", rv(created)) == seen[0]
    assert ("Job", "DELETED", "deploy") == seen[-1][:3]


def test_a_resumed_watch_misses_nothing_and_repeats_nothing(target: Target) -> None:
    recorder = target.watch()
    made = target.create_bundle("app")
    recorder.wait(1, "app")

    target.interrupt_watch()
    written = target.cluster.replace_bundle_status(target.namespace, "app", rv(made), STATUS)
    target.interrupt_watch()
    again = target.cluster.replace_bundle_status(
        target.namespace, "app", rv(written), {"phase": "Failed"}
    )

    expected = [
        ("WerfBundle", "ADDED", "app", rv(made)),
        ("WerfBundle", "MODIFIED", "app", rv(written)),
        ("WerfBundle", "MODIFIED", "app", rv(again)),
    ]
    recorder.wait(3, "app")
    # A later write's event comes through the same informer after anything the resumed
    # watch would repeat: once it arrived, a duplicate would have shown.
    target.create_bundle("later")
    recorder.wait(1, "later")
    assert expected == [e for e in recorder.seen() if e[2] != "later"]


def test_a_bundle_read_after_a_write_is_at_least_that_new(target: Target) -> None:
    """The operator reads bundles from its informer's cache: a write it made itself is
    never lost to an older cached copy."""
    made = target.create_bundle("app")
    target.watch()

    written = target.cluster.replace_bundle_status(target.namespace, "app", rv(made), STATUS)

    assert STATUS == target.cluster.get_bundle(target.namespace, "app")["status"]
    assert int(rv(written)) <= int(rv(target.cluster.get_bundle(target.namespace, "app")))
