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
from support.werfproject import WerfProject, make_project

from .conftest import job_condition, synced_on, wait_for

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
