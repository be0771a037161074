"""The request log records each call in RBAC terms, and kmock sees the same requests."""

from __future__ import annotations

import kmock
import pytest

from apiserver.support import GROUP, NAMESPACE, PLURAL, VERSION, create_bundle, job

pytestmark = pytest.mark.timeout(30)


def test_request_log_records_method_path_verb_resource_namespace_and_name(custom, kube_api):
    create_bundle(custom, "b")
    custom.get_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, "b")

    records = [
        (r.method, r.path, r.verb, r.group, r.resource, r.namespace, r.name, r.status)
        for r in kube_api.requests
    ]

    assert [
        (
            "POST",
            "/apis/werf.io/v1alpha1/namespaces/default/werfbundles",
            "create",
            "werf.io",
            "werfbundles",
            NAMESPACE,
            None,
            201,
        ),
        (
            "GET",
            "/apis/werf.io/v1alpha1/namespaces/default/werfbundles/b",
            "get",
            "werf.io",
            "werfbundles",
            NAMESPACE,
            "b",
            200,
        ),
    ] == records


def test_permissions_list_every_group_resource_and_verb_used(custom, batch, core, kube_api):
    create_bundle(custom, "b")
    custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, NAMESPACE, PLURAL, "b", {"status": {"phase": "Ready"}}
    )
    custom.list_cluster_custom_object(GROUP, VERSION, PLURAL)
    batch.create_namespaced_job(NAMESPACE, job("j"))
    batch.delete_namespaced_job("j", NAMESPACE)
    core.list_namespaced_pod(
        NAMESPACE, watch=True, timeout_seconds=0, _preload_content=False
    ).release_conn()
    core.delete_collection_namespaced_config_map(NAMESPACE)
    core.replace_namespace("default", core.read_namespace("default"))

    assert {
        ("werf.io", "werfbundles", "create"),
        ("werf.io", "werfbundles/status", "patch"),
        ("werf.io", "werfbundles", "list"),
        ("batch", "jobs", "create"),
        ("batch", "jobs", "delete"),
        ("", "pods", "watch"),
        ("", "configmaps", "deletecollection"),
        ("", "namespaces", "get"),
        ("", "namespaces", "update"),
    } == kube_api.requests.permissions()


def test_subresource_requests_name_the_subresource(core, kube_api):
    kube_api.put(
        "pods",
        {
            "metadata": {"name": "p", "namespace": NAMESPACE},
            "spec": {"containers": [{"name": "werf", "image": "w"}]},
            "status": {"phase": "Succeeded"},
        },
    )

    core.read_namespaced_pod_log("p", NAMESPACE)

    [record] = kube_api.requests.filter(resource="pods/log")
    assert ("get", "log", "pods/log") == (record.verb, record.subresource, record.rbac_resource)


def test_discovery_requests_are_logged_as_non_resource_requests(api_client, kube_api):
    kubernetes_version = api_client.call_api(*api_client.param_serialize("GET", "/version"))
    kubernetes_version.read()

    [record] = list(kube_api.requests)
    assert ("/version", None, None, 200) == (
        record.path,
        record.resource,
        record.permission,
        record.status,
    )


def test_kmock_views_filter_the_same_requests(custom, kube_api):
    create_bundle(custom, "b")
    custom.patch_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, "b", {"spec": {}})

    patches = list(kube_api.handler[kmock.action.UPDATE])

    assert ["b"] == [request.name for request in patches]
