"""PATCH flavours: merge patch, strategic merge patch and JSON patch, with preconditions."""

from __future__ import annotations

import pytest
from kubernetes.client import ApiException

from apiserver.support import GROUP, NAMESPACE, PLURAL, VERSION, create_bundle
from apiserver.support import status_of as status

pytestmark = pytest.mark.timeout(30)
JSON_PATCH = "application/json-patch+json"


def pod(name: str, *containers: str, finalizers: list[str] | None = None) -> dict:
    return {
        "metadata": {"name": name, "finalizers": finalizers or []},
        "spec": {"containers": [{"name": c, "image": f"{c}:1"} for c in containers]},
    }


def test_merge_patch_merges_maps_and_null_deletes_a_key(custom):
    create_bundle(custom, "b", {"chart": "app", "values": {"a": 1, "b": 2}})

    patched = custom.patch_namespaced_custom_object(
        GROUP, VERSION, NAMESPACE, PLURAL, "b", {"spec": {"values": {"a": None, "c": 3}}}
    )

    assert {"chart": "app", "values": {"b": 2, "c": 3}} == patched["spec"]


def test_strategic_merge_patch_merges_containers_by_name(core):
    core.create_namespaced_pod(NAMESPACE, pod("p", "app", "sidecar"))

    patched = core.patch_namespaced_pod(
        "p", NAMESPACE, {"spec": {"containers": [{"name": "sidecar", "image": "sidecar:2"}]}}
    )

    assert [("app", "app:1"), ("sidecar", "sidecar:2")] == [
        (c.name, c.image) for c in patched.spec.containers
    ]


def test_strategic_merge_patch_adds_finalizers_to_the_existing_ones(core):
    core.create_namespaced_config_map(
        NAMESPACE, {"metadata": {"name": "cm", "finalizers": ["a/one"]}}
    )

    patched = core.patch_namespaced_config_map(
        "cm", NAMESPACE, {"metadata": {"finalizers": ["b/two"]}}
    )

    assert ["a/one", "b/two"] == patched.metadata.finalizers


def test_strategic_merge_patch_delete_from_primitive_list_removes_a_finalizer(core):
    core.create_namespaced_config_map(
        NAMESPACE, {"metadata": {"name": "cm", "finalizers": ["a/one", "b/two"]}}
    )

    patched = core.patch_namespaced_config_map(
        "cm", NAMESPACE, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a/one"]}}
    )

    assert ["b/two"] == patched.metadata.finalizers


def test_strategic_merge_patch_on_a_custom_resource_fails_with_415(custom):
    create_bundle(custom, "b")

    with pytest.raises(ApiException) as caught:
        custom.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            NAMESPACE,
            PLURAL,
            "b",
            {"spec": {"chart": "x"}},
            _content_type="application/strategic-merge-patch+json",
        )

    assert (415, "UnsupportedMediaType") == (caught.value.status, status(caught.value)["reason"])


def test_json_patch_applies_add_replace_and_remove(custom):
    create_bundle(custom, "b", {"chart": "app", "old": True}, labels={"tier": "one"})

    patched = custom.patch_namespaced_custom_object(
        GROUP,
        VERSION,
        NAMESPACE,
        PLURAL,
        "b",
        [
            {"op": "add", "path": "/spec/values", "value": {"replicas": 2}},
            {"op": "replace", "path": "/metadata/labels/tier", "value": "two"},
            {"op": "remove", "path": "/spec/old"},
        ],
        _content_type=JSON_PATCH,
    )

    assert {"chart": "app", "values": {"replicas": 2}} == patched["spec"]
    assert {"tier": "two"} == patched["metadata"]["labels"]


def test_typed_client_sends_lists_as_json_patch(core):
    core.create_namespaced_config_map(NAMESPACE, {"metadata": {"name": "cm"}, "data": {"a": "1"}})

    patched = core.patch_namespaced_config_map(
        "cm", NAMESPACE, [{"op": "add", "path": "/data/b", "value": "2"}]
    )

    assert {"a": "1", "b": "2"} == patched.data


def test_json_patch_failing_test_op_fails_with_422_and_changes_nothing(custom):
    created = create_bundle(custom, "b", {"chart": "app"})

    with pytest.raises(ApiException) as caught:
        custom.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            NAMESPACE,
            PLURAL,
            "b",
            [
                {"op": "replace", "path": "/spec/chart", "value": "changed"},
                {"op": "test", "path": "/spec/chart", "value": "app"},
            ],
            _content_type=JSON_PATCH,
        )

    current = custom.get_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, "b")
    assert 422 == caught.value.status
    assert created == current


def test_json_patch_test_op_on_resource_version_gives_optimistic_locking(custom):
    created = create_bundle(custom, "b")
    custom.patch_namespaced_custom_object(
        GROUP, VERSION, NAMESPACE, PLURAL, "b", {"spec": {"chart": "newer"}}
    )

    with pytest.raises(ApiException) as caught:
        custom.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            NAMESPACE,
            PLURAL,
            "b",
            [
                {
                    "op": "test",
                    "path": "/metadata/resourceVersion",
                    "value": created["metadata"]["resourceVersion"],
                },
                {"op": "replace", "path": "/spec/chart", "value": "stale"},
            ],
            _content_type=JSON_PATCH,
        )

    assert 422 == caught.value.status


def test_patching_a_missing_object_fails_with_404(custom):
    with pytest.raises(ApiException) as caught:
        custom.patch_namespaced_custom_object(
            GROUP, VERSION, NAMESPACE, PLURAL, "ghost", {"spec": {}}
        )

    assert 404 == caught.value.status
