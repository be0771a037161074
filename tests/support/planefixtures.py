"""The real control plane as session fixtures, shared by every tier that needs it (a
pytest plugin, registered by ``tests/conftest.py``): one control plane per pytest
session, however many tiers use it.

``plane``: etcd, kube-apiserver and kube-controller-manager built from their Go modules,
and the pod completer; stopped at the end of the session even when a test fails. Set
WERFOP_CLUSTER_DIR to a folder where ``make cluster-up`` runs one to reuse it (it is then
left running). Never skips: a missing binary fails with the command that builds it.
``deployed``: everything in deploy/ applied once per session (the CRD included).
Neighbours: ``support.controlplane`` (start and stop), ``tests/cluster/conftest.py`` and
``tests/contract/test_cluster_contract.py`` (the users).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.manifests import ROOT
from support import controlplane
from support.controlplane import ControlPlane


@pytest.fixture(scope="session")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    reuse = os.environ.get("WERFOP_CLUSTER_DIR")
    if reuse:
        yield controlplane.attach(Path(reuse))
        return
    folder = tmp_path_factory.mktemp("controlplane")
    try:
        started = controlplane.start(folder)
    except RuntimeError as error:
        pytest.fail(f"the control plane did not start: {error}", pytrace=False)
    try:
        yield started
    finally:
        controlplane.stop(folder, remove=False)


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
