"""The real control plane as session fixtures, shared by every tier that needs it
(tests/cluster, the cluster-port contract in tests/contract): one control plane per
pytest session, started on first use and stopped at the end even when a test fails.

Set WERFOP_CLUSTER_DIR to a folder where ``make cluster-up`` runs one to reuse it (it is
then left running). Never skips: a missing binary fails with the command that builds it.
Registered for the whole suite by ``pytest_plugins`` in tests/conftest.py.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config

from support import controlplane
from support.controlplane import ControlPlane
from support.realapi import RealApi

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    reuse = os.environ.get("WERFOP_CLUSTER_DIR")
    if reuse:
        yield controlplane.attach(Path(reuse))
        return
    folder = tmp_path_factory.mktemp("controlplane")
    try:
        started = controlplane.start(folder, die_with_parent=True)
    except RuntimeError as error:
        pytest.fail(f"the control plane did not start: {error}", pytrace=False)
    try:
        yield started
    finally:
        controlplane.stop(folder, remove=False)


@pytest.fixture(scope="session")
def api_client(plane: ControlPlane) -> Iterator[client.ApiClient]:
    made = config.new_client_from_config(config_file=str(plane.kubeconfig))
    yield made
    made.close()


@pytest.fixture(scope="session")
def core(api_client: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api_client)


@pytest.fixture(scope="session")
def admin(plane: ControlPlane) -> Iterator[RealApi]:
    """The real API server as its admin (``system:masters``)."""
    api = RealApi(plane.server, plane.admin_token, plane.ca_pem)
    yield api
    api.close()


@pytest.fixture(scope="session")
def deployed(plane) -> None:  # type: ignore[no-untyped-def]
    """Everything in deploy/ applied once per session, as `make deploy` does (without its
    rollout wait: no kubelet runs the operator's own pods here)."""
    rendered = subprocess.run(
        [str(ROOT / "deploy/scripts/kustomize.sh"), "werfop:0.1.0"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "KUBECONFIG": str(plane.kubeconfig)},
    ).stdout
    for _ in range(2):  # the policy's binding may need the CRD established first
        applied = subprocess.run(
            ["kubectl", f"--kubeconfig={plane.kubeconfig}", "apply", "-f", "-"],
            input=rendered,
            capture_output=True,
            text=True,
            check=False,
        )
        if applied.returncode == 0:
            break
        subprocess.run(
            [
                "kubectl",
                f"--kubeconfig={plane.kubeconfig}",
                "wait",
                "--for=condition=Established",
                "crd/werfbundles.werf.io",
                "--timeout=60s",
            ],
            check=False,
        )
    assert 0 == applied.returncode, applied.stderr
