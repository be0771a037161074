"""Status subresource isolation and generation bumps, as for CRDs with ``subresources.status``."""

from __future__ import annotations

import pytest

from apiserver.support import GROUP, NAMESPACE, PLURAL, VERSION, bundle, create_bundle, job

pytestmark = pytest.mark.timeout(30)


def patch_bundle(custom, name: str, body) -> dict:
    return custom.patch_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, name, body)


def patch_bundle_status(custom, name: str, body) -> dict:
    return custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, NAMESPACE, PLURAL, name, body
    )


def test_create_drops_the_status_of_a_custom_resource(custom):
    body = bundle("b")
    body["status"] = {"phase": "Ready"}

    created = custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, body)

    assert "status" not in created


def test_status_written_through_the_main_resource_is_ignored(custom):
    create_bundle(custom, "b")

    patched = patch_bundle(custom, "b", {"status": {"phase": "Ready"}, "spec": {"chart": "x"}})

    assert "status" not in patched
    assert "x" == patched["spec"]["chart"]


def test_spec_written_through_the_status_subresource_is_ignored(custom):
    create_bundle(custom, "b", {"chart": "app"})

    patched = patch_bundle_status(
        custom,
        "b",
        {
            "spec": {"chart": "hijacked"},
            "metadata": {"labels": {"x": "y"}},
            "status": {"phase": "Ready"},
        },
    )

    assert {"chart": "app"} == patched["spec"]
    assert {"phase": "Ready"} == patched["status"]
    assert "labels" not in patched["metadata"]


def test_generation_bumps_on_spec_changes_only(custom):
    create_bundle(custom, "b", {"chart": "app"})

    after_labels = patch_bundle(custom, "b", {"metadata": {"labels": {"team": "a"}}})
    after_spec = patch_bundle(custom, "b", {"spec": {"chart": "other"}})
    after_same_spec = patch_bundle(custom, "b", {"spec": {"chart": "other"}})

    assert [1, 2, 2] == [
        o["metadata"]["generation"] for o in (after_labels, after_spec, after_same_spec)
    ]


def test_status_survives_a_replace_of_the_main_resource(custom):
    create_bundle(custom, "b")
    with_status = patch_bundle_status(custom, "b", {"status": {"phase": "Ready"}})
    with_status["status"] = {"phase": "Overwritten?"}

    replaced = custom.replace_namespaced_custom_object(
        GROUP, VERSION, NAMESPACE, PLURAL, "b", with_status
    )

    assert {"phase": "Ready"} == replaced["status"]


def test_job_status_is_written_through_the_batch_status_subresource(batch):
    batch.create_namespaced_job(NAMESPACE, job("j"))

    via_main = batch.patch_namespaced_job("j", NAMESPACE, {"status": {"active": 1}})
    via_status = batch.patch_namespaced_job_status("j", NAMESPACE, {"status": {"active": 1}})

    assert (None, 1) == (via_main.status.active, via_status.status.active)
