"""A quiet poll costs the API server no write: the operator's runtime (built by
``runtime.bootstrap`` over ``KubernetesApi``) against the Kubernetes API test server, an hour of 5-minute
polls in virtual time, every request counted from the server's own request log."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from kubernetes import config

from kubeapi.jobcontroller import JobController
from werfop.adapters.kubernetes import KubernetesApi
from werfop.adapters.memory import ManualClock
from werfop.adapters.scripted_registry import ScriptedRegistry
from werfop.core.timeline import Entry
from werfop.runtime import bootstrap

T0 = datetime(2026, 1, 1, tzinfo=UTC)
URL = "ghcr.io/acme/shop"
KEY = "default/shop"
WRITES = ("create", "update", "patch", "delete", "deletecollection")


class Runtime:
    def __init__(self, kube_api, kubeconfig) -> None:
        self.clock = ManualClock(T0)
        self.client = config.new_client_from_config(config_file=str(kubeconfig))
        self.registry = ScriptedRegistry(self.clock)
        self.registry.push(URL, "1.0.0")
        self.polls: list[datetime] = []
        self.controller = bootstrap.build(
            bootstrap.Options(),
            KubernetesApi(self.client),
            self.registry,
            self.clock,
            bootstrap.Listeners(on_timeline=self._timeline),
        ).controller
        self.jobs = JobController(kube_api, lambda job: ("succeeded", "release deployed\n"))

    def _timeline(self, key: str, moment: datetime, occurrences: tuple[Entry, ...]) -> None:
        self.polls += [moment for o in occurrences if o.type == "Polled"]

    def run(self, minutes: int) -> None:
        """Minute by minute: the Job controller's turn, then every pass due (a Job's end
        wakes its bundle, as the watch would)."""
        for _ in range(minutes):
            if self.jobs.reconcile():
                self.controller.enqueue(KEY)
            self.controller.run_due(self.clock.now())
            self.clock.advance(timedelta(minutes=1))


@pytest.fixture
def runtime(kube_api, kubeconfig) -> Iterator[Runtime]:
    made = Runtime(kube_api, kubeconfig)
    yield made
    made.client.close()


def _writes(kube_api) -> list[str]:
    return [f"{r.verb} {r.rbac_resource} {r.name}" for r in kube_api.requests if r.verb in WRITES]


def test_an_hour_of_quiet_polls_writes_nothing(kube_api, runtime):
    kube_api.create(
        "werfbundles",
        {
            "apiVersion": "werf.io/v1alpha1",
            "kind": "WerfBundle",
            "metadata": {"name": "shop", "namespace": "default"},
            "spec": {"registry": {"url": URL, "pollInterval": "5m"}},
        },
    )
    runtime.controller.enqueue(KEY)
    runtime.run(minutes=5)
    status = kube_api.get("werfbundles", "default", "shop")["status"]
    assert ("Synced", "1.0.0") == (status["phase"], status["lastAppliedTag"])
    assert "update werfbundles/status shop" in _writes(kube_api)  # the log sees writes

    kube_api.requests.clear()
    runtime.polls.clear()
    runtime.run(minutes=60)

    assert 11 <= len(runtime.polls) <= 13, runtime.polls  # every 5 minutes, jittered
    assert [] == _writes(kube_api)
    assert status == kube_api.get("werfbundles", "default", "shop")["status"]

    # A poll that finds something new writes again.
    runtime.registry.push(URL, "1.1.0")
    before = len(runtime.polls)
    runtime.run(minutes=15)  # at least two polls (every 5 minutes +-10%)
    assert "update werfbundles/status shop" in _writes(kube_api)
    status = kube_api.get("werfbundles", "default", "shop")["status"]
    assert "1.1.0" == status["lastAppliedTag"]
    # The status's poll time is the poll that found 1.1.0: later quiet ones are not written.
    assert runtime.polls[before] == datetime.fromisoformat(status["lastPollTime"])
    assert len(runtime.polls) > before + 1
