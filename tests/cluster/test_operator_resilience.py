"""``werfop run`` on the real control plane when the control plane misbehaves or an
operator process dies.

Leader election. Two replicas with ``--leader-elect`` (short timings so the test is
quick) on the real Lease deploy/ allows (``werfop-system/werfop-leader``; the
``POD_NAMESPACE`` the operators fixture sets, as deploy/manager does with the downward
API). Exactly one holds the Lease (its holder names a process id); the test kills it with
SIGKILL (no release), pushes a version while nobody leads, and waits for the other to take
the Lease over and deploy it; one more version is pushed under the new leader. Every
version has exactly one apply Job: the standby deployed nothing while it stood by and the
new leader neither lost the version pushed in the gap nor redeployed the old one.

Informers across an etcd compaction and kube-apiserver restarts. The API server serves
watches from its watch cache, so an etcd compaction alone never reaches a client: a
resumed watch with a cached resourceVersion is served from memory. It shows when a watch
must resume against a new watch cache, after the API server restarts: its cache starts at
the current revision, and the history before it is gone from etcd too, so a watch that
resumes from an older resourceVersion gets 410 Gone and the informer must list again. The
compaction test writes something the operator does not watch (so every informer's
resourceVersion is behind the current revision), pauses the operator (SIGSTOP, so that
it resumes its watches only against a ready server), compacts etcd
(``controlplane.compact``, etcd's ``/v3/kv/compaction``), restarts kube-apiserver
(``controlplane.restart``: same flags, same port) and resumes the operator. It checks that
a list at exactly the pre-compaction resourceVersion and a watch from it both get 410
(etcd's history is gone, not only the cache's), that every informer logged ``watch
expired: listing again``, and that a newly pushed tag is still deployed.

The restart test restarts kube-apiserver alone under a running operator: its watches
break and reconnect with backoff, meeting whatever a warming-up server answers (this
test found the informer waiting a fixed 30 s after the 403 such a server gives before
its RBAC caches are filled: fixed, pinned by tests/unit/test_informer_retries.py). It
then pushes a tag and asks for a poll with ``werf.io/reconcile-at``: the annotation
reaches the operator only by its WerfBundle watch, and Synced needs its Job watch to see
the Job complete, so both informers are proved to work again.
"""

from __future__ import annotations

import collections
import json
import signal
import socket

import pytest

from deploy.manifests import NAMESPACE
from support import controlplane
from support.operator import werf_jobs
from support.realapi import RealApi

from .conftest import follow, synced_on, wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(300)]

LEASE = "werfop-leader"  # the one name deploy/rbac/leader_election_role.yaml allows
QUICK_ELECTION = (
    "--leader-elect",
    "--leader-elect-lease-duration=6",
    "--leader-elect-renew-deadline=4",
    "--leader-elect-retry-period=0.5",
)


def holder(admin: RealApi) -> str | None:
    lease = admin.get("leases", NAMESPACE, LEASE)
    return ((lease or {}).get("spec") or {}).get("holderIdentity") or None


def apply_tags(admin: RealApi, namespace: str) -> collections.Counter[str]:
    return collections.Counter(
        j["metadata"]["annotations"]["werf.io/tag"]
        for j in werf_jobs(admin, namespace)
        if j["metadata"]["labels"]["werf.io/job-kind"] == "apply"
    )


def test_when_the_leader_is_killed_the_standby_takes_the_lease_and_deploys_each_version_once(
    admin, operators, plain_registry, repo_name, namespace
):
    if admin.get("leases", NAMESPACE, LEASE) is not None:  # a previous session's holder
        admin.delete("leases", NAMESPACE, LEASE)
    follow(admin, plain_registry, repo_name, namespace, registry={"pollInterval": "30s"})
    replicas = [operators(*QUICK_ELECTION).wait_ready(60) for _ in range(2)]
    by_identity = {f"{socket.gethostname()}_{r.process.pid}": r for r in replicas}
    wait_for(synced_on(admin, "shop", namespace, "1.0.0"), 90, "Synced on 1.0.0")
    first = holder(admin)
    assert first in by_identity
    leader = by_identity.pop(first)
    [standby] = by_identity.values()

    leader.kill()  # SIGKILL: the Lease is not released
    plain_registry.pusher.push_chart(repo_name, "1.1.0")

    second = wait_for(lambda: (h := holder(admin)) != first and h, 60, "a new Lease holder")
    assert f"{socket.gethostname()}_{standby.process.pid}" == second
    wait_for(synced_on(admin, "shop", namespace, "1.1.0"), 90, "Synced on 1.1.0")
    plain_registry.pusher.push_chart(repo_name, "1.2.0")
    wait_for(synced_on(admin, "shop", namespace, "1.2.0"), 90, "Synced on 1.2.0")
    assert {"1.0.0": 1, "1.1.0": 1, "1.2.0": 1} == apply_tags(admin, namespace)
    assert standby.process.poll() is None


def list_version(admin: RealApi, path: str) -> str:
    answer = admin.http.get(path, params={"limit": "1"})
    answer.raise_for_status()
    return str(answer.json()["metadata"]["resourceVersion"])


def watch_answer(admin: RealApi, path: str, version: str) -> int:
    """What a watch resumed from ``version`` gets: the HTTP status, or the code of an
    ERROR event that opens the stream (200 when it streams normally)."""
    query = {"watch": "true", "resourceVersion": version, "timeoutSeconds": "2"}
    with admin.http.stream("GET", path, params=query, timeout=10) as response:
        if response.status_code != 200:
            return response.status_code
        for line in response.iter_lines():
            event = json.loads(line)
            if event["type"] == "ERROR":
                return int(event["object"]["code"])
            return 200
    return 200


def exact_list_answer(admin: RealApi, path: str, version: str) -> int:
    """The status of a list at exactly ``version`` (served by etcd: the watch cache of a
    restarted API server has no snapshot that old)."""
    query = {"resourceVersion": version, "resourceVersionMatch": "Exact", "limit": "1"}
    return admin.http.get(path, params=query).status_code


def relisted_kinds(operator) -> set[str]:  # type: ignore[no-untyped-def]
    return {
        str(line.get("kind"))
        for line in operator.lines()
        if line.get("msg") == "watch expired: listing again"
    }


def deployed_and_running(admin, operators, registry, repo_name: str, namespace: str):  # type: ignore[no-untyped-def]
    follow(admin, registry, repo_name, namespace, registry={"pollInterval": "30s"})
    operator = operators().wait_ready(timeout=60)
    wait_for(synced_on(admin, "shop", namespace, "1.0.0"), 90, "Synced on 1.0.0")
    return operator


def test_the_informers_relist_after_an_etcd_compaction_and_the_next_tag_is_deployed(
    plane, admin, operators, plain_registry, repo_name, namespace
):
    operator = deployed_and_running(admin, operators, plain_registry, repo_name, namespace)
    jobs = "/apis/batch/v1/jobs"
    before = list_version(admin, jobs)
    admin.create(  # something no informer sees: every informer is now behind
        "configmaps",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "noise", "namespace": namespace},
        },
    )

    # Paused, the operator resumes its watches only once the API server is ready again,
    # so each resume meets the 410 (and not the 403 of a warming-up server).
    operator.process.send_signal(signal.SIGSTOP)
    try:
        compacted = controlplane.compact(plane.folder)
        controlplane.restart(plane.folder, "kube-apiserver")
    finally:
        operator.process.send_signal(signal.SIGCONT)

    assert compacted > int(before)
    assert 410 == exact_list_answer(admin, jobs, before)  # etcd no longer has it
    assert 410 == watch_answer(admin, jobs, before)
    wait_for(
        lambda: {"ConfigMap", "Job", "WerfBundle"} == relisted_kinds(operator),
        60,
        "every informer to relist",
    )
    plain_registry.pusher.push_chart(repo_name, "1.1.0")
    wait_for(synced_on(admin, "shop", namespace, "1.1.0"), 120, "Synced on 1.1.0")
    assert {"1.0.0": 1, "1.1.0": 1} == apply_tags(admin, namespace)
    assert operator.process.poll() is None


def test_the_informers_reconnect_after_a_kube_apiserver_restart_and_the_next_tag_is_deployed(
    plane, admin, operators, plain_registry, repo_name, namespace
):
    operator = deployed_and_running(admin, operators, plain_registry, repo_name, namespace)

    controlplane.restart(plane.folder, "kube-apiserver")
    plain_registry.pusher.push_chart(repo_name, "1.1.0")

    def request_a_poll(found: dict) -> dict:
        found["metadata"].setdefault("annotations", {})["werf.io/reconcile-at"] = "after-restart"
        return found

    # The annotation reaches the operator only through its WerfBundle watch, and the
    # bundle is Synced only when its Job watch sees the Job complete: both are back.
    admin.mutate("werfbundles", namespace, "shop", request_a_poll)
    wait_for(synced_on(admin, "shop", namespace, "1.1.0"), 60, "Synced on 1.1.0")
    assert {"1.0.0": 1, "1.1.0": 1} == apply_tags(admin, namespace)
    assert operator.process.poll() is None
