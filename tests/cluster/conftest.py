"""The real control plane under the cluster tier: one per pytest session (etcd,
kube-apiserver and kube-controller-manager built from their Go modules, and the pod
completer), a namespace per test, everything stopped at the end even when a test fails.

Set WERFOP_CLUSTER_DIR to a folder where ``make cluster-up`` runs one to reuse it
(it is then left running). Never skips: a missing binary fails the tier with the command
that builds it.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from support import controlplane
from support.controlplane import ControlPlane

pytestmark = pytest.mark.cluster


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
def api_client(plane: ControlPlane) -> Iterator[client.ApiClient]:
    made = config.new_client_from_config(config_file=str(plane.kubeconfig))
    yield made
    made.close()


@pytest.fixture(scope="session")
def core(api_client: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api_client)


@pytest.fixture
def namespace(core: client.CoreV1Api, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace (with its ``default`` ServiceAccount), deleted after the test."""
    name = f"t-{request.node.name[:40].lower().replace('_', '-').strip('-')}-{uuid.uuid4().hex[:5]}"
    name = "".join(c if c.isalnum() or c == "-" else "-" for c in name)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    wait_for(lambda: _has_account(core, name, "default"), 30, f"default ServiceAccount in {name}")
    yield name
    try:
        core.delete_namespace(name)
    except ApiException as error:
        if error.status != 404:
            raise


def _has_account(core: client.CoreV1Api, namespace: str, name: str) -> bool:
    try:
        core.read_namespaced_service_account(name, namespace)
        return True
    except ApiException:
        return False


def wait_for(predicate, seconds: float, what: str, interval: float = 0.2):  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {seconds} s waiting for {what}", pytrace=False)
        time.sleep(interval)


@pytest.fixture
def kubectl(plane: ControlPlane):  # type: ignore[no-untyped-def]
    """Run kubectl against the control plane as its admin."""

    def run(
        *args: str, stdin: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["kubectl", f"--kubeconfig={plane.kubeconfig}", *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=check,
        )

    return run
