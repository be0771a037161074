"""``werfop run`` on the real control plane: authenticated as deploy/'s ServiceAccount
(a TokenRequest token, so deploy/rbac is what allows or forbids each request), against
the real distribution registry, with the real Job controller, garbage collector and TTL
controller finishing and cleaning up after the Jobs (pods end by the pod completer's
rules: tests/support/podcompleter.py).
"""

from __future__ import annotations

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from support.operator import bundle, status_of, werf_jobs
from support.realapi import RealApi

from .conftest import failed, follow, job_condition, synced_on, wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(300)]


def test_a_pushed_tag_becomes_a_job_the_real_job_controller_completes_and_the_bundle_syncs(
    admin, operators, plain_registry, repo_name, namespace
):
    url = f"{plain_registry.host}/{repo_name}"
    digest = plain_registry.pusher.push_chart(repo_name, "1.0.0")
    admin.create(
        "werfbundles", bundle("shop", url, namespace, registry={"versionConstraint": "^1"})
    )
    operator = operators().wait_ready(timeout=60)

    wait_for(synced_on(admin, "shop", namespace, "1.0.0"), 90, "Synced on 1.0.0")

    [job] = werf_jobs(admin, namespace)
    secret = admin.get("secrets", namespace, f"{job['metadata']['name']}-inputs")
    status = status_of(admin, "shop", namespace)
    assert "Complete" == job_condition(job)
    assert digest == status["lastAppliedDigest"]
    assert [job["metadata"]["uid"]] == [o["uid"] for o in secret["metadata"]["ownerReferences"]]
    # /metrics tells the same story (the status is written just before the metrics hear
    # of it, hence the wait)
    ready = wait_for(
        lambda: _condition_samples(operator.scrape(), namespace, "shop", "Ready"),
        10,
        "werfop_bundle_condition of shop's Ready",
    )
    assert {"True": 1.0, "False": 0.0, "Unknown": 0.0} == ready


def _condition_samples(text: str, namespace: str, name: str, type_: str) -> dict[str, float]:
    """``{status: value}`` of ``werfop_bundle_condition`` for one bundle and type, from a
    scrape parsed with prometheus-client's own parser (no regular expression)."""
    return {
        sample.labels["status"]: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "werfop_bundle_condition"
        for sample in family.samples
        if (sample.labels["namespace"], sample.labels["name"], sample.labels["type"])
        == (namespace, name, type_)
    }


def test_a_failing_pod_is_retried_and_the_bundle_ends_failed_after_max_attempts(
    admin, operators, plain_registry, repo_name, namespace, pod_rules
):
    pod_rules([{"match": {"namespace": namespace}, "exitCode": 1}])
    follow(admin, plain_registry, repo_name, namespace, converge={"maxAttempts": 2})
    operators().wait_ready(timeout=60)

    status = failed(admin, "shop", namespace, 180)

    jobs = werf_jobs(admin, namespace)
    assert ["Failed", "Failed"] == sorted(job_condition(j) or "-" for j in jobs)
    assert 2 == len({j["metadata"]["annotations"]["werf.io/attempt"] for j in jobs})
    assert "lastAppliedTag" not in status


def test_the_garbage_collector_deletes_the_inputs_secret_with_its_job(
    admin, operators, plain_registry, repo_name, namespace
):
    follow(admin, plain_registry, repo_name, namespace)
    operators().wait_ready(timeout=60)
    wait_for(synced_on(admin, "shop", namespace, "1.0.0"), 90, "Synced on 1.0.0")
    [job] = werf_jobs(admin, namespace)
    secret = f"{job['metadata']['name']}-inputs"

    admin.delete("jobs", namespace, job["metadata"]["name"])

    wait_for(lambda: admin.get("secrets", namespace, secret) is None, 60, "the inputs Secret gone")


def test_the_operator_account_may_not_list_secrets_cluster_wide(plane, operator_kubeconfig):
    config = yaml.safe_load(operator_kubeconfig.read_text())
    token = config["users"][0]["user"]["token"]
    api = RealApi(plane.server, token, plane.ca_pem)
    try:
        with pytest.raises(httpx.HTTPStatusError) as refused:
            api.list("secrets")
        allowed = api.list("werfbundles")
    finally:
        api.close()

    assert 403 == refused.value.response.status_code
    assert isinstance(allowed, list)


def test_kubectl_get_wb_tells_the_story_and_wide_adds_url_target_sync_and_suspended(
    admin, operators, plain_registry, repo_name, namespace, kubectl
):
    url = follow(admin, plain_registry, repo_name, namespace)
    admin.create(
        "werfbundles",
        bundle("broken", url, namespace, registry={"versionConstraint": ">=banana"}),
    )
    operators().wait_ready(timeout=60)
    wait_for(synced_on(admin, "shop", namespace, "1.0.0"), 90, "Synced on 1.0.0")
    failed(admin, "broken", namespace, 90)

    plain = kubectl("get", "wb", "-n", namespace).stdout.splitlines()
    wide = kubectl("get", "wb", "-n", namespace, "-o", "wide").stdout.splitlines()

    assert ["NAME", "PHASE", "DESIRED", "APPLIED", "READY", "MESSAGE", "AGE"] == plain[0].split()
    assert [
        "NAME",
        "PHASE",
        "DESIRED",
        "APPLIED",
        "READY",
        "MESSAGE",
        "AGE",
        "URL",
        "TARGET",
        "LAST",
        "SYNC",
        "SUSPENDED",
    ] == wide[0].split()
    broken = next(line for line in plain if line.startswith("broken "))
    shop = next(line for line in wide if line.startswith("shop "))
    assert "spec.registry.versionConstraint" in broken
    assert url in shop.split()
    assert namespace in shop.split()
    assert shop.split()[-1] in ("<none>", "false")  # Suspended, when spec.suspend is unset


def _last_poll(text: str, repository: str) -> float | None:
    """``werfop_registry_last_poll_timestamp_seconds`` of one repository, from a scrape."""
    for family in text_string_to_metric_families(text):
        if family.name == "werfop_registry_last_poll_timestamp_seconds":
            for sample in family.samples:
                if sample.labels["repository"] == repository:
                    return sample.value
    return None


def _status_puts(admin: RealApi) -> float:
    """The real API server's own count of status writes to WerfBundles
    (``apiserver_request_total``, every namespace)."""
    text = admin.http.get("/metrics").raise_for_status().text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "apiserver_request"  # the parser drops the _total suffix
        for sample in family.samples
        if sample.name == "apiserver_request_total"
        and sample.labels.get("resource") == "werfbundles"
        and sample.labels.get("subresource") == "status"
        and sample.labels.get("verb") in ("PUT", "UPDATE")
    )


def test_quiet_polls_write_nothing_to_the_real_api_server(
    admin, operators, plain_registry, repo_name, namespace
):
    url = follow(
        admin, plain_registry, repo_name, namespace, registry={"pollInterval": "30s"}
    ).removeprefix("oci://")
    operator = operators().wait_ready(timeout=60)
    wait_for(synced_on(admin, "shop", namespace, "1.0.0"), 90, "Synced on 1.0.0")
    wait_for(lambda: _last_poll(operator.scrape(), url), 60, "a poll on /metrics")
    wait_for(  # the pass after the Job's end (no more news) has written, if it writes
        lambda: status_of(admin, "shop", namespace).get("activeJobName") is None, 30, "idle"
    )
    puts = _status_puts(admin)
    assert puts > 0  # the counter sees our writes: the check below can fail
    version = admin.get("werfbundles", namespace, "shop")["metadata"]["resourceVersion"]
    first = _last_poll(operator.scrape(), url)

    # Two polls (every 30 s +-10 %) that find nothing new.
    wait_for(
        lambda: (
            (last := _last_poll(operator.scrape(), url)) is not None
            and first is not None
            and last >= first + 50
        ),
        90,
        "two more polls",
    )

    assert version == admin.get("werfbundles", namespace, "shop")["metadata"]["resourceVersion"]
    assert puts == _status_puts(admin)


def test_released_can_be_waited_for_and_remediation_rolls_back_a_failed_upgrade(
    admin, operators, plain_registry, repo_name, namespace, pod_rules, kubectl
):
    follow(
        admin,
        plain_registry,
        repo_name,
        namespace,
        converge={"maxAttempts": 1, "remediation": {"strategy": "Rollback"}},
    )
    operators().wait_ready(timeout=60)
    waited = kubectl(  # kstatus-style: the release's own condition, as kubectl reads it
        "wait", "--for=condition=Released", "wb/shop", "-n", namespace, "--timeout=90s"
    )
    assert "condition met" in waited.stdout
    assert "1.0.0" == status_of(admin, "shop", namespace)["lastAppliedTag"]

    pod_rules([{"match": {"namespace": namespace}, "exitCode": 1}])  # from now on, all fail
    plain_registry.pusher.push_chart(repo_name, "2.0.0")
    admin.mutate(  # poll now rather than in 15 minutes
        "werfbundles",
        namespace,
        "shop",
        lambda b: (
            b["metadata"].setdefault("annotations", {}).update({"werf.io/reconcile-at": "now"})
        ),
    )

    status = wait_for(
        lambda: (
            (s := status_of(admin, "shop", namespace)).get("remediatedTag") == "2.0.0"
            and s.get("activeJobName") is None
            and s
        ),
        180,
        "2.0.0 failed and remediation ran",
    )
    created = [
        e["message"]
        for e in admin.list("events", namespace)
        if e["involvedObject"]["name"] == "shop" and e["reason"] == "JobCreated"
    ]
    assert any("tag 2.0.0 (NewVersion)" in m for m in created), created
    assert any("tag 1.0.0 (Remediation)" in m for m in created), created
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ("Failed", "Remediated") == (status["phase"], ready["reason"])
