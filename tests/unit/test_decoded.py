"""The one decoding cache (``runtime.decoded``): a bundle or Job is decoded again exactly
when the API server says it may have changed (its uid or resourceVersion moved), a
spec is validated again exactly when its generation moved, and an object without those
fields is read afresh every time. What a pass sees is always what the object says."""

from __future__ import annotations

import copy
from typing import Any

from support.statuses import sample_status
from werfop.api.codec import encode_status
from werfop.core import names
from werfop.runtime.decoded import Decoded

KEY = "default/shop"


def bundle(
    version: str | None = "5",
    *,
    uid: str | None = "uid-1",
    generation: int | None = 1,
    poll: str = "5m",
    status: dict[str, Any] | None = None,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"namespace": "default", "name": "shop"}
    for key, value in (("uid", uid), ("resourceVersion", version), ("generation", generation)):
        if value is not None:
            metadata[key] = value
    return {
        "apiVersion": "werf.io/v1alpha1",
        "kind": "WerfBundle",
        "metadata": metadata,
        "spec": {"registry": {"url": "oci://registry.example/shop", "pollInterval": poll}},
        "status": status if status is not None else {},
    }


def poll_seconds(decoded: Decoded, raw: dict[str, Any]) -> float:
    found, problems = decoded.bundle(KEY, raw)
    assert found is not None and found.spec is not None, problems
    return found.spec.registry.poll_interval.total_seconds()


def test_the_same_uid_and_resource_version_give_the_same_bundle() -> None:
    decoded = Decoded()
    first, _ = decoded.bundle(KEY, bundle("5"))
    second, _ = decoded.bundle(KEY, bundle("5"))
    assert first is not None and first is second


def test_a_status_written_since_is_read() -> None:
    decoded = Decoded()
    decoded.bundle(KEY, bundle("5"))
    written = sample_status(polls=3)
    found, _ = decoded.bundle(KEY, bundle("6", status=encode_status(written)))
    assert found is not None and written == found.status


def test_a_status_write_does_not_validate_the_spec_again_but_a_new_generation_does() -> None:
    decoded = Decoded()
    first, _ = decoded.bundle(KEY, bundle("5"))
    after_status, _ = decoded.bundle(KEY, bundle("6", status={"phase": "Synced"}))
    assert first is not None and after_status is not None
    assert first.spec is after_status.spec
    assert 420 == poll_seconds(decoded, bundle("7", generation=2, poll="7m"))


def test_another_object_of_the_same_name_is_decoded() -> None:
    decoded = Decoded()
    decoded.bundle(KEY, bundle("5"))
    assert 540 == poll_seconds(decoded, bundle("5", uid="uid-2", poll="9m"))


def test_objects_without_identity_are_read_afresh_every_time() -> None:
    decoded = Decoded()
    for missing in ({"uid": None}, {"version": None}, {"generation": None}):
        raw = bundle(**missing)  # type: ignore[arg-type]
        assert 300 == poll_seconds(decoded, raw)
        if missing.get("generation", 0) is None:
            raw["metadata"]["resourceVersion"] = "6"  # spec read again without generation
        raw["spec"]["registry"]["pollInterval"] = "8m"  # changed in place
        assert 480 == poll_seconds(decoded, raw)


def test_a_bad_spec_keeps_its_problems_on_every_read() -> None:
    decoded = Decoded()
    raw = bundle(poll="1s")
    first = decoded.bundle(KEY, raw)
    again = decoded.bundle(KEY, copy.deepcopy(raw) | {"status": {"phase": "Failed"}})
    for found, problems in (first, again):
        assert found is not None and found.spec is None
        assert ["spec.registry.pollInterval"] == [p.path for p in problems]


def test_an_object_that_is_not_a_bundle_is_never_kept() -> None:
    decoded = Decoded()
    wrong = bundle() | {"apiVersion": "v1"}
    assert (None, "apiVersion") == (
        decoded.bundle(KEY, wrong)[0],
        decoded.bundle(KEY, wrong)[1][0].path,
    )
    assert 300 == poll_seconds(decoded, bundle())


def test_a_forgotten_bundle_is_decoded_again() -> None:
    decoded = Decoded()
    first, _ = decoded.bundle(KEY, bundle())
    decoded.forget(KEY)
    second, _ = decoded.bundle(KEY, bundle())
    assert first == second and first is not second


# --- Jobs --------------------------------------------------------------------------------


def job(name: str, version: str | None, *, succeeded: bool = False) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": "default",
        "creationTimestamp": "2026-01-01T00:00:00Z",
        "annotations": {names.ANNOTATION_TAG: "1.0.0", names.ANNOTATION_ATTEMPT: "1"},
    }
    if version is not None:
        metadata |= {"uid": f"uid-{name}", "resourceVersion": version}
    status = {"succeeded": 1, "completionTime": "2026-01-01T00:01:00Z"} if succeeded else {}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "status": status}


def test_jobs_listed_again_unchanged_are_the_same_listing() -> None:
    decoded = Decoded()
    first = decoded.jobs(KEY, [job("b", "5"), job("a", "4")])
    second = decoded.jobs(KEY, [job("b", "5"), job("a", "4")])
    assert ["a", "b"] == [j.name for j in first.jobs]
    assert first is second


def test_only_the_job_whose_version_moved_is_decoded_again() -> None:
    decoded = Decoded()
    first = decoded.jobs(KEY, [job("a", "4"), job("b", "5")])
    second = decoded.jobs(KEY, [job("a", "7", succeeded=True), job("b", "5"), job("c", "9")])
    assert ["Succeeded", "Active", "Active"] == [j.state for j in second.jobs]
    assert first.jobs[1] is second.jobs[1]  # b


def test_jobs_without_identity_are_read_afresh_every_time() -> None:
    decoded = Decoded()
    assert ["Active"] == [j.state for j in decoded.jobs(KEY, [job("a", None)]).jobs]
    finished = decoded.jobs(KEY, [job("a", None, succeeded=True)])
    assert ["Succeeded"] == [j.state for j in finished.jobs]


def test_jobs_that_are_not_werfops_are_left_out() -> None:
    foreign = job("x", "3")
    del foreign["metadata"]["annotations"]
    assert () == Decoded().jobs(KEY, [foreign]).jobs
