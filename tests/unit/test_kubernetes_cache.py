"""The informer cache holds what passes read, and never managedFields."""

from werfop.adapters.kubernetes import JOB_FIELDS, Cache

LABELS = {"werf.io/bundle-uid": "u1"}


def _job() -> dict:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "namespace": "apps",
            "name": "shop-1",
            "resourceVersion": "7",
            "labels": LABELS,
            "managedFields": [{"manager": "kube-controller-manager", "fieldsV1": {"f:status": {}}}],
        },
        "spec": {"template": {"spec": {"containers": [{"name": "werf", "image": "werf"}]}}},
        "status": {"succeeded": 1},
    }


def test_the_job_cache_keeps_identity_and_outcome_only():
    cache = Cache(keep=JOB_FIELDS)
    cache.put(_job())
    expected = {k: v for k, v in _job().items() if k != "spec"}
    expected["metadata"] = {k: v for k, v in expected["metadata"].items() if k != "managedFields"}
    assert [expected] == cache.select("werf.io/bundle-uid=u1")


def test_a_full_cache_keeps_the_spec_but_not_managed_fields():
    cache = Cache()
    cache.put(_job())
    (found,) = cache.select("werf.io/bundle-uid=u1")
    assert _job()["spec"] == found["spec"]
    assert "managedFields" not in found["metadata"]
    assert "7" == cache.get("apps", "shop-1")["metadata"]["resourceVersion"]


def test_a_relist_is_held_as_slim_as_a_watch_event():
    cache = Cache(keep=JOB_FIELDS)
    present, removed = cache.replace([_job()])
    assert [] == removed
    assert ["apiVersion", "kind", "metadata", "status"] == sorted(present[0])
    assert "managedFields" not in cache.get("apps", "shop-1")["metadata"]
