"""deploy/ on a kind cluster: what needs a container runtime, checked against a cluster
that `make local-test` (deploy/scripts/local-test.sh) created, loaded with the image and
deployed to, and whose kubeconfig it passes in WERFOP_E2E_KUBECONFIG: the operator's own
image runs, its two replicas become Ready and elect a leader on the Lease.

Everything that needs no container runtime (the CRD, the corpus, the examples, the
restricted profile on the werf Job, the operator account's rights, the admission policy)
runs on every machine against the real control plane in tests/cluster/test_deploy.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from .manifests import NAMESPACE

KUBECONFIG = os.environ.get("WERFOP_E2E_KUBECONFIG")
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(300),
    pytest.mark.skipif(
        not KUBECONFIG,
        reason="needs a container runtime to run the operator's image: `make local-test` "
        "(Docker and kind) sets WERFOP_E2E_KUBECONFIG; the rest of deploy/ is tested "
        "on the real control plane in tests/cluster",
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
