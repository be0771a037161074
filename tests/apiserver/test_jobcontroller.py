"""The Job-controller stand-in: Pods, logs and Job statuses for werfop's Jobs."""

from __future__ import annotations

import kubernetes
import pytest

from apiserver.support import NAMESPACE, job
from kubeapi.jobcontroller import JobController

pytestmark = pytest.mark.timeout(30)
MANAGED = {"app.kubernetes.io/managed-by": "werfop"}


def managed_job(name: str) -> dict:
    return job(name, **MANAGED)


def conditions(job_obj) -> list[tuple[str, str]]:
    return [(c.type, c.status) for c in job_obj.status.conditions or []]


def test_succeeded_job_gets_complete_condition_times_a_pod_and_its_log(batch, core, kube_api):
    created = batch.create_namespaced_job(NAMESPACE, managed_job("deploy"))
    controller = JobController(kube_api, lambda job: ("succeeded", "werf converge: done\n"))

    assert ["deploy"] == controller.reconcile()

    finished = batch.read_namespaced_job("deploy", NAMESPACE)
    [pod] = core.list_namespaced_pod(NAMESPACE, label_selector="job-name=deploy").items
    assert (1, [("Complete", "True")]) == (finished.status.succeeded, conditions(finished))
    assert finished.status.start_time is not None
    assert finished.status.completion_time is not None
    assert "deploy" == pod.metadata.labels["batch.kubernetes.io/job-name"]
    assert [("Job", "deploy", created.metadata.uid, True)] == [
        (o.kind, o.name, o.uid, o.controller) for o in pod.metadata.owner_references
    ]
    assert ["werf"] == [c.name for c in pod.spec.containers]
    assert "Succeeded" == pod.status.phase
    assert "werf converge: done\n" == core.read_namespaced_pod_log(
        pod.metadata.name, NAMESPACE, container="werf"
    )


def test_failed_job_gets_failed_condition_and_no_completion_time(batch, kube_api):
    batch.create_namespaced_job(NAMESPACE, managed_job("deploy"))
    controller = JobController(kube_api, lambda job: ("failed", "Error: boom\n"))

    controller.reconcile()

    finished = batch.read_namespaced_job("deploy", NAMESPACE)
    assert (1, [("Failed", "True")]) == (finished.status.failed, conditions(finished))
    assert finished.status.completion_time is None


def test_running_job_stays_active_until_the_decision_changes(batch, core, kube_api):
    batch.create_namespaced_job(NAMESPACE, managed_job("deploy"))
    outcome = ["running"]
    controller = JobController(kube_api, lambda job: (outcome[0], "working\n"))

    controller.reconcile()
    running = batch.read_namespaced_job("deploy", NAMESPACE)
    outcome[0] = "succeeded"
    controller.reconcile()
    finished = batch.read_namespaced_job("deploy", NAMESPACE)

    assert (1, []) == (running.status.active, conditions(running))
    assert [("Complete", "True")] == conditions(finished)
    assert running.status.start_time == finished.status.start_time
    assert 1 == len(core.list_namespaced_pod(NAMESPACE).items)


def test_finished_and_unmanaged_jobs_are_left_alone(batch, kube_api):
    batch.create_namespaced_job(NAMESPACE, job("foreign"))
    batch.create_namespaced_job(NAMESPACE, managed_job("deploy"))
    decided = []
    controller = JobController(
        kube_api, lambda job: decided.append(job["metadata"]["name"]) or ("succeeded", "")
    )

    controller.reconcile()
    controller.reconcile()

    assert ["deploy"] == decided
    assert batch.read_namespaced_job("foreign", NAMESPACE).status.succeeded is None


def test_background_controller_finishes_a_job_created_over_http(batch, kube_api):
    with JobController(kube_api, lambda job: ("succeeded", "ok\n")):
        watch = kubernetes.watch.Watch()
        created = batch.create_namespaced_job(NAMESPACE, managed_job("deploy"))
        for event in watch.stream(
            batch.list_namespaced_job,
            NAMESPACE,
            resource_version=created.metadata.resource_version,
            timeout_seconds=10,
        ):
            if event["object"].status.succeeded:
                watch.stop()

    assert [("Complete", "True")] == conditions(batch.read_namespaced_job("deploy", NAMESPACE))


def test_background_deletion_of_a_finished_job_removes_its_pod(batch, kube_api):
    batch.create_namespaced_job(NAMESPACE, managed_job("deploy"))
    JobController(kube_api, lambda job: ("succeeded", "")).reconcile()

    batch.delete_namespaced_job("deploy", NAMESPACE, propagation_policy="Background")

    assert [] == kube_api.list("pods", NAMESPACE)
