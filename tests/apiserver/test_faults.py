"""Fault injection: failing the next requests, stalling watches, and restarting the server."""

from __future__ import annotations

import queue

import kubernetes
import pytest
import urllib3
from kubernetes.client import ApiException

from apiserver.support import (
    GROUP,
    NAMESPACE,
    PLURAL,
    VERSION,
    EventCollector,
    create_bundle,
)
from apiserver.support import status_of as status

pytestmark = pytest.mark.timeout(30)


def patch_bundle(custom, body: dict) -> dict:
    return custom.patch_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, "b", body)


def test_next_n_matching_requests_fail_with_409_conflict_then_succeed(custom, kube_api):
    create_bundle(custom, "b")
    kube_api.faults.fail_next(2, status=409, verb="patch", resource="werfbundles")

    outcomes = []
    for attempt in range(3):
        try:
            patch_bundle(custom, {"spec": {"attempt": attempt}})
            outcomes.append("ok")
        except ApiException as exc:
            outcomes.append(f"{exc.status} {status(exc)['reason']}")

    assert ["409 Conflict", "409 Conflict", "ok"] == outcomes
    assert (
        2
        == custom.get_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, "b")["spec"][
            "attempt"
        ]
    )


def test_injected_500_is_an_internal_error_status_and_changes_nothing(core, kube_api):
    kube_api.faults.fail_next(status=500, verb="create", resource="configmaps")

    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map(NAMESPACE, {"metadata": {"name": "cm"}})

    assert (500, "InternalError") == (caught.value.status, status(caught.value)["reason"])
    assert kube_api.get("configmaps", NAMESPACE, "cm") is None


def test_failures_match_only_the_given_verb_and_resource(custom, kube_api):
    create_bundle(custom, "b")
    kube_api.faults.fail_next(status=503, verb="patch", resource="werfbundles/status")

    main = patch_bundle(custom, {"spec": {"chart": "x"}})
    with pytest.raises(ApiException) as caught:
        custom.patch_namespaced_custom_object_status(
            GROUP, VERSION, NAMESPACE, PLURAL, "b", {"status": {"phase": "Ready"}}
        )

    assert "x" == main["spec"]["chart"]
    assert (503, "ServiceUnavailable") == (caught.value.status, status(caught.value)["reason"])


def test_injected_failures_are_marked_in_the_request_log(core, kube_api):
    kube_api.faults.fail_next(status=500, verb="list", resource="configmaps")

    with pytest.raises(ApiException):
        core.list_namespaced_config_map(NAMESPACE)
    core.list_namespaced_config_map(NAMESPACE)

    records = kube_api.requests.filter(verb="list", resource="configmaps")
    assert [(500, True), (200, False)] == [(r.status, r.injected) for r in records]


def test_a_stalled_watch_stays_open_silently_until_resumed(core, kube_api):
    kube_api.faults.stall_watches("configmaps")
    with EventCollector(
        core.list_namespaced_config_map,
        NAMESPACE,
        resource_version=str(kube_api.store.resource_version),
    ) as watch:
        core.create_namespaced_config_map(NAMESPACE, {"metadata": {"name": "cm"}})

        with pytest.raises(queue.Empty):
            watch.next(timeout=0.3)  # nothing arrives while stalled
        kube_api.faults.resume_watches()
        event = watch.next(timeout=5)

    assert ("ADDED", "cm") == (event["type"], event["object"].metadata.name)


def test_restart_drops_open_watches(core, kube_api):
    with EventCollector(
        core.list_namespaced_config_map,
        NAMESPACE,
        timeout_seconds=20,
        resource_version=str(kube_api.store.resource_version),
    ) as watch:
        core.create_namespaced_config_map(NAMESPACE, {"metadata": {"name": "cm"}})
        watch.next(timeout=5)  # the watch is connected

        kube_api.restart()
        watch.join(timeout=10)

        assert not watch.running


def test_connections_are_refused_while_down_and_data_survives_the_restart(core, kube_api):
    core.create_namespaced_config_map(NAMESPACE, {"metadata": {"name": "kept"}})

    kube_api.go_down()
    with pytest.raises(urllib3.exceptions.HTTPError):
        core.read_namespaced_config_map("kept", NAMESPACE)
    kube_api.come_up()

    assert "kept" == core.read_namespaced_config_map("kept", NAMESPACE).metadata.name
    assert kube_api.is_up


def test_resource_versions_continue_after_a_restart(core, kube_api):
    before = core.create_namespaced_config_map(NAMESPACE, {"metadata": {"name": "a"}})

    kube_api.restart()
    after = core.create_namespaced_config_map(NAMESPACE, {"metadata": {"name": "b"}})

    assert int(after.metadata.resource_version) > int(before.metadata.resource_version)


def test_unreachable_server_fails_fast_for_a_new_client(kube_api, tmp_path):
    kubeconfig = kube_api.write_kubeconfig(tmp_path / "kubeconfig")
    kube_api.go_down()
    client = kubernetes.config.new_client_from_config(config_file=str(kubeconfig))
    try:
        with pytest.raises(urllib3.exceptions.HTTPError):
            kubernetes.client.CoreV1Api(client).list_namespace()
    finally:
        client.close()
        kube_api.come_up()
