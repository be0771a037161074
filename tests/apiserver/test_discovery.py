"""Discovery documents, the dynamic client, kubectl, and bearer-token authentication."""

from __future__ import annotations

import shutil
import subprocess

import kubernetes
import pytest
from kubernetes.client import ApiException
from kubernetes.dynamic import DynamicClient

from apiserver.support import NAMESPACE, bundle

pytestmark = pytest.mark.timeout(60)


def test_api_resource_list_describes_werfbundles_and_their_status_subresource(api_client):
    resources = kubernetes.client.CustomObjectsApi(api_client).get_api_resources(
        "werf.io", "v1alpha1"
    )

    described = {r.name: (r.kind, r.namespaced, sorted(r.verbs)) for r in resources.resources}
    assert {
        "werfbundles": (
            "WerfBundle",
            True,
            ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
        ),
        "werfbundles/status": ("WerfBundle", True, ["get", "patch", "update"]),
    } == described


def test_core_group_lists_pods_log_subresource(core):
    names = {r.name for r in core.get_api_resources().resources}

    assert {
        "pods",
        "pods/log",
        "pods/status",
        "namespaces",
        "configmaps",
        "secrets",
        "serviceaccounts",
        "events",
    } <= names


def test_api_group_list_names_every_served_group(api_client):
    groups = kubernetes.client.ApisApi(api_client).get_api_versions().groups

    assert {"batch", "coordination.k8s.io", "events.k8s.io", "werf.io"} == {g.name for g in groups}


def test_dynamic_client_creates_and_lists_werfbundles(api_client):
    resource = DynamicClient(api_client).resources.get(
        api_version="werf.io/v1alpha1", kind="WerfBundle"
    )

    resource.create(body=bundle("dyn"), namespace=NAMESPACE)

    assert ["dyn"] == [item.metadata.name for item in resource.get(namespace=NAMESPACE).items]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kubectl_lists_werfbundles_in_all_namespaces(kube_api, kube_api_kubeconfig):
    kube_api.create(
        "werfbundles", bundle("app") | {"metadata": {"name": "app", "namespace": NAMESPACE}}
    )

    result = subprocess.run(
        [
            "kubectl",
            "--kubeconfig",
            str(kube_api_kubeconfig),
            "get",
            "werfbundles",
            "-A",
            "-o",
            "custom-columns=NS:.metadata.namespace,NAME:.metadata.name",
            "--no-headers",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert (0, "default   app") == (result.returncode, result.stdout.strip())


def test_a_server_with_a_token_rejects_requests_without_it_with_401(kube_api_factory, tmp_path):
    api = kube_api_factory(token="s3cr3t-test-token")
    without = kubernetes.config.new_client_from_config(
        config_file=str(api.write_kubeconfig(tmp_path / "anonymous"))
    )
    with_token = kubernetes.config.new_client_from_config(
        config_file=str(api.write_kubeconfig(tmp_path / "authorized", token="s3cr3t-test-token"))
    )

    with pytest.raises(ApiException) as caught:
        kubernetes.client.CoreV1Api(without).list_namespace()
    namespaces = kubernetes.client.CoreV1Api(with_token).list_namespace()
    without.close()
    with_token.close()

    assert (401, "Unauthorized") == (caught.value.status, caught.value.reason)
    assert "default" in {ns.metadata.name for ns in namespaces.items}


def test_kubeconfig_namespace_becomes_the_default_for_kubectl(kube_api, tmp_path):
    path = kube_api.write_kubeconfig(tmp_path / "kubeconfig", namespace="team-a")

    _, active = kubernetes.config.list_kube_config_contexts(config_file=str(path))

    assert "team-a" == active["context"]["namespace"]
    assert kube_api.url == f"http://127.0.0.1:{kube_api.port}"
