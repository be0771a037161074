"""Create, read, replace and delete: status codes, system metadata and error Status bodies."""

from __future__ import annotations

import base64
import re

import kubernetes
import pytest
from kubernetes.client import ApiException

from apiserver.support import GROUP, NAMESPACE, PLURAL, VERSION, bundle, create_bundle, job
from apiserver.support import status_of as status

pytestmark = pytest.mark.timeout(30)
RFC3339_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def test_create_returns_201_with_uid_resource_version_timestamp_and_generation_1(custom):
    created, code, _ = custom.create_namespaced_custom_object_with_http_info(
        GROUP, VERSION, NAMESPACE, PLURAL, bundle("one")
    )

    meta = created["metadata"]
    assert 201 == code
    assert re.fullmatch(r"[0-9a-f-]{36}", meta["uid"])
    assert meta["resourceVersion"].isdigit()
    assert RFC3339_Z.match(meta["creationTimestamp"])
    assert 1 == meta["generation"]
    assert NAMESPACE == meta["namespace"]


def test_get_returns_200_with_the_stored_object(core):
    created = core.create_namespaced_config_map(
        NAMESPACE, {"metadata": {"name": "cm"}, "data": {"k": "v"}}
    )

    read, code, _ = core.read_namespaced_config_map_with_http_info("cm", NAMESPACE)

    assert 200 == code
    assert created.metadata.resource_version == read.metadata.resource_version
    assert {"k": "v"} == read.data


def test_getting_a_missing_object_fails_with_404_not_found_and_details(custom):
    with pytest.raises(ApiException) as caught:
        custom.get_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, "absent")

    assert 404 == caught.value.status
    assert {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'werfbundles.werf.io "absent" not found',
        "reason": "NotFound",
        "details": {"name": "absent", "group": "werf.io", "kind": "werfbundles"},
        "code": 404,
    } == status(caught.value)


def test_creating_without_a_name_fails_with_422_invalid(core):
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map(NAMESPACE, {"metadata": {"labels": {"a": "b"}}})

    body = status(caught.value)
    assert 422 == caught.value.status
    assert "Invalid" == body["reason"]
    assert (
        'ConfigMap "" is invalid: metadata.name: Required value: name or generateName is required'
    ) == body["message"]
    assert [
        {
            "reason": "FieldValueRequired",
            "field": "metadata.name",
            "message": "Required value: name or generateName is required",
        }
    ] == body["details"]["causes"]


def test_creating_with_an_invalid_name_fails_with_422_invalid(core):
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map(NAMESPACE, {"metadata": {"name": "Not_Valid"}})

    assert (422, "Invalid") == (caught.value.status, status(caught.value)["reason"])


def test_every_write_gets_a_higher_resource_version(core):
    first = core.create_namespaced_config_map(NAMESPACE, {"metadata": {"name": "a"}})
    second = core.create_namespaced_config_map(NAMESPACE, {"metadata": {"name": "b"}})
    third = core.patch_namespaced_config_map("a", NAMESPACE, {"data": {"x": "1"}})

    versions = [int(o.metadata.resource_version) for o in (first, second, third)]
    assert sorted(versions) == versions
    assert 3 == len(set(versions))


def test_replace_returns_200_and_keeps_uid_and_creation_timestamp(core):
    created = core.create_namespaced_config_map(NAMESPACE, {"metadata": {"name": "cm"}})
    created.data = {"new": "data"}

    replaced, code, _ = core.replace_namespaced_config_map_with_http_info("cm", NAMESPACE, created)

    assert 200 == code
    assert {"new": "data"} == replaced.data
    assert created.metadata.uid == replaced.metadata.uid
    assert created.metadata.creation_timestamp == replaced.metadata.creation_timestamp


def test_replace_with_a_stale_resource_version_fails_with_409_conflict(core):
    stale = core.create_namespaced_config_map(NAMESPACE, {"metadata": {"name": "cm"}})
    core.patch_namespaced_config_map("cm", NAMESPACE, {"data": {"changed": "yes"}})
    stale.data = {"lost": "update"}

    with pytest.raises(ApiException) as caught:
        core.replace_namespaced_config_map("cm", NAMESPACE, stale)

    assert 409 == caught.value.status
    assert {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'Operation cannot be fulfilled on configmaps "cm": the object has been '
        "modified; please apply your changes to the latest version and try again",
        "reason": "Conflict",
        "details": {"name": "cm", "kind": "configmaps"},
        "code": 409,
    } == status(caught.value)


def test_replacing_a_custom_resource_without_resource_version_fails_with_422(custom):
    create_bundle(custom, "b")

    with pytest.raises(ApiException) as caught:
        custom.replace_namespaced_custom_object(
            GROUP, VERSION, NAMESPACE, PLURAL, "b", bundle("b", {"chart": "other"})
        )

    assert 422 == caught.value.status
    assert "metadata.resourceVersion" == status(caught.value)["details"]["causes"][0]["field"]


def test_replacing_a_missing_object_fails_with_404(core):
    with pytest.raises(ApiException) as caught:
        core.replace_namespaced_config_map("ghost", NAMESPACE, {"metadata": {"name": "ghost"}})

    assert 404 == caught.value.status


def test_replace_with_a_different_name_than_the_url_fails_with_400(core):
    core.create_namespaced_config_map(NAMESPACE, {"metadata": {"name": "cm"}})

    with pytest.raises(ApiException) as caught:
        core.replace_namespaced_config_map("cm", NAMESPACE, {"metadata": {"name": "other"}})

    assert (400, "BadRequest") == (caught.value.status, status(caught.value)["reason"])


def test_deleting_without_finalizers_removes_at_once_and_returns_a_success_status(core):
    created = core.create_namespaced_config_map(NAMESPACE, {"metadata": {"name": "cm"}})

    result = core.delete_namespaced_config_map("cm", NAMESPACE)

    assert {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {"name": "cm", "kind": "configmaps", "uid": created.metadata.uid},
    } == result
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_config_map("cm", NAMESPACE)
    assert 404 == caught.value.status


def test_deleting_a_pod_returns_the_deleted_pod(core):
    core.create_namespaced_pod(
        NAMESPACE,
        {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}},
    )

    deleted, code, _ = core.delete_namespaced_pod_with_http_info("p", NAMESPACE)

    assert 200 == code
    assert "p" == deleted.metadata.name


def test_noop_patch_keeps_the_resource_version(core):
    created = core.create_namespaced_config_map(
        NAMESPACE, {"metadata": {"name": "cm"}, "data": {"k": "v"}}
    )

    patched = core.patch_namespaced_config_map("cm", NAMESPACE, {"data": {"k": "v"}})

    assert created.metadata.resource_version == patched.metadata.resource_version


def test_secret_string_data_is_stored_base64_encoded_in_data(core):
    core.create_namespaced_secret(
        NAMESPACE, {"metadata": {"name": "s"}, "stringData": {"password": "hunter2"}}
    )

    secret = core.read_namespaced_secret("s", NAMESPACE)

    assert {"password": base64.b64encode(b"hunter2").decode()} == secret.data
    assert "Opaque" == secret.type


def test_lease_can_be_created_read_and_replaced(coordination):
    created = coordination.create_namespaced_lease(
        NAMESPACE,
        {
            "metadata": {"name": "werfop-leader"},
            "spec": {"holderIdentity": "pod-a", "leaseDurationSeconds": 15},
        },
    )
    created.spec.holder_identity = "pod-b"

    replaced = coordination.replace_namespaced_lease("werfop-leader", NAMESPACE, created)

    assert (
        "pod-b"
        == coordination.read_namespaced_lease("werfop-leader", NAMESPACE).spec.holder_identity
    )
    assert int(replaced.metadata.resource_version) > int(created.metadata.resource_version)


def test_job_gets_a_generated_selector_template_labels_and_an_empty_status(batch):
    created = batch.create_namespaced_job(NAMESPACE, job("deploy"))

    uid = created.metadata.uid
    assert {"batch.kubernetes.io/controller-uid": uid} == created.spec.selector.match_labels
    assert {
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": "deploy",
        "controller-uid": uid,
        "job-name": "deploy",
    } == created.spec.template.metadata.labels
    assert (6, 1) == (created.spec.backoff_limit, created.metadata.generation)
    assert created.status.succeeded is None


def test_job_without_restart_policy_fails_with_422_invalid(batch):
    body = job("bad")
    del body["spec"]["template"]["spec"]["restartPolicy"]

    with pytest.raises(ApiException) as caught:
        batch.create_namespaced_job(NAMESPACE, body)

    assert 422 == caught.value.status
    assert (
        "spec.template.spec.restartPolicy" == status(caught.value)["details"]["causes"][0]["field"]
    )


def test_namespace_is_cluster_scoped_and_starts_active(core):
    created = core.create_namespace({"metadata": {"name": "team-a"}})

    assert created.metadata.namespace is None
    assert "Active" == core.read_namespace("team-a").status.phase


def test_deleting_a_namespace_deletes_what_is_in_it(core, kube_api):
    core.create_namespace({"metadata": {"name": "doomed"}})
    core.create_namespaced_config_map("doomed", {"metadata": {"name": "cm"}})

    core.delete_namespace("doomed")

    assert [] == kube_api.list("configmaps", "doomed")
    assert kube_api.get("namespaces", None, "doomed") is None


def test_unknown_resource_fails_with_404(custom):
    with pytest.raises(ApiException) as caught:
        custom.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "widgets")

    assert 404 == caught.value.status


def test_kind_mismatch_in_the_body_fails_with_400(core):
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map(NAMESPACE, {"kind": "Secret", "metadata": {"name": "x"}})

    assert 400 == caught.value.status


def test_client_reads_back_with_typed_models(core):
    core.create_namespaced_service_account(NAMESPACE, {"metadata": {"name": "werfop"}})

    accounts = core.list_namespaced_service_account(NAMESPACE).items

    assert ["werfop"] == [a.metadata.name for a in accounts]
    assert isinstance(accounts[0], kubernetes.client.V1ServiceAccount)


def test_creating_with_a_resource_version_fails_like_etcd_storage_does(core):
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map(
            NAMESPACE, {"metadata": {"name": "cm", "resourceVersion": "7"}}
        )

    assert (500, "resourceVersion should not be set on objects to be created") == (
        caught.value.status,
        status(caught.value)["message"],
    )


def test_replace_with_another_uid_fails_with_409_precondition(core):
    created = core.create_namespaced_config_map(NAMESPACE, {"metadata": {"name": "cm"}})
    created.metadata.uid = "00000000-0000-0000-0000-000000000000"

    with pytest.raises(ApiException) as caught:
        core.replace_namespaced_config_map("cm", NAMESPACE, created)

    assert (409, "Conflict") == (caught.value.status, status(caught.value)["reason"])


def test_changing_a_job_template_fails_with_422_immutable(batch):
    created = batch.create_namespaced_job(NAMESPACE, job("j"))
    created.spec.template.spec.containers[0].image = "werf:other"

    with pytest.raises(ApiException) as caught:
        batch.replace_namespaced_job("j", NAMESPACE, created)

    assert 422 == caught.value.status
    assert "spec.template" == status(caught.value)["details"]["causes"][0]["field"]


def test_core_events_can_be_created_and_selected_by_involved_object(core):
    for name, target in (("e1", "bundle-a"), ("e2", "bundle-b")):
        core.create_namespaced_event(
            NAMESPACE,
            {
                "metadata": {"name": name},
                "reason": "Deployed",
                "type": "Normal",
                "involvedObject": {"kind": "WerfBundle", "name": target, "namespace": NAMESPACE},
            },
        )

    events = core.list_namespaced_event(
        NAMESPACE, field_selector="involvedObject.name=bundle-b"
    ).items

    assert [("e2", "Deployed")] == [(e.metadata.name, e.reason) for e in events]


def test_events_k8s_io_events_can_be_created(api_client):
    events = kubernetes.client.EventsV1Api(api_client)

    events.create_namespaced_event(
        NAMESPACE,
        {
            "metadata": {"name": "e"},
            "reason": "Deployed",
            "action": "Converge",
            "eventTime": "2024-01-01T00:00:00.000000Z",
            "reportingController": "werf.io/werfop",
            "reportingInstance": "werfop-0",
            "type": "Normal",
            "regarding": {"kind": "WerfBundle", "name": "b", "namespace": NAMESPACE},
        },
    )

    assert ["e"] == [e.metadata.name for e in events.list_namespaced_event(NAMESPACE).items]


def test_direct_access_sees_api_writes_and_api_sees_direct_writes(core, kube_api):
    core.create_namespaced_config_map(NAMESPACE, {"metadata": {"name": "via-api"}})
    kube_api.put(
        "configmaps", {"metadata": {"name": "direct", "namespace": NAMESPACE}, "data": {"k": "v"}}
    )

    assert "via-api" == kube_api.get("configmaps", NAMESPACE, "via-api")["metadata"]["name"]
    assert {"k": "v"} == core.read_namespaced_config_map("direct", NAMESPACE).data
    assert ["direct", "via-api"] == [
        o["metadata"]["name"] for o in kube_api.list("configmaps", NAMESPACE)
    ]


def test_creating_in_a_terminating_namespace_fails_with_403(core):
    core.create_namespace({"metadata": {"name": "closing", "finalizers": ["example.com/hold"]}})
    core.delete_namespace("closing")

    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map("closing", {"metadata": {"name": "cm"}})

    assert (403, "Forbidden") == (caught.value.status, status(caught.value)["reason"])
    assert "Terminating" == core.read_namespace("closing").status.phase
