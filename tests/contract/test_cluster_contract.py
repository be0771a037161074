"""One behavioural contract for the cluster port, run on three implementations: the
in-memory twin (``MemoryCluster``, the simulator's and the state machine's world), the
real adapter (``KubernetesApi``) against our API test server (tests/kubeapi), and the
real adapter against the real kube-apiserver (tests/cluster's control plane). Where the
twins disagree with the real server, the twin is fixed, not this suite.

Each test goes through the port's own methods, as the operator calls them: optimistic
concurrency (409 on a stale resourceVersion), status subresource isolation, finalizers
and deletion, label selectors, owner references and the garbage collector, idempotent
creates and deletes, reads of what is missing.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import pytest
from kubernetes import config

from kubeapi.fixtures import kube_api, kube_api_factory
from support.registry.clock import ManualClock
from werfop.adapters.kubernetes import KubernetesApi
from werfop.adapters.memory import MemoryCluster
from werfop.core.errors import AlreadyExistsError, ConflictError, NotFoundError

__all__ = ["kube_api", "kube_api_factory"]

KINDS = {
    "namespaces": "Namespace",
    "werfbundles": "WerfBundle",
    "jobs": "Job",
    "secrets": "Secret",
    "configmaps": "ConfigMap",
    "events": "Event",
}
LABELS = {"app.kubernetes.io/managed-by": "werfop"}


@attrs.define
class Target:
    """A cluster port, a way to put objects behind it, and a namespace that exists."""

    name: str
    port: Any
    seed: Callable[[str, dict[str, Any]], Any]
    namespace: str
    settle: Callable[[Callable[[], bool], str], None]
    # Read behind the port (its reads may come from a cache fed by the informers, which
    # a contract test does not run): does the server still hold this object?
    exists: Callable[[str, str], bool]


def _eventually(check: Callable[[], bool], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@pytest.fixture(
    params=["memory", "api-test-server", pytest.param("real", marks=pytest.mark.cluster)]
)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    namespace = f"contract-{uuid.uuid4().hex[:8]}"
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
    if request.param == "memory":
        twin = MemoryCluster(ManualClock(datetime(2026, 1, 1, tzinfo=UTC)))

        def seed(resource: str, obj: dict[str, Any]) -> Any:
            return twin.create(KINDS[resource], obj)

        seed("namespaces", ns)
        yield Target(
            name="memory",
            port=twin,
            seed=seed,
            namespace=namespace,
            settle=_eventually,
            exists=lambda r, n: twin.get(KINDS[r], namespace, n) is not None,
        )
        return
    if request.param == "api-test-server":
        server = request.getfixturevalue("kube_api")
        client = config.new_client_from_config(
            config_file=str(server.write_kubeconfig(tmp_path / "kubeconfig"))
        )
        server.create("namespaces", ns)
        yield Target(
            name="api-test-server",
            port=KubernetesApi(client),
            seed=server.create,
            namespace=namespace,
            settle=_eventually,
            exists=lambda r, n: server.get(r, namespace, n) is not None,
        )
        client.close()
        return
    plane = request.getfixturevalue("plane")
    admin = request.getfixturevalue("admin")
    request.getfixturevalue("deployed")  # the CRD
    client = config.new_client_from_config(config_file=str(plane.kubeconfig))
    admin.create("namespaces", ns)
    yield Target(
        name="real",
        port=KubernetesApi(client),
        seed=admin.create,
        namespace=namespace,
        settle=_eventually,
        exists=lambda r, n: admin.get(r, namespace, n) is not None,
    )
    admin.delete("namespaces", None, namespace)
    client.close()


def _bundle(target: Target, name: str = "shop") -> dict[str, Any]:
    target.seed(
        "werfbundles",
        {
            "apiVersion": "werf.io/v1alpha1",
            "kind": "WerfBundle",
            "metadata": {"name": name, "namespace": target.namespace, "labels": LABELS},
            "spec": {"registry": {"url": "ghcr.io/acme/shop", "versionConstraint": "^1"}},
        },
    )
    return target.port.get_bundle(target.namespace, name)


def _job(target: Target, name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": target.namespace, "labels": labels or dict(LABELS)},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": {"labels": labels or dict(LABELS)},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "werf", "image": "x"}]},
            },
        },
    }


def test_a_missing_bundle_is_not_found_and_missing_objects_read_as_none(target: Target):
    with pytest.raises(NotFoundError):
        target.port.get_bundle(target.namespace, "nosuch")

    assert (None, None, None) == (
        target.port.get_job(target.namespace, "nosuch"),
        target.port.get_secret(target.namespace, "nosuch"),
        target.port.get_config_map(target.namespace, "nosuch"),
    )


def test_a_status_write_with_a_stale_resource_version_is_a_conflict(target: Target):
    bundle = _bundle(target)
    stale = bundle["metadata"]["resourceVersion"]
    target.port.replace_bundle_status(target.namespace, "shop", stale, {"phase": "Pending"})

    with pytest.raises(ConflictError):
        target.port.replace_bundle_status(target.namespace, "shop", stale, {"phase": "Synced"})


def test_a_metadata_patch_with_a_stale_resource_version_is_a_conflict(target: Target):
    bundle = _bundle(target)
    stale = bundle["metadata"]["resourceVersion"]
    target.port.replace_bundle_status(target.namespace, "shop", stale, {"phase": "Pending"})

    with pytest.raises(ConflictError):
        target.port.patch_bundle_metadata(target.namespace, "shop", stale, ["werf.io/finalizer"])


def test_the_status_subresource_changes_the_status_only(target: Target):
    bundle = _bundle(target)

    written = target.port.replace_bundle_status(
        target.namespace, "shop", bundle["metadata"]["resourceVersion"], {"phase": "Synced"}
    )
    read = target.port.get_bundle(target.namespace, "shop")

    assert "Synced" == read["status"]["phase"] == written["status"]["phase"]
    assert bundle["spec"] == read["spec"]
    assert bundle["metadata"]["generation"] == read["metadata"]["generation"]
    assert bundle["metadata"]["resourceVersion"] != read["metadata"]["resourceVersion"]


def test_a_finalizer_holds_a_deleted_bundle_until_it_is_removed(target: Target):
    bundle = _bundle(target)
    patched = target.port.patch_bundle_metadata(
        target.namespace, "shop", bundle["metadata"]["resourceVersion"], ["werf.io/finalizer"]
    )
    assert ["werf.io/finalizer"] == patched["metadata"]["finalizers"]

    _delete(target, "werfbundles", "shop")  # by someone else: a newer resourceVersion
    with pytest.raises(ConflictError):
        target.port.patch_bundle_metadata(
            target.namespace, "shop", patched["metadata"]["resourceVersion"], []
        )
    held = target.port.get_bundle(target.namespace, "shop")  # after a conflict: current
    target.port.patch_bundle_metadata(
        target.namespace, "shop", held["metadata"]["resourceVersion"], []
    )

    assert held["metadata"].get("deletionTimestamp")
    assert ["werf.io/finalizer"] == held["metadata"]["finalizers"]
    target.settle(
        lambda: not target.exists("werfbundles", "shop"), "the bundle gone once its finalizer went"
    )


def _delete(target: Target, resource: str, name: str) -> None:
    port = target.port
    if isinstance(port, MemoryCluster):
        port.delete(KINDS[resource], target.namespace, name)
        return
    path = {
        "werfbundles": f"/apis/werf.io/v1alpha1/namespaces/{target.namespace}/werfbundles/{name}",
    }[resource]
    port.request("DELETE", path, what=f"{resource} {target.namespace}/{name}")


def test_jobs_are_listed_by_label_selector(target: Target):
    target.port.create_job(_job(target, "ours"))
    target.port.create_job(_job(target, "theirs", labels={"app": "other"}))

    names = {
        j["metadata"]["name"]
        for j in target.port.list_jobs("app.kubernetes.io/managed-by=werfop")
        if j["metadata"]["namespace"] == target.namespace
    }

    assert {"ours"} == names


def test_creating_a_job_twice_is_already_exists_and_deleting_a_gone_one_is_not_found(
    target: Target,
):
    target.port.create_job(_job(target, "once"))

    with pytest.raises(AlreadyExistsError):
        target.port.create_job(_job(target, "once"))
    target.port.delete_job(target.namespace, "once")
    target.settle(lambda: target.port.get_job(target.namespace, "once") is None, "the Job gone")
    with pytest.raises(NotFoundError):
        target.port.delete_job(target.namespace, "once")


def test_an_owned_secret_goes_with_its_job(target: Target):
    job = target.port.create_job(_job(target, "owner"))
    target.port.create_secret(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": "owner-inputs",
                "namespace": target.namespace,
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "Job",
                        "name": "owner",
                        "uid": job["metadata"]["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "data": {"values.yaml": "eDogMQo="},
        }
    )

    target.port.delete_job(target.namespace, "owner")

    target.settle(
        lambda: target.port.get_secret(target.namespace, "owner-inputs") is None,
        "the garbage collector to delete the owned Secret",
    )


def test_apply_config_map_creates_then_replaces(target: Target):
    def config_map(value: str) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "logs", "namespace": target.namespace, "labels": {"k": "v"}},
            "data": {"log": value},
        }

    target.port.apply_config_map(config_map("one"))
    target.port.apply_config_map(config_map("two"))

    assert "two" == target.port.get_config_map(target.namespace, "logs")["data"]["log"]
    assert ["logs"] == [
        c["metadata"]["name"] for c in target.port.list_config_maps(target.namespace, "k=v")
    ]
    assert [] == target.port.list_config_maps(target.namespace, "k=other")
