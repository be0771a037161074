"""Watch streams: initial state, resume from a resourceVersion, 410 Expired, timeouts, filters."""

from __future__ import annotations

import itertools
import json
import time

import httpx
import kubernetes
import pytest
from kubernetes.client import ApiException

from apiserver.support import GROUP, NAMESPACE, PLURAL, VERSION, create_bundle

pytestmark = pytest.mark.timeout(30)


def take(stream, count: int) -> list[tuple[str, str]]:
    """The first ``count`` events as (type, name); closes the stream afterwards."""
    try:
        return [
            (e["type"], e["raw_object"]["metadata"].get("name", ""))
            for e in itertools.islice(stream, count)
        ]
    finally:
        stream.close()


def cm(name: str, **labels: str) -> dict:
    return {"metadata": {"name": name, "labels": labels}}


def test_watch_without_resource_version_starts_with_the_existing_objects(core):
    core.create_namespaced_config_map(NAMESPACE, cm("a"))
    core.create_namespaced_config_map(NAMESPACE, cm("b"))

    stream = kubernetes.watch.Watch().stream(core.list_namespaced_config_map, NAMESPACE)

    assert [("ADDED", "a"), ("ADDED", "b")] == take(stream, 2)


def test_watch_from_a_resource_version_replays_the_later_events(core):
    created = core.create_namespaced_config_map(NAMESPACE, cm("a"))
    core.patch_namespaced_config_map("a", NAMESPACE, {"data": {"k": "v"}})
    core.create_namespaced_config_map(NAMESPACE, cm("b"))
    core.delete_namespaced_config_map("a", NAMESPACE)

    stream = kubernetes.watch.Watch().stream(
        core.list_namespaced_config_map,
        NAMESPACE,
        resource_version=created.metadata.resource_version,
    )

    assert [("MODIFIED", "a"), ("ADDED", "b"), ("DELETED", "a")] == take(stream, 3)


def test_deleted_event_carries_the_final_state_with_a_new_resource_version(core):
    created = core.create_namespaced_config_map(NAMESPACE, cm("a"))
    core.delete_namespaced_config_map("a", NAMESPACE)

    stream = kubernetes.watch.Watch().stream(
        core.list_namespaced_config_map,
        NAMESPACE,
        resource_version=created.metadata.resource_version,
    )
    event = next(stream)
    stream.close()

    assert "DELETED" == event["type"]
    assert int(event["object"].metadata.resource_version) > int(created.metadata.resource_version)


def test_watch_with_an_expired_resource_version_fails_with_410(kube_api_factory, tmp_path):
    api = kube_api_factory(history_size=2)
    client = kubernetes.config.new_client_from_config(
        config_file=str(api.write_kubeconfig(tmp_path / "kubeconfig"))
    )
    core = kubernetes.client.CoreV1Api(client)
    first = core.create_namespaced_config_map(NAMESPACE, cm("a"))
    for name in ("b", "c", "d"):
        core.create_namespaced_config_map(NAMESPACE, cm(name))

    with pytest.raises(ApiException) as caught:
        list(
            kubernetes.watch.Watch().stream(
                core.list_namespaced_config_map,
                NAMESPACE,
                resource_version=first.metadata.resource_version,
                timeout_seconds=5,
            )
        )
    client.close()

    assert 410 == caught.value.status
    assert caught.value.reason.startswith("Expired: too old resource version: ")


def test_expired_watch_sends_one_error_event_with_a_410_status_and_ends(kube_api_factory, tmp_path):
    api = kube_api_factory(history_size=1)
    client = kubernetes.config.new_client_from_config(
        config_file=str(api.write_kubeconfig(tmp_path / "kubeconfig"))
    )
    core = kubernetes.client.CoreV1Api(client)
    first = core.create_namespaced_config_map(NAMESPACE, cm("a"))
    core.create_namespaced_config_map(NAMESPACE, cm("b"))
    core.create_namespaced_config_map(NAMESPACE, cm("c"))

    response = core.list_namespaced_config_map(
        NAMESPACE,
        watch=True,
        _preload_content=False,
        resource_version=first.metadata.resource_version,
    )
    lines = response.data.decode().splitlines()
    response.release_conn()
    client.close()

    assert 1 == len(lines)
    event = json.loads(lines[0])
    assert "ERROR" == event["type"]
    assert {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "reason": "Expired",
        "code": 410,
    } == {k: v for k, v in event["object"].items() if k != "message"}


def test_watch_ends_after_timeout_seconds(core):
    started = time.monotonic()
    events = list(
        kubernetes.watch.Watch().stream(
            core.list_namespaced_config_map, NAMESPACE, timeout_seconds=1
        )
    )
    elapsed = time.monotonic() - started

    assert [] == events
    assert 1.0 <= elapsed < 5.0


def test_label_filtered_watch_sees_objects_entering_and_leaving_the_selection(core, kube_api):
    core.create_namespaced_config_map(NAMESPACE, cm("a", app="web"))
    stream = kubernetes.watch.Watch().stream(
        core.list_namespaced_config_map, NAMESPACE, label_selector="app=web"
    )
    first = next(stream)
    core.patch_namespaced_config_map("a", NAMESPACE, {"metadata": {"labels": {"app": "api"}}})
    core.create_namespaced_config_map(NAMESPACE, cm("ignored", app="db"))
    core.patch_namespaced_config_map("a", NAMESPACE, {"metadata": {"labels": {"app": "web"}}})

    assert ("ADDED", "a") == (first["type"], first["object"].metadata.name)
    assert [("DELETED", "a"), ("ADDED", "a")] == take(stream, 2)


def test_field_selector_watch_follows_one_object(custom):
    create_bundle(custom, "mine")
    create_bundle(custom, "other")

    stream = kubernetes.watch.Watch().stream(
        custom.list_namespaced_custom_object,
        GROUP,
        VERSION,
        NAMESPACE,
        PLURAL,
        field_selector="metadata.name=mine",
    )
    first = next(stream)
    custom.patch_namespaced_custom_object(
        GROUP, VERSION, NAMESPACE, PLURAL, "other", {"spec": {"chart": "x"}}
    )
    custom.patch_namespaced_custom_object(
        GROUP, VERSION, NAMESPACE, PLURAL, "mine", {"spec": {"chart": "y"}}
    )

    assert ("ADDED", "mine") == (first["type"], first["object"]["metadata"]["name"])
    assert [("MODIFIED", "mine")] == take(stream, 1)


def test_all_namespaces_watch_sees_every_namespace(core):
    core.create_namespace({"metadata": {"name": "other"}})
    core.create_namespaced_config_map("other", cm("there"))
    core.create_namespaced_config_map(NAMESPACE, cm("here"))

    stream = kubernetes.watch.Watch().stream(core.list_config_map_for_all_namespaces)

    assert sorted([("ADDED", "here"), ("ADDED", "there")]) == sorted(take(stream, 2))


def test_watch_sends_bookmarks_when_allowed(kube_api_factory, tmp_path):
    api = kube_api_factory(bookmark_interval=0.05)
    client = kubernetes.config.new_client_from_config(
        config_file=str(api.write_kubeconfig(tmp_path / "kubeconfig"))
    )
    core = kubernetes.client.CoreV1Api(client)

    response = core.list_namespaced_config_map(
        NAMESPACE,
        watch=True,
        _preload_content=False,
        allow_watch_bookmarks=True,
        resource_version=str(api.store.resource_version),
    )
    line = response.readline()
    response.release_conn()
    client.close()

    assert {
        "type": "BOOKMARK",
        "object": {
            "kind": "ConfigMap",
            "apiVersion": "v1",
            "metadata": {"resourceVersion": str(api.store.resource_version)},
        },
    } == json.loads(line)


def test_watch_sees_writes_made_directly_in_the_store(core, kube_api):
    stream = kubernetes.watch.Watch().stream(
        core.list_namespaced_config_map,
        NAMESPACE,
        resource_version=str(kube_api.store.resource_version),
    )

    kube_api.put("configmaps", {"metadata": {"name": "direct", "namespace": NAMESPACE}})

    assert [("ADDED", "direct")] == take(stream, 1)


def test_watch_events_are_newline_delimited_json_with_type_and_object(core):
    core.create_namespaced_config_map(NAMESPACE, cm("a"))

    response = core.list_namespaced_config_map(NAMESPACE, watch=True, _preload_content=False)
    line = response.readline()
    response.release_conn()

    event = json.loads(line)
    assert line.endswith(b"\n")
    assert ("ADDED", "ConfigMap", "v1") == (
        event["type"],
        event["object"]["kind"],
        event["object"]["apiVersion"],
    )


def test_watch_query_parameter_may_be_1(kube_api):
    kube_api.create("configmaps", {"metadata": {"name": "a", "namespace": NAMESPACE}})

    with httpx.stream(
        "GET",
        f"{kube_api.url}/api/v1/namespaces/{NAMESPACE}/configmaps",
        params={"watch": "1"},
        timeout=5,
    ) as response:
        first = json.loads(next(response.iter_lines()))

    assert ("ADDED", "a") == (first["type"], first["object"]["metadata"]["name"])
