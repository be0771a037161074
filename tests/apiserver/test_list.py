"""Lists: envelope fields, label and field selectors, namespaces and pagination."""

from __future__ import annotations

import pytest
from kubernetes.client import ApiException

from apiserver.support import GROUP, NAMESPACE, PLURAL, VERSION, create_bundle
from apiserver.support import status_of as status

pytestmark = pytest.mark.timeout(30)
LABELS = {
    "web": {"app": "web", "tier": "front"},
    "api": {"app": "api", "tier": "back"},
    "db": {"app": "db"},
}


@pytest.fixture
def labelled(custom):
    for name, labels in LABELS.items():
        create_bundle(custom, name, labels=labels)


def names(listing: dict) -> list[str]:
    return [item["metadata"]["name"] for item in listing["items"]]


def test_list_has_kind_api_version_and_resource_version(custom, kube_api):
    create_bundle(custom, "b")

    listing = custom.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL)

    assert ("WerfBundleList", "werf.io/v1alpha1") == (listing["kind"], listing["apiVersion"])
    assert str(kube_api.store.resource_version) == listing["metadata"]["resourceVersion"]
    assert ["b"] == names(listing)


def test_list_of_a_builtin_type_carries_no_kind_in_its_items(core):
    core.create_namespaced_config_map(NAMESPACE, {"metadata": {"name": "cm"}})

    item = core.list_namespaced_config_map(NAMESPACE).items[0]

    assert (None, None) == (item.kind, item.api_version)


@pytest.mark.usefixtures("labelled")
def test_malformed_label_selector_fails_with_400(custom):
    with pytest.raises(ApiException) as caught:
        custom.list_namespaced_custom_object(
            GROUP, VERSION, NAMESPACE, PLURAL, label_selector="app in web"
        )

    assert (400, "BadRequest") == (caught.value.status, status(caught.value)["reason"])


@pytest.mark.usefixtures("labelled")
def test_field_selector_on_metadata_name(custom):
    listing = custom.list_namespaced_custom_object(
        GROUP, VERSION, NAMESPACE, PLURAL, field_selector="metadata.name=api"
    )

    assert ["api"] == names(listing)


def test_field_selector_on_metadata_namespace_across_namespaces(core):
    core.create_namespace({"metadata": {"name": "other"}})
    core.create_namespaced_config_map(NAMESPACE, {"metadata": {"name": "here"}})
    core.create_namespaced_config_map("other", {"metadata": {"name": "there"}})

    listing = core.list_config_map_for_all_namespaces(field_selector="metadata.namespace=other")

    assert ["there"] == [cm.metadata.name for cm in listing.items]


def test_field_selector_inequality(core):
    core.create_namespaced_config_map(NAMESPACE, {"metadata": {"name": "a"}})
    core.create_namespaced_config_map(NAMESPACE, {"metadata": {"name": "b"}})

    listing = core.list_namespaced_config_map(NAMESPACE, field_selector="metadata.name!=a")

    assert ["b"] == [cm.metadata.name for cm in listing.items]


def test_unsupported_field_selector_fails_with_400(core):
    with pytest.raises(ApiException) as caught:
        core.list_namespaced_config_map(NAMESPACE, field_selector="data.key=value")

    assert 400 == caught.value.status
    assert "field label not supported: data.key" == status(caught.value)["message"]


def test_pod_field_selector_on_status_phase(core, kube_api):
    core.create_namespaced_pod(
        NAMESPACE,
        {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]}},
    )

    pending = core.list_namespaced_pod(NAMESPACE, field_selector="status.phase=Pending")
    running = core.list_namespaced_pod(NAMESPACE, field_selector="status.phase=Running")

    assert (["p"], []) == ([p.metadata.name for p in pending.items], running.items)


def test_all_namespaces_list_returns_every_namespace_sorted(custom, core):
    core.create_namespace({"metadata": {"name": "aaa"}})
    custom.create_namespaced_custom_object(
        GROUP, VERSION, "aaa", PLURAL, {"metadata": {"name": "z"}, "spec": {}}
    )
    create_bundle(custom, "a")

    listing = custom.list_cluster_custom_object(GROUP, VERSION, PLURAL)

    assert [("aaa", "z"), (NAMESPACE, "a")] == [
        (i["metadata"]["namespace"], i["metadata"]["name"]) for i in listing["items"]
    ]


def test_namespaced_list_returns_only_that_namespace(core):
    core.create_namespace({"metadata": {"name": "other"}})
    core.create_namespaced_config_map("other", {"metadata": {"name": "there"}})

    assert [] == core.list_namespaced_config_map(NAMESPACE).items


def test_limit_and_continue_page_through_the_list(core):
    for name in ("a", "b", "c"):
        core.create_namespaced_config_map(NAMESPACE, {"metadata": {"name": name}})

    first = core.list_namespaced_config_map(NAMESPACE, limit=2)
    second = core.list_namespaced_config_map(NAMESPACE, limit=2, _continue=first.metadata._continue)

    assert (["a", "b"], 1) == (
        [c.metadata.name for c in first.items],
        first.metadata.remaining_item_count,
    )
    assert (["c"], None) == ([c.metadata.name for c in second.items], second.metadata._continue)
