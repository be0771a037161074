"""A bundle's life on the real control plane, with ``werfop run`` as deploy/'s
ServiceAccount (so deploy/rbac allows or forbids each request), the real Job controller,
garbage collector and TTL controller, and pods finished by the pod completer.

Cross-namespace deploys. A bundle in one namespace that targets another runs its Job
there only when the target namespace carries ``werf.io/accept-bundles-from`` naming the
source (docs/job-rbac.md). Proved both ways: with the annotation the Job, its inputs
Secret and the werf ServiceAccount are all in the target, the Job has no owner reference
(a cross-namespace one would get it collected at once) and the bundle syncs; without it
the bundle is Failed and Stalled with a message naming the annotation, and no Job exists
in either namespace.

``ttlSecondsAfterFinished``. The operator sets it from ``spec.converge.logRetentionDays``
(days * 86400; the schema's minimum is one day, and the product has no shorter knob, nor
should it). The test checks the operator's Job carries that value, then shortens the TTL
of that very Job to two seconds (the field is mutable) so that the real TTL controller
deletes it in test time: the Job goes, the garbage collector takes its inputs Secret,
and the operator neither redeploys nor loses the applied version when a finished Job
vanishes. What is not proved: the one-day clock itself (it is the TTL controller's).

Finalizer and deletion. The operator adds ``werf.io/finalizer`` to a new bundle. With
``deletionPolicy: Uninstall`` deleting the bundle runs an uninstall Job (kept running for
a few seconds by a pod rule, during which the bundle still exists with its finalizer),
and only after the real Job controller marks it Complete does the finalizer go and the
bundle disappear. With ``Retain`` (the default) the bundle disappears and no uninstall
Job is ever created (an uninstall Job has no owner reference, so one that had run would
still be there).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException
from prometheus_client.parser import text_string_to_metric_families

from support.operator import status_of, werf_jobs
from support.realapi import RealApi

from .conftest import failed, follow, job_condition, synced_on, wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(300)]

FINALIZER = "werf.io/finalizer"
ACCEPT = "werf.io/accept-bundles-from"


@pytest.fixture
def target_namespace(core: client.CoreV1Api) -> Iterator[Callable[..., str]]:
    """Make another namespace (annotated as asked) with a ServiceAccount
    ``werf-deployer``; all deleted after the test."""
    made: list[str] = []

    def make(annotations: dict[str, str]) -> str:
        name = f"t-target-{uuid.uuid4().hex[:6]}"
        core.create_namespace(
            client.V1Namespace(metadata=client.V1ObjectMeta(name=name, annotations=annotations))
        )
        made.append(name)
        core.create_namespaced_service_account(
            name, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="werf-deployer"))
        )
        return name

    yield make
    for name in made:
        try:
            core.delete_namespace(name)
        except ApiException as error:
            if error.status != 404:
                raise


def kinds_of(jobs: list[dict]) -> list[str]:
    return sorted(j["metadata"]["labels"]["werf.io/job-kind"] for j in jobs)


def test_a_bundle_deploys_into_a_namespace_that_accepts_bundles_from_its_namespace(
    admin, operators, plain_registry, repo_name, namespace, target_namespace
):
    target = target_namespace({ACCEPT: f"someone-else,{namespace}"})
    follow(
        admin,
        plain_registry,
        repo_name,
        namespace,
        converge={"targetNamespace": target, "serviceAccountName": "werf-deployer"},
    )
    operators().wait_ready(timeout=60)

    wait_for(synced_on(admin, "shop", namespace, "1.0.0"), 90, "Synced on 1.0.0")

    [job] = werf_jobs(admin, target)
    name = job["metadata"]["name"]
    assert [] == werf_jobs(admin, namespace)
    assert "Complete" == job_condition(job)
    assert "werf-deployer" == job["spec"]["template"]["spec"]["serviceAccountName"]
    assert "ownerReferences" not in job["metadata"]
    assert admin.get("secrets", target, f"{name}-inputs") is not None


def test_a_bundle_is_refused_by_a_namespace_that_does_not_accept_bundles_from_its_namespace(
    admin, operators, plain_registry, repo_name, namespace, target_namespace
):
    target = target_namespace({ACCEPT: "someone-else"})
    follow(
        admin,
        plain_registry,
        repo_name,
        namespace,
        converge={"targetNamespace": target, "serviceAccountName": "werf-deployer"},
    )
    operators().wait_ready(timeout=60)

    status = failed(admin, "shop", namespace, 60)

    stalled = {c["type"]: c for c in status["conditions"]}["Stalled"]
    assert ("True", "InputsUnavailable") == (stalled["status"], stalled["reason"])
    assert f"{ACCEPT}={namespace}" in stalled["message"]
    assert target in stalled["message"]
    assert [] == werf_jobs(admin, target) + werf_jobs(admin, namespace)
    assert [] == [
        s for s in admin.list("secrets", target) if s["metadata"]["name"].endswith("-inputs")
    ]


def test_the_ttl_controller_deletes_a_finished_job_and_the_operator_keeps_the_applied_version(
    admin, operators, plain_registry, repo_name, namespace
):
    follow(admin, plain_registry, repo_name, namespace, converge={"logRetentionDays": 2})
    operator = operators().wait_ready(timeout=60)
    wait_for(synced_on(admin, "shop", namespace, "1.0.0"), 90, "Synced on 1.0.0")
    [job] = werf_jobs(admin, namespace)
    name = job["metadata"]["name"]
    assert 2 * 86400 == job["spec"]["ttlSecondsAfterFinished"]

    def shorten(found: dict) -> dict:
        found["spec"]["ttlSecondsAfterFinished"] = 2
        return found

    wait_for(lambda: not status_of(admin, "shop", namespace).get("activeJobName"), 30, "idle")
    passes = _passes(operator.scrape())
    admin.mutate("jobs", namespace, name, shorten)  # a change of a finished Job wakes nobody

    wait_for(lambda: admin.get("jobs", namespace, name) is None, 60, "the TTL controller")
    wait_for(
        lambda: admin.get("secrets", namespace, f"{name}-inputs") is None,
        60,
        "the inputs Secret collected",
    )
    # The Job's deletion wakes the bundle: its pass has run once /metrics counts one more.
    wait_for(lambda: _passes(operator.scrape()) > passes, 30, "the pass the deletion woke")
    status = status_of(admin, "shop", namespace)
    assert [] == werf_jobs(admin, namespace)
    assert ("Synced", "1.0.0") == (status["phase"], status["lastAppliedTag"])


def deployed_bundle(
    admin: RealApi, operators, registry, repo_name: str, namespace: str, **converge: str
) -> dict:
    follow(admin, registry, repo_name, namespace, converge=converge)
    operators().wait_ready(timeout=60)
    wait_for(synced_on(admin, "shop", namespace, "1.0.0"), 90, "Synced on 1.0.0")
    found = admin.get("werfbundles", namespace, "shop")
    assert found is not None
    return found


def test_deleting_a_bundle_with_the_uninstall_policy_runs_an_uninstall_job_before_the_finalizer_goes(
    admin, operators, plain_registry, repo_name, namespace, pod_rules
):
    pod_rules(
        [
            {
                "match": {"namespace": namespace, "labels": {"werf.io/job-kind": "uninstall"}},
                "after": "4s",
            }
        ]
    )
    found = deployed_bundle(
        admin, operators, plain_registry, repo_name, namespace, deletionPolicy="Uninstall"
    )
    assert FINALIZER in found["metadata"]["finalizers"]

    admin.delete("werfbundles", namespace, "shop")

    [running] = wait_for(
        lambda: [j for j in werf_jobs(admin, namespace) if kinds_of([j]) == ["uninstall"]],
        60,
        "an uninstall Job",
    )
    held = admin.get("werfbundles", namespace, "shop")
    assert held is not None and held["metadata"].get("deletionTimestamp")
    assert FINALIZER in held["metadata"]["finalizers"]
    assert None is job_condition(running)
    wait_for(lambda: admin.get("werfbundles", namespace, "shop") is None, 90, "the bundle gone")
    name = running["metadata"]["name"]
    uninstalled = [
        e["message"]
        for e in admin.list("events", namespace)
        if e["involvedObject"]["name"] == "shop" and e["reason"] == "Uninstalled"
    ]
    # Uninstalled is recorded only from the Job's Complete condition (the real Job
    # controller's), in the pass that removes the finalizer; that pass also deletes the
    # finished uninstall Job, and the apply Job went before the uninstall began.
    assert [f"job {name} uninstalled the release"] == uninstalled
    wait_for(lambda: werf_jobs(admin, namespace) == [], 30, "the bundle's Jobs deleted")


def test_deleting_a_bundle_with_the_retain_policy_removes_the_finalizer_and_runs_no_job(
    admin, operators, plain_registry, repo_name, namespace
):
    found = deployed_bundle(
        admin, operators, plain_registry, repo_name, namespace, deletionPolicy="Retain"
    )
    assert FINALIZER in found["metadata"]["finalizers"]

    admin.delete("werfbundles", namespace, "shop")

    wait_for(lambda: admin.get("werfbundles", namespace, "shop") is None, 60, "the bundle gone")
    # The pass that removed the finalizer was the last that could create a Job.
    assert "uninstall" not in kinds_of(werf_jobs(admin, namespace))


def _passes(text: str) -> float:
    """Passes the operator finished, from its ``/metrics`` (prometheus-client's parser)."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "werfop_reconcile_duration_seconds"
        for sample in family.samples
        if sample.name == "werfop_reconcile_duration_seconds_count"
    )
