"""Fixtures for the operator tier: ``werfop run`` as a subprocess against the Kubernetes
API test server (tests/kubeapi) and the real distribution registry (tests/support)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kubeapi.fixtures import kube_api, kube_api_factory
from kubeapi.jobcontroller import JobController
from support.operator import Operator, operator_pool
from support.registry.fixtures import plain_registry_fixture, repo_name_fixture

__all__ = ["kube_api", "kube_api_factory", "plain_registry_fixture", "repo_name_fixture"]


@pytest.fixture
def operators(tmp_path: Path) -> Iterator[Callable[..., Operator]]:
    """Start operators; every one is stopped (SIGTERM, then SIGKILL) at teardown."""
    with operator_pool(tmp_path) as start:
        yield start


@pytest.fixture
def kubeconfig(kube_api, tmp_path: Path) -> Path:
    return kube_api.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def jobs(kube_api) -> Iterator[dict[str, Any]]:
    """The Job controller stand-in; set ``jobs["outcome"]`` to "succeeded", "failed" or
    "running" (default succeeded); each werf Job gets a log naming its tag."""
    state: dict[str, Any] = {"outcome": "succeeded", "seen": []}

    def decide(job: dict[str, Any]) -> tuple[str, str]:
        state["seen"].append(job["metadata"]["name"])
        tag = job["metadata"]["annotations"].get("werf.io/tag")
        return state[
            "outcome"
        ], f"werf bundle apply --tag {tag}\n{state.get('echo', '')}release deployed\n"

    controller = JobController(kube_api, decide, poll_interval=0.2)
    controller.start()
    yield state
    controller.stop()
