"""The cluster tier's fixtures over the real control plane: a namespace per test, kubectl,
the admin facade, deploy/'s operator account and ``werfop run`` processes.

The session fixtures ``plane`` (one control plane per pytest session, stopped at the end
even when a test fails; WERFOP_CLUSTER_DIR reuses one that ``make cluster-up`` runs) and
``deployed`` (deploy/ applied) live in ``support.planefixtures``, shared with the cluster
port's contract suite. Never skips: a missing binary fails the tier with the command that
builds it.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from deploy.manifests import NAMESPACE, SERVICE_ACCOUNT
from support.controlplane import ControlPlane
from support.operator import Operator, status_of
from support.realapi import RealApi
from support.registry.fixtures import (
    basic_registry_fixture,
    plain_registry_fixture,
    repo_name_fixture,
    tls_registry_fixture,
)

__all__ = [
    "basic_registry_fixture",
    "plain_registry_fixture",
    "repo_name_fixture",
    "tls_registry_fixture",
]

pytestmark = pytest.mark.cluster


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


@pytest.fixture(scope="session")
def admin(plane: ControlPlane) -> Iterator[RealApi]:
    """The real API server as its admin (``system:masters``)."""
    api = RealApi(plane.server, plane.admin_token, plane.ca_pem)
    yield api
    api.close()


def token_for(core: client.CoreV1Api, namespace: str, account: str, hours: int = 2) -> str:
    """A TokenRequest token for ``namespace/account``: requests are authorised exactly as
    that ServiceAccount's RBAC says."""
    made = core.create_namespaced_service_account_token(
        account,
        namespace,
        client.AuthenticationV1TokenRequest(
            spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=hours * 3600)
        ),
    )
    return str(made.status.token)


@pytest.fixture(scope="session")
def operator_kubeconfig(plane, core, deployed, tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    """A kubeconfig for deploy/'s werfop ServiceAccount (its token from TokenRequest)."""
    token = token_for(core, NAMESPACE, SERVICE_ACCOUNT)
    path = tmp_path_factory.mktemp("operator") / "kubeconfig"
    path.write_text(plane.kubeconfig_for(token, NAMESPACE))
    return path


@pytest.fixture
def operators(tmp_path: Path, operator_kubeconfig: Path) -> Iterator[Callable[..., Operator]]:
    """Start ``werfop run`` processes as the operator account; all stopped at teardown."""
    started: list[Operator] = []

    def start(*args: str) -> Operator:
        operator = Operator(
            operator_kubeconfig,
            tmp_path / f"operator-{len(started)}.log",
            list(args),
            {"POD_NAMESPACE": NAMESPACE},
        )
        started.append(operator)
        return operator

    yield start
    for operator in started:
        try:
            operator.terminate(timeout=12)
        except subprocess.TimeoutExpired:
            operator.kill()


@pytest.fixture
def pod_rules(plane) -> Iterator[Callable[[list[dict[str, Any]]], None]]:  # type: ignore[no-untyped-def]
    """Set the pod completer's rules for this test; restored afterwards."""
    before = plane.pod_rules.read_text()

    def set_rules(rules: list[dict[str, Any]]) -> None:
        plane.pod_rules.write_text(yaml.safe_dump({"rules": rules}))

    yield set_rules
    plane.pod_rules.write_text(before)


def synced_on(api: RealApi, name: str, namespace: str, tag: str) -> Callable[[], bool]:
    def check() -> bool:
        status = status_of(api, name, namespace)
        return status.get("phase") == "Synced" and status.get("lastAppliedTag") == tag

    return check


def job_condition(job: dict[str, Any]) -> str | None:
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition["type"] in ("Complete", "Failed") and condition["status"] == "True":
            return str(condition["type"])
    return None
