"""The cluster tier's fixtures on top of the session's real control plane
(``support.cluster_fixtures``: plane, admin, core, deployed): a namespace per test,
``werfop run`` as deploy/'s ServiceAccount, the pod completer's rules, and waiting."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from deploy.manifests import NAMESPACE, ROOT, SERVICE_ACCOUNT
from support import hostnames
from support.controlplane import ControlPlane
from support.operator import Operator, bundle, operator_pool, status_of, wait_for
from support.realapi import RealApi
from support.registry.fixtures import (
    basic_registry_fixture,
    plain_registry_fixture,
    repo_name_fixture,
    tls_registry_fixture,
)
from support.registry.process import TLS_BASIC_NAME

__all__ = [
    "basic_registry_fixture",
    "plain_registry_fixture",
    "repo_name_fixture",
    "tls_registry_fixture",
]

pytestmark = pytest.mark.cluster


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
    env = {
        "POD_NAMESPACE": NAMESPACE,
        # the names the tests' DNS knows (support.hostnames), as cluster DNS would
        "PYTHONPATH": f"{hostnames.sitecustomize_dir(tmp_path / 'site')}:{ROOT / 'tests'}",
        hostnames.ENV: hostnames.as_env({TLS_BASIC_NAME: "127.0.0.1"}),
    }
    with operator_pool(tmp_path) as start:
        yield lambda *args: start(operator_kubeconfig, *args, env=env)


@pytest.fixture
def pod_rules(plane) -> Iterator[Callable[[list[dict[str, Any]]], None]]:  # type: ignore[no-untyped-def]
    """Set the pod completer's rules for this test; restored afterwards."""
    before = plane.pod_rules.read_text()

    def set_rules(rules: list[dict[str, Any]]) -> None:
        hosts = {TLS_BASIC_NAME: "127.0.0.1"}  # as the werfop processes resolve it
        plane.pod_rules.write_text(yaml.safe_dump({"hosts": hosts, "rules": rules}))

    yield set_rules
    plane.pod_rules.write_text(before)


def follow(
    admin: RealApi, source: Any, repo_name: str, namespace: str, name: str = "shop", **spec: Any
) -> str:
    """The setup most scenarios share: push 1.0.0 to the repository of ``source`` (a
    running registry) and create bundle ``name`` following it (``spec`` as for
    ``support.operator.bundle``, ``registry=`` included); returns the URL."""
    url = f"{source.host}/{repo_name}"
    source.pusher.push_chart(repo_name, "1.0.0")
    admin.create("werfbundles", bundle(name, url, namespace, **spec))
    return url


def failed(api: RealApi, name: str, namespace: str, seconds: float) -> dict[str, Any]:
    """Wait until bundle ``name`` is Failed; its status then."""
    return wait_for(  # type: ignore[no-any-return]
        lambda: (s := status_of(api, name, namespace)).get("phase") == "Failed" and s,
        seconds,
        f"{namespace}/{name} Failed",
    )


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
