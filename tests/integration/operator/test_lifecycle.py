"""Lifecycle features through ``werfop run``: the registry push hook, watched values and
tenancy, against the Kubernetes API test server and the real distribution registry."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import httpx
import pytest

from support.operator import bundle, status_of, wait_for, werf_jobs

pytestmark = pytest.mark.integration
TOKEN = "webhook-canary-c0ffee11"


def _synced_on(api, name, tag, namespace="default"):
    return lambda: (
        (
            status_of(api, name, namespace).get("phase"),
            status_of(api, name, namespace).get("lastAppliedTag"),
        )
        == ("Synced", tag)
    )


def test_a_signed_push_notification_deploys_without_waiting_for_the_poll(
    kube_api, kubeconfig, operators, jobs, plain_registry, repo_name
):
    kube_api.create(
        "secrets",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {"name": "hook", "namespace": "default"},
            "data": {"token": base64.b64encode(TOKEN.encode()).decode()},
        },
    )
    plain_registry.pusher.push_chart(repo_name, "1.0.0")
    kube_api.create(
        "werfbundles",
        bundle("app", f"{plain_registry.host}/{repo_name}", registry={"pollInterval": "24h"}),
    )
    operator = operators(kubeconfig, "--webhook-secret", "default/hook").wait_ready()
    wait_for(_synced_on(kube_api, "app", "1.0.0"), what="Synced on 1.0.0")
    plain_registry.pusher.push_chart(repo_name, "1.1.0")
    body = json.dumps(
        {
            "events": [
                {
                    "action": "push",
                    "target": {"repository": repo_name, "tag": "1.1.0"},
                    "request": {"host": plain_registry.host},
                }
            ]
        }
    ).encode()
    url = f"http://127.0.0.1:{operator.health}/hooks/registry"
    assert (
        401
        == httpx.post(url, content=body, headers={"X-Werfop-Signature": "sha256=00"}).status_code
    )
    signature = "sha256=" + hmac.new(TOKEN.encode(), body, hashlib.sha256).hexdigest()
    answer = httpx.post(url, content=body, headers={"X-Werfop-Signature": signature})
    assert 202 == answer.status_code, answer.text
    wait_for(_synced_on(kube_api, "app", "1.1.0"), what="Synced on 1.1.0 after the hook")
    assert TOKEN not in operator.log.read_text()


def test_a_watched_config_map_change_redeploys_at_once(
    kube_api, kubeconfig, operators, jobs, plain_registry, repo_name
):
    kube_api.create(
        "configmaps",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "vals",
                "namespace": "default",
                "labels": {"werf.io/watch": "true"},
            },
            "data": {"values.yaml": "a: 1\n"},
        },
    )
    plain_registry.pusher.push_chart(repo_name, "1.0.0")
    kube_api.create(
        "werfbundles",
        bundle(
            "app",
            f"{plain_registry.host}/{repo_name}",
            registry={"pollInterval": "24h"},
            converge={"valuesFrom": [{"configMapRef": {"name": "vals"}}]},
        ),
    )
    operators(kubeconfig).wait_ready()
    wait_for(_synced_on(kube_api, "app", "1.0.0"), what="Synced")
    before = status_of(kube_api, "app")["lastAppliedValuesHash"]
    kube_api.mutate(
        "configmaps", "default", "vals", lambda o: o["data"].update({"values.yaml": "a: 2\n"})
    )
    wait_for(
        lambda: (
            status_of(kube_api, "app").get("lastAppliedValuesHash") not in (None, before)
            and status_of(kube_api, "app")["phase"] == "Synced"
        ),
        what="a redeploy with new values",
    )
    assert 2 == len(werf_jobs(kube_api))


def test_cross_namespace_needs_the_target_to_opt_in(
    kube_api, kubeconfig, operators, jobs, plain_registry, repo_name
):
    for name in ("apps", "team"):
        kube_api.create(
            "namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        )
    kube_api.create(
        "serviceaccounts",
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "deployer", "namespace": "team"},
        },
    )
    plain_registry.pusher.push_chart(repo_name, "1.0.0")
    kube_api.create(
        "werfbundles",
        bundle(
            "app",
            f"{plain_registry.host}/{repo_name}",
            namespace="apps",
            converge={"targetNamespace": "team", "serviceAccountName": "deployer"},
        ),
    )
    operators(kubeconfig).wait_ready()
    wait_for(lambda: status_of(kube_api, "app", "apps").get("phase") == "Failed", what="refusal")
    stalled = next(
        c for c in status_of(kube_api, "app", "apps")["conditions"] if c["type"] == "Stalled"
    )
    assert "werf.io/accept-bundles-from=apps" in stalled["message"]
    assert [] == werf_jobs(kube_api)
    assert [] == [
        s for s in kube_api.list("secrets", "team") if s["metadata"]["name"].endswith("-inputs")
    ]
    kube_api.mutate(
        "namespaces",
        None,
        "team",
        lambda o: (
            o["metadata"]
            .setdefault("annotations", {})
            .update({"werf.io/accept-bundles-from": "apps"})
        ),
    )
    kube_api.mutate(
        "werfbundles",
        "apps",
        "app",
        lambda o: (
            o["metadata"].setdefault("annotations", {}).update({"werf.io/reconcile-at": "now"})
        ),
    )
    wait_for(_synced_on(kube_api, "app", "1.0.0", "apps"), what="Synced once accepted")
    [job] = werf_jobs(kube_api)
    assert ("team", "deployer") == (
        job["metadata"]["namespace"],
        job["spec"]["template"]["spec"]["serviceAccountName"],
    )
    assert "ownerReferences" not in job["metadata"]


def test_no_cross_namespace_flag_refuses_even_an_opted_in_target(
    kube_api, kubeconfig, operators, jobs, plain_registry, repo_name
):
    kube_api.create(
        "namespaces",
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "team", "annotations": {"werf.io/accept-bundles-from": "*"}},
        },
    )
    kube_api.create(
        "werfbundles",
        bundle(
            "app",
            f"{plain_registry.host}/{repo_name}",
            converge={"targetNamespace": "team", "serviceAccountName": "deployer"},
        ),
    )
    operators(kubeconfig, "--no-cross-namespace").wait_ready()
    wait_for(lambda: status_of(kube_api, "app").get("phase") == "Failed", what="refusal")
    assert "--no-cross-namespace" in status_of(kube_api, "app")["conditions"][0]["message"]
