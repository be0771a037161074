"""Pytest fixtures for the Kubernetes API test server; import them into a conftest.py.

    from kubeapi.fixtures import kube_api, kube_api_factory, kube_api_kubeconfig  # noqa: F401

``kube_api_factory(**options)`` starts servers with non-default options (e.g. a small
``history_size`` or a ``token``); ``kube_api`` is one server with defaults;
``kube_api_kubeconfig`` is a kubeconfig file for ``kube_api``. Every server is stopped at
teardown, and a test fails if the server itself hit an unexpected error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kubeapi.server import KubeApiServer

KubeApiFactory = Callable[..., KubeApiServer]


@pytest.fixture
def kube_api_factory() -> Iterator[KubeApiFactory]:
    """A function that starts a server with the given KubeApiServer options."""
    servers: list[KubeApiServer] = []

    def start(**options: Any) -> KubeApiServer:
        server = KubeApiServer(**options)
        server.start()
        servers.append(server)
        return server

    yield start
    failures: list[BaseException] = []
    for server in reversed(servers):
        failures.extend(server.server_errors)
        server.stop()
    if failures:
        pytest.fail(f"the Kubernetes API test server failed internally: {failures!r}")


@pytest.fixture
def kube_api(kube_api_factory: KubeApiFactory) -> KubeApiServer:
    """A running server with default options."""
    return kube_api_factory()


@pytest.fixture
def kube_api_kubeconfig(kube_api: KubeApiServer, tmp_path: Path) -> Path:
    """A kubeconfig file that points at ``kube_api``."""
    return kube_api.write_kubeconfig(tmp_path / "kubeconfig")
