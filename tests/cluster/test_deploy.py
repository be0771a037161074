"""deploy/ on the real control plane: the API server admits our CRD (structural schema,
CEL cost budget), ``kubectl explain`` and ``kubectl get`` show what the schema says, the
corpus of bad WerfBundles is rejected naming the same fields as our own checks, the
werf Job passes the restricted Pod Security admission, the operator's ServiceAccount may
do what deploy/rbac says and no more, and the ValidatingAdmissionPolicy is enforced.

What needs a container runtime (the operator's own Deployment becoming Ready) stays in
tests/deploy/test_e2e_kind.py for machines with Docker and kind.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from deploy.manifests import EXAMPLES, NAMESPACE
from deploy.test_crd import CORPUS, CRD
from deploy.test_manifests import JOBS

from .conftest import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(300)]


def ensure_namespace(kubectl, name: str, labels: dict[str, str] | None = None) -> None:  # type: ignore[no-untyped-def]
    manifest: dict[str, Any] = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    if labels:
        manifest["metadata"]["labels"] = labels
    kubectl("apply", "-f", "-", stdin=json.dumps(manifest))


def test_crd_is_established_and_kubectl_explain_describes_its_fields(deployed, kubectl):
    kubectl("wait", "--for=condition=Established", "crd/werfbundles.werf.io", "--timeout=60s")

    # The OpenAPI document follows a new CRD a moment after it is Established.
    explain = lambda field: kubectl("explain", field, check=False)  # noqa: E731
    wait_for(lambda: explain("werfbundle.spec").returncode == 0, 60, "the CRD in /openapi/v3")
    explained = explain("werfbundle.spec.registry").stdout
    constraint = explain("werfbundle.spec.registry.versionConstraint").stdout

    assert "Which OCI repository to follow" in explained
    assert "pollInterval" in explained
    assert "FIELD: versionConstraint <string>" in constraint


def test_kubectl_get_shows_the_printer_columns(deployed, kubectl, namespace):
    bundle = {
        "apiVersion": "werf.io/v1alpha1",
        "kind": "WerfBundle",
        "metadata": {"name": "shop", "namespace": namespace},
        "spec": {"registry": {"url": "127.0.0.1:5000/acme/shop", "versionConstraint": "^1"}},
    }
    kubectl("apply", "-f", "-", stdin=json.dumps(bundle))
    crd = yaml.safe_load(kubectl("get", "crd", "werfbundles.werf.io", "-o", "yaml").stdout)
    columns = [
        c["name"].upper()
        for c in crd["spec"]["versions"][0]["additionalPrinterColumns"]
        if c.get("priority", 0) == 0
    ]

    header = kubectl("get", "wb", "-n", namespace).stdout.splitlines()[0].split()

    assert ["NAME", *columns] == header


@pytest.mark.parametrize(
    "example", sorted(p.name for p in EXAMPLES.glob("*.yaml") if p.name != "scenario.yaml")
)
def test_api_server_admits_every_example(deployed, kubectl, example):
    for name in ("platform", "payments"):
        ensure_namespace(kubectl, name)

    result = kubectl("apply", "--dry-run=server", "-f", str(EXAMPLES / example), check=False)

    assert (0, "") == (result.returncode, result.stderr)


@pytest.mark.parametrize(("obj", "expected"), CORPUS)
def test_api_server_rejects_the_corpus_naming_the_emulated_fields(deployed, kubectl, obj, expected):
    result = kubectl("apply", "--dry-run=server", "-f", "-", stdin=json.dumps(obj), check=False)

    assert 0 != result.returncode
    assert [] == [r.path for r in CRD.rejections(obj) if r.path not in result.stderr]


def _pod_of(job: dict[str, Any], namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": job["metadata"]["name"], "namespace": namespace},
        "spec": job["spec"]["template"]["spec"],
    }


@pytest.mark.parametrize(("name", "job"), [pytest.param(n, j, id=n) for n, j in JOBS])
def test_restricted_namespace_admits_the_werf_job_and_its_pod(kubectl, name, job):
    namespace = "werfop-restricted"
    ensure_namespace(
        kubectl,
        namespace,
        {
            "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/warn": "restricted",
        },
    )
    account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "werf-deployer"}}
    kubectl("-n", namespace, "apply", "-f", "-", stdin=json.dumps(account))  # a Pod's SA must exist
    job = {**job, "metadata": {**job["metadata"], "namespace": namespace}}
    job["metadata"].pop("ownerReferences", None)

    for obj in (job, _pod_of(job, namespace)):
        result = kubectl(
            "create", "--dry-run=server", "-f", "-", stdin=json.dumps(obj), check=False
        )
        assert (0, "") == (result.returncode, result.stderr), name


def test_restricted_namespace_refuses_a_pod_that_escalates(kubectl):
    """The check above can fail: the same admission refuses a privileged pod."""
    namespace = "werfop-restricted"
    ensure_namespace(kubectl, namespace, {"pod-security.kubernetes.io/enforce": "restricted"})
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "escalates", "namespace": namespace},
        "spec": {
            "containers": [{"name": "c", "image": "x", "securityContext": {"privileged": True}}]
        },
    }

    result = kubectl("create", "--dry-run=server", "-f", "-", stdin=json.dumps(pod), check=False)

    assert 0 != result.returncode
    assert "violates PodSecurity" in result.stderr


@pytest.mark.parametrize(
    ("verb", "resource", "namespace", "expected"),
    [
        ("create", "jobs", "default", "yes"),
        ("get", "secrets", "default", "yes"),
        ("list", "secrets", "default", "no"),
        ("delete", "secrets", "default", "no"),
        ("update", "werfbundles", "default", "no"),
        ("update", "leases", NAMESPACE, "no"),  # only the werfop-leader Lease, by name
        ("create", "leases", NAMESPACE, "yes"),
        ("create", "leases", "default", "no"),
    ],
)
def test_operator_service_account_may_do_what_the_role_says(
    deployed, kubectl, verb, resource, namespace, expected
):
    result = kubectl(
        "auth",
        "can-i",
        verb,
        resource,
        "-n",
        namespace,
        f"--as=system:serviceaccount:{NAMESPACE}:werfop",
        check=False,
    )
    assert expected == result.stdout.strip()


def test_admission_policy_stops_a_bundle_author_who_may_not_create_jobs_there(deployed, kubectl):
    ensure_namespace(kubectl, "werfop-team")
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "alice-bundles", "namespace": "werfop-team"},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "werfop-werfbundle-editor",
        },
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}],
    }
    kubectl("apply", "-f", "-", stdin=json.dumps(binding))
    may_run_jobs_here = {  # the built-in `edit` role: Jobs in werfop-team, nowhere else
        **binding,
        "metadata": {"name": "alice-edit", "namespace": "werfop-team"},
        "roleRef": {**binding["roleRef"], "name": "edit"},
    }
    kubectl("apply", "-f", "-", stdin=json.dumps(may_run_jobs_here))
    bundle = {
        "apiVersion": "werf.io/v1alpha1",
        "kind": "WerfBundle",
        "metadata": {"name": "escalate", "namespace": "werfop-team"},
        "spec": {
            "registry": {"url": "ghcr.io/acme/tools", "tag": "latest"},
            "converge": {"targetNamespace": "kube-system", "serviceAccountName": "default"},
        },
    }
    allowed = {**bundle, "spec": {**bundle["spec"], "converge": {}}}

    refused = kubectl(
        "--as=alice",
        "create",
        "--dry-run=server",
        "-f",
        "-",
        stdin=yaml.safe_dump(bundle),
        check=False,
    )
    admitted = kubectl(
        "--as=alice",
        "create",
        "--dry-run=server",
        "-f",
        "-",
        stdin=yaml.safe_dump(allowed),
        check=False,
    )

    assert 0 != refused.returncode
    assert "you may not create Jobs in namespace kube-system" in refused.stderr
    assert (0, "") == (admitted.returncode, admitted.stderr)
