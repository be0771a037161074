"""The distribution registry itself notifies werfop of a push (its notifications
config pointing at POST /hooks/registry); the bundle deploys without waiting for its
24h poll."""

from __future__ import annotations

import base64

import pytest

from support.operator import Operator, bundle, free_port, status_of, wait_for, werf_jobs
from support.registry.process import start_registry

pytestmark = pytest.mark.integration
TOKEN = "notify-canary-77aa01"


def test_a_real_registry_notification_triggers_the_deploy(
    kube_api, kubeconfig, jobs, tmp_path, repo_name
):
    health = free_port()
    registry = start_registry(
        tmp_path / "registry", "plain", notify=(f"http://127.0.0.1:{health}/hooks/registry", TOKEN)
    )
    operator = None
    try:
        kube_api.create(
            "secrets",
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "type": "Opaque",
                "metadata": {"name": "hook", "namespace": "default"},
                "data": {"token": base64.b64encode(TOKEN.encode()).decode()},
            },
        )
        registry.pusher.push_chart(repo_name, "1.0.0")
        kube_api.create(
            "werfbundles",
            bundle("app", f"{registry.host}/{repo_name}", registry={"pollInterval": "24h"}),
        )
        operator = Operator(
            kubeconfig,
            tmp_path / "operator.log",
            ["--webhook-secret", "default/hook"],
            {},
            health=health,
        ).wait_ready()
        wait_for(lambda: status_of(kube_api, "app").get("lastAppliedTag") == "1.0.0", what="1.0.0")
        registry.pusher.push_chart(repo_name, "1.1.0")
        wait_for(
            lambda: status_of(kube_api, "app").get("lastAppliedTag") == "1.1.0",
            what="1.1.0 deployed after the registry's notification",
        )
        assert ["1.0.0", "1.1.0"] == sorted(
            j["metadata"]["annotations"]["werf.io/tag"] for j in werf_jobs(kube_api)
        )
    finally:
        if operator is not None:
            operator.terminate()
        registry.stop()
