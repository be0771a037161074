"""The Job's werf command for real: a bundle published by real ``werf bundle publish``,
deployed by ``werfop run`` through a Job whose pod the pod runner (tests/support/
podrunner.py) runs as a kubelet would: werf built from its Go module, in a chroot as uid
1000 with the werf image's ENV, the pod's volumes made from the real Secrets, and the
in-cluster credentials of the bundle's ServiceAccount, bound to the narrow Role that
docs/job-rbac.md recommends and nothing more. The release lands in the real API server.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.manifests import ROOT
from support.operator import bundle, status_of, werf_jobs
from support.realapi import RealApi
from support.registry.fixtures import (
    CANARIES,
    READER,
    USERS,
    tls_basic_registry_fixture,
    token_registry_fixture,
)
from support.werfproject import WerfProject, make_project

from .conftest import failed, job_condition, synced_on, wait_for

__all__ = ["tls_basic_registry_fixture", "token_registry_fixture"]
pytestmark = [pytest.mark.cluster, pytest.mark.werf, pytest.mark.timeout(600)]
PASSWORD = "canary-werf-secret-value-5e1d"
DEPLOYER = "werf-deployer"


def recommended_role() -> dict[str, Any]:
    """The narrow Role of docs/job-rbac.md, read from the document itself."""
    text = (ROOT / "docs" / "job-rbac.md").read_text()
    for block in re.findall(r"```yaml\n(.*?)```", text, re.S):
        for document in yaml.safe_load_all(block):
            if document.get("kind") == "Role" and document["metadata"]["name"] == DEPLOYER:
                return dict(document)
    raise AssertionError("docs/job-rbac.md has no Role werf-deployer")


def grant_deployer(admin: RealApi, namespace: str) -> None:
    """The ServiceAccount, Role and RoleBinding docs/job-rbac.md tells users to create."""
    role = recommended_role()
    role["metadata"]["namespace"] = namespace
    admin.create(
        "serviceaccounts",
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": DEPLOYER, "namespace": namespace},
        },
    )
    admin.http.post(
        f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/roles", json=role
    ).raise_for_status()
    admin.http.post(
        f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/rolebindings",
        json={
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": DEPLOYER, "namespace": namespace},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": DEPLOYER},
            "subjects": [{"kind": "ServiceAccount", "name": DEPLOYER, "namespace": namespace}],
        },
    ).raise_for_status()


def add_secret_key(admin: RealApi, namespace: str, project: WerfProject) -> None:
    admin.create(
        "secrets",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "shop-secret-key", "namespace": namespace},
            "stringData": {"secret-key": project.secret_key},
        },
    )


@pytest.fixture
def project(tmp_path: Path) -> WerfProject:
    return make_project(tmp_path / "project", PASSWORD)


@pytest.fixture
def werf_pods(namespace: str, pod_rules: Callable[[list[dict[str, Any]]], None]) -> None:
    """Every Job pod of the test's namespace runs its command (real werf)."""
    pod_rules([{"match": {"namespace": namespace}, "run": True}])


def settings(admin: RealApi, namespace: str, release: str = "shop") -> dict[str, str] | None:
    found = admin.get("configmaps", namespace, f"{release}-settings")
    return None if found is None else dict(found.get("data") or {})


def test_werf_deploys_a_published_bundle_with_values_from_and_its_secret_value(
    admin, operators, plain_registry, repo_name, namespace, project, werf_pods
):
    url = f"{plain_registry.host}/{repo_name}"
    project.publish(url, "1.0.0", greeting="hello")
    grant_deployer(admin, namespace)
    # With service links, this Service would hand werf WERF_VALUES_PORT=tcp://... as a
    # values file to read (werf reads WERF_VALUES_*): the Job turns them off.
    admin.create(
        "services",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "werf-values", "namespace": namespace},
            "spec": {"ports": [{"port": 80}]},
        },
    )
    admin.create(
        "configmaps",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "shop-values", "namespace": namespace},
            "data": {"values.yaml": "colour: blue\n"},
        },
    )
    add_secret_key(admin, namespace, project)
    admin.create(
        "werfbundles",
        bundle(
            "shop",
            url,
            namespace,
            converge={
                "serviceAccountName": DEPLOYER,
                "valuesFrom": [{"configMapRef": {"name": "shop-values"}}],
                "secretKeySecretRef": {"name": "shop-secret-key"},
            },
        ),
    )
    operators().wait_ready(timeout=60)

    wait_for(synced_on(admin, "shop", namespace, "1.0.0"), 240, "Synced on 1.0.0")

    [job] = werf_jobs(admin, namespace)
    assert "Complete" == job_condition(job)
    assert {"greeting": "hello", "colour": "blue", "password": PASSWORD} == settings(
        admin, namespace
    )
    status = status_of(admin, "shop", namespace)
    assert 'Succeeded release "shop"' in status.get("lastJobLogs", "")


def condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    return next((c for c in status.get("conditions") or [] if c["type"] == kind), {})


def test_drift_is_reported_by_a_plan_job_and_corrected_by_an_apply(
    admin, operators, plain_registry, repo_name, namespace, project, werf_pods
):
    url = f"{plain_registry.host}/{repo_name}"
    project.publish(url, "1.0.0", greeting="hello")
    grant_deployer(admin, namespace)
    add_secret_key(admin, namespace, project)
    drift = {"enabled": True, "interval": "1m", "mode": "Report"}
    converge = {
        "serviceAccountName": DEPLOYER,
        "secretKeySecretRef": {"name": "shop-secret-key"},
        "driftDetection": drift,
    }
    admin.create("werfbundles", bundle("shop", url, namespace, converge=converge))
    operators().wait_ready(timeout=60)
    wait_for(synced_on(admin, "shop", namespace, "1.0.0"), 240, "Synced on 1.0.0")

    admin.mutate(
        "configmaps",
        namespace,
        "shop-settings",
        lambda cm: cm["data"].update(greeting="tampered"),
    )
    reported = wait_for(
        lambda: (
            condition(status_of(admin, "shop", namespace), "Drifted").get("status") == "True"
            and status_of(admin, "shop", namespace)
        ),
        240,
        "Drifted=True from a plan Job",
    )
    assert "tampered" == (settings(admin, namespace) or {}).get("greeting")  # Report leaves it
    plans = [
        j
        for j in werf_jobs(admin, namespace)
        if "plan" in j["spec"]["template"]["spec"]["containers"][0]["command"]
    ]
    assert plans, "the drift was found by a werf bundle plan Job"
    assert "Synced" == reported["phase"]

    admin.mutate(
        "werfbundles",
        namespace,
        "shop",
        lambda o: o["spec"]["converge"]["driftDetection"].update(mode="Correct"),
    )

    wait_for(
        lambda: (settings(admin, namespace) or {}).get("greeting") == "hello",
        300,
        "the drift corrected",
    )


def test_a_chart_that_cannot_apply_is_retried_and_ends_failed_with_werfs_error(
    admin, operators, plain_registry, repo_name, namespace, project, werf_pods
):
    url = f"{plain_registry.host}/{repo_name}"
    project.publish(url, "1.0.0", broken=True)
    grant_deployer(admin, namespace)
    add_secret_key(admin, namespace, project)
    converge = {
        "serviceAccountName": DEPLOYER,
        "secretKeySecretRef": {"name": "shop-secret-key"},
        "maxAttempts": 2,
    }
    admin.create("werfbundles", bundle("shop", url, namespace, converge=converge))
    operators().wait_ready(timeout=60)

    status = failed(admin, "shop", namespace, 300)

    jobs = werf_jobs(admin, namespace)
    assert ["Failed", "Failed"] == [job_condition(j) for j in jobs]
    assert "NOT_A_VALID_NAME" in status.get("lastJobLogs", "")
    assert "lastAppliedTag" not in status


@pytest.mark.parametrize(
    ("registry_fixture", "shape"),
    [
        pytest.param("basic_registry", "helm", id="htpasswd-secretRef-helm-chart"),
        pytest.param("tls_basic_registry", "werf", id="htpasswd-tls-caSecretRef-werf-bundle"),
        pytest.param("token_registry", "werf", id="token-only-secret-werf-bundle"),
    ],
)
def test_werf_pulls_with_the_credentials_and_ca_the_bundle_names(
    admin, operators, repo_name, namespace, werf_pods, request, registry_fixture, shape
):
    registry = request.getfixturevalue(registry_fixture)
    push = registry.pusher.push_chart if shape == "helm" else registry.pusher.push_werf_bundle
    push(repo_name, "1.0.0")
    grant_deployer(admin, namespace)
    if registry.mode == "token":
        credentials = {"token": CANARIES["identity_token"]}
    else:
        credentials = {"username": READER, "password": USERS[READER]}
    secret(admin, namespace, "pull", credentials)
    spec_registry: dict[str, Any] = {"secretRef": {"name": "pull"}}
    if registry.ca_pem is not None:
        secret(admin, namespace, "registry-ca", {"ca.crt": registry.ca_pem})
        spec_registry.update(caSecretRef={"name": "registry-ca"}, insecure=False)
    url = f"{registry.host}/{repo_name}"
    admin.create(
        "werfbundles",
        bundle(
            "app", url, namespace, registry=spec_registry, converge={"serviceAccountName": DEPLOYER}
        ),
    )
    operators().wait_ready(timeout=60)

    wait_for(synced_on(admin, "app", namespace, "1.0.0"), 240, "Synced on 1.0.0")

    assert admin.get("configmaps", namespace, "app") is not None  # the chart's one object
    logs = status_of(admin, "app", namespace).get("lastJobLogs", "")
    assert [] == [v for v in credentials.values() if v in logs]


def secret(admin: RealApi, namespace: str, name: str, data: dict[str, str]) -> None:
    admin.create(
        "secrets",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace},
            "stringData": data,
        },
    )


def release_secrets(admin: RealApi, namespace: str, release: str) -> list[str]:
    return [
        s["metadata"]["name"]
        for s in admin.list("secrets", namespace, labelSelector=f"owner=helm,name={release}")
    ]


def test_deleting_a_bundle_with_the_uninstall_policy_removes_the_release(
    admin, operators, plain_registry, repo_name, namespace, project, werf_pods
):
    url = f"{plain_registry.host}/{repo_name}"
    project.publish(url, "1.0.0")
    grant_deployer(admin, namespace)
    add_secret_key(admin, namespace, project)
    converge = {
        "serviceAccountName": DEPLOYER,
        "secretKeySecretRef": {"name": "shop-secret-key"},
        "deletionPolicy": "Uninstall",
    }
    admin.create("werfbundles", bundle("shop", url, namespace, converge=converge))
    # Never deploys (no tag satisfies it): its uninstall finds no release, and succeeds.
    admin.create(
        "werfbundles",
        bundle("never", url, namespace, registry={"versionConstraint": ">=9"}, converge=converge),
    )
    operators().wait_ready(timeout=60)
    wait_for(synced_on(admin, "shop", namespace, "1.0.0"), 240, "Synced on 1.0.0")
    assert release_secrets(admin, namespace, "shop")

    admin.delete("werfbundles", namespace, "shop")
    admin.delete("werfbundles", namespace, "never")

    wait_for(lambda: admin.get("werfbundles", namespace, "shop") is None, 240, "shop deleted")
    wait_for(lambda: admin.get("werfbundles", namespace, "never") is None, 240, "never deleted")
    assert settings(admin, namespace) is None
    assert [] == release_secrets(admin, namespace, "shop")
    uninstalled = {
        e["involvedObject"]["name"]
        for e in admin.list("events", namespace)
        if e["reason"] == "Uninstalled"
    }
    assert {"shop", "never"} == uninstalled
