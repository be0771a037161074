"""deploy/ on a real cluster: what the offline tests emulate, checked against a kind
cluster that `make local-test` (deploy/scripts/local-test.sh) created, loaded with the
image and deployed to, and whose kubeconfig it passes in WERFOP_E2E_KUBECONFIG.

The API server itself must admit the examples, reject the corpus naming the same fields
as the emulation, enforce the restricted profile on our pods, evaluate the admission
policy, and run the operator with leader election.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from typing import Any

import pytest
import yaml

from .manifests import EXAMPLES, NAMESPACE
from .test_crd import CORPUS, CRD
from .test_manifests import JOBS

KUBECONFIG = os.environ.get("WERFOP_E2E_KUBECONFIG")
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(300),
    pytest.mark.skipif(
        not KUBECONFIG,
        reason="needs werfop deployed on a cluster: `make local-test` (Docker and kind) "
        "sets WERFOP_E2E_KUBECONFIG",
    ),
]


def kubectl(
    *args: str, stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess:
    assert KUBECONFIG is not None
    return subprocess.run(
        ["kubectl", f"--kubeconfig={KUBECONFIG}", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=check,
    )


def ensure_namespace(name: str, labels: dict[str, str] | None = None) -> None:
    manifest = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    if labels:
        manifest["metadata"]["labels"] = labels
    kubectl("apply", "-f", "-", stdin=json.dumps(manifest))


def test_crd_is_established_and_kubectl_explain_describes_its_fields():
    kubectl("wait", "--for=condition=Established", "crd/werfbundles.werf.io", "--timeout=60s")

    explained = kubectl("explain", "werfbundle.spec.registry").stdout

    assert "Which OCI repository to follow" in explained
    assert "pollInterval" in explained


def test_operator_runs_two_ready_replicas_and_one_holds_the_lease():
    kubectl(
        "-n", NAMESPACE, "wait", "--for=condition=Available", "deployment/werfop", "--timeout=180s"
    )
    deadline = time.monotonic() + 120
    while True:
        deployment = json.loads(
            kubectl("-n", NAMESPACE, "get", "deployment/werfop", "-o", "json").stdout
        )
        lease = kubectl("-n", NAMESPACE, "get", "lease/werfop-leader", "-o", "json", check=False)
        if deployment["status"].get("readyReplicas") == 2 and lease.returncode == 0:
            break
        assert time.monotonic() < deadline, "werfop did not become ready and elect a leader"
        time.sleep(2)
    pods = json.loads(
        kubectl(
            "-n", NAMESPACE, "get", "pods", "-l", "app.kubernetes.io/name=werfop", "-o", "json"
        ).stdout
    )["items"]
    holder = json.loads(lease.stdout)["spec"]["holderIdentity"]

    assert holder.split("_")[0] in {p["metadata"]["name"] for p in pods}


@pytest.mark.parametrize(
    "example", sorted(p.name for p in EXAMPLES.glob("*.yaml") if p.name != "scenario.yaml")
)
def test_api_server_admits_every_example(example):
    for name in ("platform", "payments"):
        ensure_namespace(name)

    result = kubectl("apply", "--dry-run=server", "-f", str(EXAMPLES / example), check=False)

    assert (0, "") == (result.returncode, result.stderr)


@pytest.mark.parametrize(("obj", "expected"), CORPUS)
def test_api_server_rejects_the_corpus_naming_the_emulated_fields(obj, expected):
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
def test_restricted_namespace_admits_the_werf_job_and_its_pod(name, job):
    namespace = "werfop-e2e-restricted"
    ensure_namespace(
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
def test_operator_service_account_may_do_what_the_role_says(verb, resource, namespace, expected):
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


def test_admission_policy_stops_a_bundle_author_who_may_not_create_jobs_there():
    ensure_namespace("werfop-e2e-team")
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "alice-bundles", "namespace": "werfop-e2e-team"},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "werfop-werfbundle-editor",
        },
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}],
    }
    kubectl("apply", "-f", "-", stdin=json.dumps(binding))
    bundle = {
        "apiVersion": "werf.io/v1alpha1",
        "kind": "WerfBundle",
        "metadata": {"name": "escalate", "namespace": "werfop-e2e-team"},
        "spec": {
            "registry": {"url": "ghcr.io/acme/tools", "tag": "latest"},
            "converge": {"targetNamespace": "kube-system", "serviceAccountName": "default"},
        },
    }

    result = kubectl(
        "--as=alice",
        "create",
        "--dry-run=server",
        "-f",
        "-",
        stdin=yaml.safe_dump(bundle),
        check=False,
    )

    assert 0 != result.returncode
    assert "you may not create Jobs in namespace kube-system" in result.stderr
