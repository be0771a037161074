"""``pods/log``: plain text, tailLines, container choice and the errors of the real server."""

from __future__ import annotations

import pytest
from kubernetes.client import ApiException

from apiserver.support import NAMESPACE
from apiserver.support import status_of as status

pytestmark = pytest.mark.timeout(30)
LOG = "line 1\nline 2\nline 3\n"


def pod(name: str, *containers: str, phase: str = "Running") -> dict:
    return {
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"containers": [{"name": c, "image": c} for c in containers]},
        "status": {"phase": phase},
    }


@pytest.fixture
def werf_pod(kube_api):
    kube_api.put("pods", pod("deploy-abc12", "werf"))
    kube_api.set_pod_log(NAMESPACE, "deploy-abc12", LOG)


@pytest.mark.usefixtures("werf_pod")
def test_pod_log_is_served_as_plain_text(core):
    response = core.read_namespaced_pod_log("deploy-abc12", NAMESPACE, _preload_content=False)

    assert "text/plain" in response.headers["Content-Type"]
    assert LOG == response.data.decode()


@pytest.mark.usefixtures("werf_pod")
def test_tail_lines_returns_the_last_lines(core):
    assert "line 2\nline 3\n" == core.read_namespaced_pod_log(
        "deploy-abc12", NAMESPACE, tail_lines=2
    )


@pytest.mark.usefixtures("werf_pod")
def test_tail_lines_larger_than_the_log_returns_it_all(core):
    assert LOG == core.read_namespaced_pod_log("deploy-abc12", NAMESPACE, tail_lines=50)


def test_container_parameter_selects_the_container(core, kube_api):
    kube_api.put("pods", pod("p", "werf", "sidecar"))
    kube_api.set_pod_log(NAMESPACE, "p", "werf says hi\n", container="werf")
    kube_api.set_pod_log(NAMESPACE, "p", "sidecar says hi\n", container="sidecar")

    assert "sidecar says hi\n" == core.read_namespaced_pod_log("p", NAMESPACE, container="sidecar")


def test_log_of_a_multi_container_pod_without_container_fails_with_400(core, kube_api):
    kube_api.put("pods", pod("p", "werf", "sidecar"))

    with pytest.raises(ApiException) as caught:
        core.read_namespaced_pod_log("p", NAMESPACE)

    assert 400 == caught.value.status
    assert (
        "a container name must be specified for pod p, choose one of: [werf sidecar]"
        == status(caught.value)["message"]
    )


@pytest.mark.usefixtures("werf_pod")
def test_log_of_an_unknown_container_fails_with_400(core):
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_pod_log("deploy-abc12", NAMESPACE, container="nope")

    assert "container nope is not valid for pod deploy-abc12" == status(caught.value)["message"]


def test_log_of_a_pending_pod_fails_with_400_waiting_to_start(core, kube_api):
    kube_api.put("pods", pod("p", "werf", phase="Pending"))

    with pytest.raises(ApiException) as caught:
        core.read_namespaced_pod_log("p", NAMESPACE)

    assert 400 == caught.value.status
    assert (
        'container "werf" in pod "p" is waiting to start: ContainerCreating'
        == status(caught.value)["message"]
    )


def test_log_of_a_missing_pod_fails_with_404(core):
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_pod_log("ghost", NAMESPACE)

    assert (404, 'pods "ghost" not found') == (caught.value.status, status(caught.value)["message"])
