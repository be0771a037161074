"""Deletion with finalizers, owner-reference garbage collection and delete preconditions."""

from __future__ import annotations

import pytest
from kubernetes.client import ApiException

from apiserver.support import GROUP, NAMESPACE, PLURAL, VERSION, create_bundle, job
from apiserver.support import status_of as status

pytestmark = pytest.mark.timeout(30)
FINALIZER = "werf.io/cleanup"


def delete_bundle(custom, name: str) -> dict:
    return custom.delete_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, name)


def get_bundle(custom, name: str) -> dict:
    return custom.get_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, name)


def test_delete_with_finalizers_marks_the_object_and_returns_it(custom):
    created = create_bundle(custom, "b", finalizers=[FINALIZER])

    returned = delete_bundle(custom, "b")

    current = get_bundle(custom, "b")
    assert returned == current
    assert current["metadata"]["deletionTimestamp"]
    assert 0 == current["metadata"]["deletionGracePeriodSeconds"]
    assert 2 == current["metadata"]["generation"]
    assert [FINALIZER] == current["metadata"]["finalizers"]
    assert created["metadata"]["uid"] == current["metadata"]["uid"]


def test_deleting_again_while_finalizing_changes_nothing(custom):
    create_bundle(custom, "b", finalizers=[FINALIZER])
    first = delete_bundle(custom, "b")

    second = delete_bundle(custom, "b")

    assert first == second


def test_removing_one_of_two_finalizers_keeps_the_object(custom):
    create_bundle(custom, "b", finalizers=[FINALIZER, "other/keep"])
    delete_bundle(custom, "b")

    custom.patch_namespaced_custom_object(
        GROUP, VERSION, NAMESPACE, PLURAL, "b", {"metadata": {"finalizers": ["other/keep"]}}
    )

    assert ["other/keep"] == get_bundle(custom, "b")["metadata"]["finalizers"]


def test_delete_accepts_a_propagation_policy_in_the_body(custom):
    create_bundle(custom, "b")

    result = custom.delete_namespaced_custom_object(
        GROUP, VERSION, NAMESPACE, PLURAL, "b", propagation_policy="Foreground"
    )

    assert "Success" == result["status"]


def test_delete_with_a_wrong_uid_precondition_fails_with_409(custom):
    create_bundle(custom, "b")

    with pytest.raises(ApiException) as caught:
        custom.delete_namespaced_custom_object(
            GROUP, VERSION, NAMESPACE, PLURAL, "b", body={"preconditions": {"uid": "not-the-uid"}}
        )

    assert (409, "Conflict") == (caught.value.status, status(caught.value)["reason"])


def test_background_deletion_of_a_job_deletes_its_pods(batch, core, kube_api):
    created = batch.create_namespaced_job(NAMESPACE, job("j"))
    core.create_namespaced_pod(
        NAMESPACE,
        {
            "metadata": {
                "name": "j-pod",
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "Job",
                        "name": "j",
                        "uid": created.metadata.uid,
                    }
                ],
            },
            "spec": {"containers": [{"name": "werf", "image": "werf"}]},
        },
    )

    batch.delete_namespaced_job("j", NAMESPACE, propagation_policy="Background")

    assert [] == kube_api.list("pods", NAMESPACE)


def test_deleting_a_job_without_propagation_policy_orphans_its_pods(batch, core, kube_api):
    created = batch.create_namespaced_job(NAMESPACE, job("j"))
    core.create_namespaced_pod(
        NAMESPACE,
        {
            "metadata": {
                "name": "j-pod",
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "Job",
                        "name": "j",
                        "uid": created.metadata.uid,
                    }
                ],
            },
            "spec": {"containers": [{"name": "werf", "image": "werf"}]},
        },
    )

    batch.delete_namespaced_job("j", NAMESPACE)

    assert ["j-pod"] == [p["metadata"]["name"] for p in kube_api.list("pods", NAMESPACE)]


def test_direct_store_removal_of_finalizers_completes_deletion(custom, kube_api):
    create_bundle(custom, "b", finalizers=[FINALIZER])
    delete_bundle(custom, "b")

    kube_api.mutate(
        "werfbundles", NAMESPACE, "b", lambda obj: obj["metadata"].update(finalizers=[])
    )

    assert kube_api.get("werfbundles", NAMESPACE, "b") is None
