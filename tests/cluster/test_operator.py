"""``werfop run`` on the real control plane: authenticated as deploy/'s ServiceAccount
(a TokenRequest token, so deploy/rbac is what allows or forbids each request), against
the real distribution registry, with the real Job controller, garbage collector and TTL
controller finishing and cleaning up after the Jobs (pods end by the pod completer's
rules: tests/support/podcompleter.py).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from deploy.manifests import NAMESPACE, SERVICE_ACCOUNT
from support.operator import Operator, bundle, status_of, werf_jobs
from support.realapi import RealApi

from .conftest import token_for, wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(300)]


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


def test_a_pushed_tag_becomes_a_job_the_real_job_controller_completes_and_the_bundle_syncs(
    admin, operators, plain_registry, repo_name, namespace
):
    url = f"{plain_registry.host}/{repo_name}"
    digest = plain_registry.pusher.push_chart(repo_name, "1.0.0")
    admin.create(
        "werfbundles", bundle("shop", url, namespace, registry={"versionConstraint": "^1"})
    )
    operators().wait_ready(timeout=60)

    wait_for(synced_on(admin, "shop", namespace, "1.0.0"), 90, "Synced on 1.0.0")

    [job] = werf_jobs(admin, namespace)
    secret = admin.get("secrets", namespace, f"{job['metadata']['name']}-inputs")
    status = status_of(admin, "shop", namespace)
    assert "Complete" == job_condition(job)
    assert digest == status["lastAppliedDigest"]
    assert [job["metadata"]["uid"]] == [o["uid"] for o in secret["metadata"]["ownerReferences"]]


def test_a_failing_pod_is_retried_and_the_bundle_ends_failed_after_max_attempts(
    admin, operators, plain_registry, repo_name, namespace, pod_rules
):
    pod_rules([{"match": {"namespace": namespace}, "exitCode": 1}])
    plain_registry.pusher.push_chart(repo_name, "1.0.0")
    admin.create(
        "werfbundles",
        bundle(
            "shop",
            f"{plain_registry.host}/{repo_name}",
            namespace,
            converge={"maxAttempts": 2},
        ),
    )
    operators().wait_ready(timeout=60)

    status = wait_for(
        lambda: (s := status_of(admin, "shop", namespace)).get("phase") == "Failed" and s,
        180,
        "phase Failed",
    )

    jobs = werf_jobs(admin, namespace)
    assert ["Failed", "Failed"] == sorted(job_condition(j) or "-" for j in jobs)
    assert 2 == len({j["metadata"]["annotations"]["werf.io/attempt"] for j in jobs})
    assert "lastAppliedTag" not in status


def test_the_garbage_collector_deletes_the_inputs_secret_with_its_job(
    admin, operators, plain_registry, repo_name, namespace
):
    plain_registry.pusher.push_chart(repo_name, "1.0.0")
    admin.create("werfbundles", bundle("shop", f"{plain_registry.host}/{repo_name}", namespace))
    operators().wait_ready(timeout=60)
    wait_for(synced_on(admin, "shop", namespace, "1.0.0"), 90, "Synced on 1.0.0")
    [job] = werf_jobs(admin, namespace)
    secret = f"{job['metadata']['name']}-inputs"

    admin.delete("jobs", namespace, job["metadata"]["name"])

    wait_for(lambda: admin.get("secrets", namespace, secret) is None, 60, "the inputs Secret gone")


def test_the_operator_account_may_not_list_secrets_cluster_wide(plane, operator_kubeconfig):
    config = yaml.safe_load(operator_kubeconfig.read_text())
    token = config["users"][0]["user"]["token"]
    api = RealApi(plane.server, token, plane.ca_pem)
    try:
        with pytest.raises(httpx.HTTPStatusError) as refused:
            api.list("secrets")
        allowed = api.list("werfbundles")
    finally:
        api.close()

    assert 403 == refused.value.response.status_code
    assert isinstance(allowed, list)
