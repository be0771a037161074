"""Fixtures for the tests of the test server: servers, kubeconfigs and official API clients."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import kubernetes
import pytest

from kubeapi.fixtures import kube_api, kube_api_factory, kube_api_kubeconfig

__all__ = ["kube_api", "kube_api_factory", "kube_api_kubeconfig"]  # fixtures for the tests here


@pytest.fixture(autouse=True)
def no_leftover_threads() -> Iterator[None]:
    """Every server, controller and watch thread that a test starts is gone after it."""
    yield
    leftovers = [t.name for t in threading.enumerate() if t.name.startswith("kubeapi-")]
    assert [] == leftovers


@pytest.fixture
def api_client(kube_api_kubeconfig: Path) -> Iterator[kubernetes.client.ApiClient]:
    """The official client, configured from the kubeconfig the test server wrote."""
    client = kubernetes.config.new_client_from_config(config_file=str(kube_api_kubeconfig))
    yield client
    client.close()


@pytest.fixture
def core(api_client: kubernetes.client.ApiClient) -> kubernetes.client.CoreV1Api:
    return kubernetes.client.CoreV1Api(api_client)


@pytest.fixture
def batch(api_client: kubernetes.client.ApiClient) -> kubernetes.client.BatchV1Api:
    return kubernetes.client.BatchV1Api(api_client)


@pytest.fixture
def custom(api_client: kubernetes.client.ApiClient) -> kubernetes.client.CustomObjectsApi:
    return kubernetes.client.CustomObjectsApi(api_client)


@pytest.fixture
def coordination(api_client: kubernetes.client.ApiClient) -> kubernetes.client.CoordinationV1Api:
    return kubernetes.client.CoordinationV1Api(api_client)
