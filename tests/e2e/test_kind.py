"""werfop deployed with deploy/ on a kind cluster, deploying a real bundle with werf.

Steps: use the cluster ``make local-test`` prepared, or build the operator image, load
it into a kind cluster (pytest-kind) and deploy it with deploy/; run a registry inside
the kind network; publish a tiny bundle (a Helm chart as an OCI artifact) under two
tags, 0.1.0 in the shape `helm push` writes and 0.2.0 in the shape `werf bundle publish`
writes (support.registry.oci: werf pulls both); apply a WerfBundle; wait until a real
`werf bundle apply` in the Job makes it Synced.
"""

from __future__ import annotations

import json
import os
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
def kubeconfig(request) -> str:
    """The cluster ``make local-test`` prepared (WERFOP_E2E_KUBECONFIG, werfop already
    deployed), or a fresh kind cluster from pytest-kind with werfop deployed here."""
    given = os.environ.get("WERFOP_E2E_KUBECONFIG")
    if given:
        return given
    cluster = request.getfixturevalue("kind_cluster")
    sh("docker", "build", "-t", IMAGE, str(ROOT))
    cluster.load_docker_image(IMAGE)
    path = str(cluster.kubeconfig_path)
    script = subprocess.run(
        [str(ROOT / "deploy/scripts/kustomize.sh"), IMAGE],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    sh("kubectl", "--kubeconfig", path, "apply", "-f", "-", input=script.stdout)
    sh(
        "kubectl",
        "--kubeconfig",
        path,
        "-n",
        "werfop-system",
        "rollout",
        "status",
        "deployment/werfop",
        "--timeout=180s",
    )
    return path


def _kubectl(kubeconfig: str, *args: str) -> str:
    return sh("kubectl", "--kubeconfig", kubeconfig, *args)


def test_a_bundle_is_deployed_by_a_real_werf(kubeconfig, tmp_path):
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
        pusher.push_chart("e2e/hello", "0.1.0")
        pusher.push_werf_bundle("e2e/hello", "0.2.0")
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
        _kubectl(kubeconfig, "apply", "-f", str(manifest))
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            status = json.loads(_kubectl(kubeconfig, "get", "wb", "hello", "-o", "json")).get(
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
