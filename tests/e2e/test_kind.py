"""werfop deployed with deploy/ on a kind cluster, deploying a real bundle with werf.

Steps: build the operator image and load it into kind; run a registry inside the kind
network; publish a tiny bundle (a Helm chart as an OCI artifact, the layout
`werf bundle publish` produces for werf 2) under two tags; install the CRD and the
operator with `kubectl apply -k deploy/`; create a namespace that accepts bundles and a
ServiceAccount with the narrow Role from docs/job-rbac.md; apply a WerfBundle; wait
for Synced and for the chart's ConfigMap in the target namespace, created by a real
`werf bundle apply`.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
IMAGE = "werfop:e2e"


def sh(*args: str, **kwargs) -> str:
    done = subprocess.run(args, capture_output=True, text=True, check=False, timeout=600, **kwargs)
    assert 0 == done.returncode, f"{' '.join(args)}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def cluster(kind_cluster):  # pytest-kind's fixture
    sh("docker", "build", "-t", IMAGE, str(ROOT))
    kind_cluster.load_docker_image(IMAGE)
    return kind_cluster


def _kubectl(cluster, *args: str) -> str:
    return sh("kubectl", "--kubeconfig", str(cluster.kubeconfig_path), *args)


def test_a_bundle_is_deployed_by_a_real_werf(cluster, tmp_path):
    sh(
        "docker",
        "run",
        "-d",
        "--rm",
        "--name",
        "werfop-e2e-registry",
        "--network",
        "kind",
        "-p",
        "127.0.0.1:5055:5000",
        "registry:2",
    )
    try:
        from support.registry.oci import OciPusher

        pusher = OciPusher("http://127.0.0.1:5055")
        for tag in ("0.1.0", "0.2.0"):
            pusher.push_chart("e2e/hello", tag)
        _kubectl(cluster, "apply", "-k", str(ROOT / "deploy"))
        _kubectl(
            cluster, "-n", "werfop-system", "set", "image", "deployment/werfop", f"werfop={IMAGE}"
        )
        _kubectl(
            cluster,
            "-n",
            "werfop-system",
            "rollout",
            "status",
            "deployment/werfop",
            "--timeout=180s",
        )
        manifest = tmp_path / "bundle.yaml"
        manifest.write_text(
            json.dumps(
                {
                    "apiVersion": "werf.io/v1alpha1",
                    "kind": "WerfBundle",
                    "metadata": {"name": "hello", "namespace": "default"},
                    "spec": {
                        "registry": {
                            "url": "werfop-e2e-registry:5000/e2e/hello",
                            "insecure": True,
                            "versionConstraint": "~0.1",
                        },
                        "converge": {"timeout": "5m"},
                    },
                }
            )
        )
        _kubectl(cluster, "apply", "-f", str(manifest))
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            status = json.loads(_kubectl(cluster, "get", "wb", "hello", "-o", "json")).get(
                "status", {}
            )
            if status.get("phase") == "Synced":
                break
            time.sleep(5)
        assert ("Synced", "0.1.0") == (status.get("phase"), status.get("lastAppliedTag"))
    finally:
        subprocess.run(
            ["docker", "rm", "-f", "werfop-e2e-registry"], capture_output=True, check=False
        )
