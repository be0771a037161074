"""Secret canaries: a registry password, a registry token and a values Secret carry
unique strings; after the operator has used them all, none appears in a log line, a
status, an Event, a Job (arguments, environment, annotations) or a ConfigMap. Only the
per-Job inputs Secret may hold them."""

from __future__ import annotations

import base64
import json

import pytest

from support.operator import bundle, status_of, wait_for, werf_jobs
from support.registry.fixtures import CANARIES, basic_registry_fixture  # noqa: F401

pytestmark = pytest.mark.integration
VALUES_CANARY = "values-canary-5d1e77b2"


def _secret(name: str, data: dict[str, str], type_: str = "Opaque") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": type_,
        "metadata": {"name": name, "namespace": "default"},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }


def test_no_secret_reaches_logs_status_events_or_jobs(
    kube_api, kubeconfig, operators, jobs, basic_registry, repo_name
):
    password = CANARIES["reader_password"]
    basic_registry.pusher.push_chart(repo_name, "1.0.0")
    kube_api.create("secrets", _secret("creds", {"username": "reader", "password": password}))
    kube_api.create(
        "secrets", _secret("vals", {"values.yaml": f"db:\n  password: {VALUES_CANARY}\n"})
    )
    # the Job's log echoes the values secret: captured logs must be redacted
    jobs["echo"] = f"connecting with password {VALUES_CANARY}\n"
    kube_api.create(
        "werfbundles",
        bundle(
            "app",
            f"{basic_registry.host}/{repo_name}",
            registry={"secretRef": {"name": "creds"}},
            converge={"valuesFrom": [{"secretRef": {"name": "vals"}}]},
        ),
    )
    operator = operators(kubeconfig, "--log-level", "DEBUG").wait_ready()
    wait_for(lambda: status_of(kube_api, "app").get("phase") == "Synced", what="Synced")
    assert "password <redacted>" in status_of(kube_api, "app")["lastJobLogs"]
    # a wrong password later: the failure message must not quote it either
    kube_api.mutate(
        "secrets",
        "default",
        "creds",
        lambda o: o["data"].update(
            {"password": base64.b64encode(CANARIES["wrong_password"].encode()).decode()}
        ),
    )
    kube_api.mutate(
        "werfbundles",
        "default",
        "app",
        lambda o: o["metadata"].setdefault("annotations", {}).update({"werf.io/reconcile-at": "1"}),
    )
    wait_for(lambda: status_of(kube_api, "app").get("consecutiveFailures", 0) >= 1, what="a 401")

    canaries = [
        password,
        CANARIES["wrong_password"],
        VALUES_CANARY,
        base64.b64encode(f"reader:{password}".encode()).decode(),
    ]
    [job] = werf_jobs(kube_api)
    inputs = kube_api.get("secrets", "default", f"{job['metadata']['name']}-inputs")
    decoded = " ".join(base64.b64decode(v).decode() for v in inputs["data"].values())
    auth = base64.b64encode(f"reader:{password}".encode()).decode()
    assert auth in decoded and VALUES_CANARY in decoded  # the one place they belong
    places = {
        "operator log": operator.log.read_text(),
        "status": json.dumps(status_of(kube_api, "app")),
        "events": json.dumps(kube_api.list("events", "default")),
        "jobs": json.dumps(werf_jobs(kube_api)),
        "configmaps": json.dumps(kube_api.list("configmaps", "default")),
        "metrics": operator.scrape(),
    }
    leaks = [(place, c) for place, text in places.items() for c in canaries if c in text]
    assert [] == leaks
