"""Starting and stopping the server: free ports, context managers, no leftover threads."""

from __future__ import annotations

import threading

import httpx
import pytest

from kubeapi import KubeApiServer, running_kube_api

pytestmark = pytest.mark.timeout(30)


def server_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("kubeapi-")]


def test_context_manager_serves_on_a_free_localhost_port_and_leaves_no_threads():
    with running_kube_api() as api:
        response = httpx.get(f"{api.url}/version")
        running = server_threads()

    assert 200 == response.status_code
    assert api.url.startswith("http://127.0.0.1:")
    assert ["kubeapi-server"] == running
    assert [] == server_threads()


def test_two_servers_run_side_by_side_with_separate_data():
    with KubeApiServer() as first, KubeApiServer() as second:
        first.create("configmaps", {"metadata": {"name": "only-here", "namespace": "default"}})

        assert first.port != second.port
        assert second.get("configmaps", "default", "only-here") is None


def test_stop_is_idempotent():
    api = KubeApiServer()
    api.start()

    api.stop()
    api.stop()

    assert [] == server_threads()


def test_restart_comes_back_on_the_same_port(kube_api):
    port = kube_api.port

    kube_api.restart()

    assert port == kube_api.port
    assert 200 == httpx.get(f"{kube_api.url}/api").status_code
