"""``werfop run`` end to end: the official client over real HTTP against the Kubernetes
API test server, the real distribution registry, and a Job controller stand-in."""

from __future__ import annotations

import base64
import time

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from kubeapi.jobcontroller import JobController
from support.operator import bundle, status_of, wait_for, werf_jobs

pytestmark = pytest.mark.integration


def _synced_on(api, name, tag, namespace="default"):
    def check():
        status = status_of(api, name, namespace)
        return status.get("phase") == "Synced" and status.get("lastAppliedTag") == tag

    return check


def _app_synced_on_1_0_0(api, kubeconfig, operators, registry, repo_name):
    """Bundle ``app`` follows the repository, which holds 1.0.0; an operator runs; wait
    until the bundle is Synced on it."""
    registry.pusher.push_chart(repo_name, "1.0.0")
    api.create("werfbundles", bundle("app", f"{registry.host}/{repo_name}"))
    operators(kubeconfig).wait_ready()
    wait_for(_synced_on(api, "app", "1.0.0"), what="Synced on 1.0.0")


def _job_tags(api) -> list[str]:
    return sorted(j["metadata"]["annotations"]["werf.io/tag"] for j in werf_jobs(api))


def _push_and_poll(api, registry, repo_name, name, tag, timeout=20.0):
    """Push ``tag``, ask the bundle to poll now (a new ``werf.io/reconcile-at`` value)
    instead of waiting out its 30 s interval, and wait until it is Synced on it."""
    registry.pusher.push_chart(repo_name, tag)
    api.mutate(
        "werfbundles",
        "default",
        name,
        lambda o: o["metadata"].setdefault("annotations", {}).update({"werf.io/reconcile-at": tag}),
    )
    wait_for(_synced_on(api, name, tag), timeout=timeout, what=f"Synced on {tag}")


def test_a_new_bundle_deploys_with_exactly_the_expected_job(
    kube_api, kubeconfig, operators, jobs, plain_registry, repo_name
):
    url = f"{plain_registry.host}/{repo_name}"
    digest = plain_registry.pusher.push_chart(repo_name, "1.0.0")
    plain_registry.pusher.push_chart(repo_name, "2.0.0")
    kube_api.create(
        "configmaps",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "shop-values", "namespace": "default"},
            "data": {"values.yaml": "replicas: 2\n"},
        },
    )
    kube_api.create(
        "werfbundles",
        bundle(
            "shop",
            url,
            registry={"versionConstraint": "^1"},
            converge={
                "valuesFrom": [{"configMapRef": {"name": "shop-values"}}],
                "values": {"tls": True},
                "timeout": "10m",
            },
        ),
    )
    operator = operators(kubeconfig).wait_ready()

    wait_for(_synced_on(kube_api, "shop", "1.0.0"), what="Synced on 1.0.0")
    [job] = werf_jobs(kube_api, "default")
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert [
        "werf",
        "bundle",
        "apply",
        "--repo",
        url,
        "--tag",
        "1.0.0",
        "--release",
        "shop",
        "--namespace",
        "default",
        "--timeout",
        "600",
        "--values",
        "/werfop/inputs/values-00.yaml",
        "--values",
        "/werfop/inputs/values-inline.yaml",
        "--insecure-registry",
    ] == container["command"]
    secret = kube_api.get("secrets", "default", f"{job['metadata']['name']}-inputs")
    files = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert {"replicas": 2} == yaml.safe_load(files["values-00.yaml"])
    assert {"tls": True} == yaml.safe_load(files["values-inline.yaml"])
    assert [job["metadata"]["uid"]] == [o["uid"] for o in secret["metadata"]["ownerReferences"]]
    status = status_of(kube_api, "shop")
    assert digest == status["lastAppliedDigest"]
    assert digest == job["metadata"]["annotations"]["werf.io/digest"]
    assert "release deployed" in status["lastJobLogs"]
    assert ["Succeeded"] == [h["result"] for h in status["versionHistory"]]

    def reasons() -> set[str]:
        return {e["reason"] for e in kube_api.list("events", "default")}

    # Events are written after the status (the status is the record): wait for them.
    wait_for(lambda: {"JobCreated", "JobSucceeded"} <= reasons(), what="the Job's Events")
    assert set() == reasons() & {"PhaseSyncing", "PhaseSynced"}  # the Job's Events tell those
    assert "werfop_jobs_total" in operator.scrape()


def test_a_pushed_tag_deploys_after_the_next_poll(
    kube_api, kubeconfig, operators, jobs, plain_registry, repo_name
):
    _app_synced_on_1_0_0(kube_api, kubeconfig, operators, plain_registry, repo_name)
    _push_and_poll(kube_api, plain_registry, repo_name, "app", "1.1.0")
    assert ["1.0.0", "1.1.0"] == _job_tags(kube_api)


def test_jobs_that_left_the_history_are_deleted_with_their_pods_and_secrets(
    kube_api, kubeconfig, operators, jobs, plain_registry, repo_name
):
    _app_synced_on_1_0_0(kube_api, kubeconfig, operators, plain_registry, repo_name)
    tags = ["1.0.0"] + [f"1.{minor}.0" for minor in range(1, 12)]
    for tag in tags[1:]:
        _push_and_poll(kube_api, plain_registry, repo_name, "app", tag, timeout=30)

    kept = sorted(tags[2:])  # the ten the history names
    wait_for(lambda: _job_tags(kube_api) == kept, what=f"the Jobs of {kept}")
    history = status_of(kube_api, "app")["versionHistory"]
    assert kept == sorted(e["tag"] for e in history)
    names = {j["metadata"]["name"] for j in werf_jobs(kube_api)}
    assert names == {e["jobName"] for e in history}
    # the pruned Jobs took their pods and inputs Secrets with them (Background)
    pods = [p for p in kube_api.list("pods", "default") if p["metadata"].get("ownerReferences")]
    assert names == {p["metadata"]["ownerReferences"][0]["name"] for p in pods}
    inputs = {
        s["metadata"]["name"]
        for s in kube_api.list("secrets", "default")
        if s["metadata"]["name"].endswith("-inputs")
    }
    assert {f"{name}-inputs" for name in names} == inputs


def test_a_failed_job_schedules_a_retry_with_backoff(
    kube_api, kubeconfig, operators, jobs, plain_registry, repo_name
):
    url = f"{plain_registry.host}/{repo_name}"
    plain_registry.pusher.push_chart(repo_name, "1.0.0")
    jobs["outcome"] = "failed"
    kube_api.create("werfbundles", bundle("app", url, converge={"maxAttempts": 3}))
    operators(kubeconfig).wait_ready()
    wait_for(lambda: _ready_reason(kube_api, "app") == "RetryScheduled", what="a retry")
    status = status_of(kube_api, "app")
    assert ("Syncing", 1) == (status["phase"], status["attempts"])
    assert "attempt 2 of 3" in status["conditions"][0]["message"]  # in about a minute
    assert 1 == len(werf_jobs(kube_api))


def test_exhausted_attempts_fail_until_a_new_retry_value(
    kube_api, kubeconfig, operators, jobs, plain_registry, repo_name
):
    url = f"{plain_registry.host}/{repo_name}"
    plain_registry.pusher.push_chart(repo_name, "1.0.0")
    jobs["outcome"] = "failed"
    kube_api.create("werfbundles", bundle("app", url, converge={"maxAttempts": 1}))
    operators(kubeconfig).wait_ready()
    wait_for(lambda: _ready_reason(kube_api, "app") == "RetriesExhausted", what="Failed")
    assert "Failed" == status_of(kube_api, "app")["phase"]
    kube_api.mutate(
        "werfbundles",
        "default",
        "app",
        lambda o: o["metadata"].setdefault("annotations", {}).update({"werf.io/retry": "1"}),
    )
    wait_for(lambda: len(werf_jobs(kube_api)) == 2, what="a second Job")
    jobs["outcome"] = "succeeded"
    wait_for(
        lambda: (
            _ready_reason(kube_api, "app") == "RetriesExhausted"
            and status_of(kube_api, "app").get("lastHandledRetry") == "1"
        ),
        what="Failed again",
    )
    # A pass asked for now decides on this state; its status write records the request
    # after any Job it would create, so once the request is handled, no third Job means
    # the operator decided none (not that it had no time to).
    kube_api.mutate(
        "werfbundles",
        "default",
        "app",
        lambda o: o["metadata"]["annotations"].update({"werf.io/reconcile-at": "settled"}),
    )
    wait_for(
        lambda: status_of(kube_api, "app").get("lastHandledReconcileAt") == "settled",
        what="the pass asked for",
    )
    assert 2 == len(werf_jobs(kube_api))
    status = status_of(kube_api, "app")
    assert ["Failed"] * 2 == [h["result"] for h in status["versionHistory"]]


def _ready_reason(api, name):
    conditions = status_of(api, name).get("conditions") or [{}]
    return conditions[0].get("reason")


@pytest.mark.parametrize("failpoint", ["after:CreateJob", "after:WriteStatus", "registry"])
def test_kill_9_at_a_step_boundary_then_restart_makes_no_duplicate(
    kube_api, kubeconfig, operators, jobs, plain_registry, repo_name, failpoint
):
    url = f"{plain_registry.host}/{repo_name}"
    plain_registry.pusher.push_chart(repo_name, "1.0.0")
    jobs["outcome"] = "running"
    kube_api.create("werfbundles", bundle("app", url))
    doomed = operators(kubeconfig, env={"WERFOP_FAILPOINT": failpoint})
    assert 137 == doomed.process.wait(30)
    jobs["outcome"] = "succeeded"
    operators(kubeconfig).wait_ready()
    wait_for(_synced_on(kube_api, "app", "1.0.0"), what="Synced after the restart")
    [job] = werf_jobs(kube_api)
    assert kube_api.get("secrets", "default", f"{job['metadata']['name']}-inputs") is not None
    history = status_of(kube_api, "app")["versionHistory"]
    assert [(job["metadata"]["name"], "Succeeded")] == [
        (h["jobName"], h["result"]) for h in history
    ]


def test_conflict_storms_and_api_restarts_are_survived(
    kube_api, kubeconfig, operators, jobs, plain_registry, repo_name
):
    url = f"{plain_registry.host}/{repo_name}"
    plain_registry.pusher.push_chart(repo_name, "1.0.0")
    operators(kubeconfig).wait_ready()
    kube_api.faults.fail_next(8, status=409, verb="update", resource="werfbundles/status")
    kube_api.create("werfbundles", bundle("one", url))
    wait_for(_synced_on(kube_api, "one", "1.0.0"), what="Synced despite conflicts")
    kube_api.restart(downtime=2.0)
    kube_api.create("werfbundles", bundle("two", url))
    wait_for(_synced_on(kube_api, "two", "1.0.0"), timeout=40, what="Synced after a restart")
    assert 2 == len(werf_jobs(kube_api))


def test_a_stalled_watch_is_reconnected_and_misses_nothing(
    kube_api, kubeconfig, operators, jobs, plain_registry, repo_name
):
    url = f"{plain_registry.host}/{repo_name}"
    plain_registry.pusher.push_chart(repo_name, "1.0.0")
    operators(kubeconfig, "--watch-timeout", "3").wait_ready()
    kube_api.faults.stall_watches("werfbundles")
    kube_api.create("werfbundles", bundle("quiet", url))
    time.sleep(1)
    kube_api.faults.resume_watches()
    wait_for(_synced_on(kube_api, "quiet", "1.0.0"), timeout=30, what="Synced after the stall")


def test_an_expired_watch_relists(kube_api_factory, tmp_path, operators, plain_registry, repo_name):
    api = kube_api_factory(history_size=3)
    jobs = JobController(api, lambda job: ("succeeded", "ok\n"), poll_interval=0.2).start()
    kubeconfig = api.write_kubeconfig(tmp_path / "kc")
    url = f"{plain_registry.host}/{repo_name}"
    plain_registry.pusher.push_chart(repo_name, "1.0.0")
    operator = operators(kubeconfig, "--watch-timeout", "2").wait_ready()
    api.faults.stall_watches("werfbundles")
    for index in range(6):  # more changes than the history keeps: the watch must relist
        api.create(
            "configmaps",
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"noise-{index}", "namespace": "default"},
            },
        )
    api.create("werfbundles", bundle("late", url))
    api.faults.resume_watches()
    try:
        wait_for(_synced_on(api, "late", "1.0.0"), timeout=40, what="Synced after a 410")
    finally:
        jobs.stop()
    assert operator.process.poll() is None


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        pytest.param(
            {"registry": {"url": "http://x.io/a"}}, "spec.registry.url", id="scheme in url"
        ),
        pytest.param(
            {"registry": {"url": "x.invalid/a:1.0"}}, "spec.registry.url", id="tag in url"
        ),
        pytest.param(
            {"registry": {"url": "x.invalid/a", "pollInterval": "1s"}},
            "spec.registry.pollInterval",
            id="interval",
        ),
        pytest.param(
            {"registry": {"url": "x.invalid/a", "versionConstraint": ">=banana"}},
            "spec.registry.versionConstraint",
            id="constraint",
        ),
        pytest.param(
            {"registry": {"url": "x.invalid/a"}, "converge": {"targetNamespace": "other"}},
            "spec.converge.serviceAccountName",
            id="cross-namespace",
        ),
        pytest.param(
            {"registry": {"url": "x.invalid/a"}, "converge": {"resourceLimits": {"cpu": "lots"}}},
            "spec.converge.resourceLimits.cpu",
            id="quantity",
        ),
        pytest.param(
            {"registry": {"url": "x.invalid/a"}, "converge": {"logRetentionDays": -1}},
            "spec.converge.logRetentionDays",
            id="retention",
        ),
    ],
)
def test_a_bad_object_gets_a_clear_status_and_event_and_no_job(
    kube_api, kubeconfig, operators, spec, field
):
    kube_api.create(
        "werfbundles",
        {
            "apiVersion": "werf.io/v1alpha1",
            "kind": "WerfBundle",
            "metadata": {"name": "bad", "namespace": "default"},
            "spec": spec,
        },
    )
    operator = operators(kubeconfig).wait_ready()
    wait_for(lambda: status_of(kube_api, "bad").get("phase") == "Failed", what="Failed")
    stalled = next(c for c in status_of(kube_api, "bad")["conditions"] if c["type"] == "Stalled")
    assert "InvalidSpec" == stalled["reason"]
    assert field in stalled["message"]
    assert [] == werf_jobs(kube_api)

    def failed_events() -> list[dict]:
        return [e for e in kube_api.list("events", "default") if e["reason"] == "PhaseFailed"]

    # The Event is written after the status (the status is the record): wait for it.
    wait_for(failed_events, what="a PhaseFailed Event")
    assert field in failed_events()[0]["message"]
    assert operator.process.poll() is None


def test_sigterm_exits_within_ten_seconds(kube_api, kubeconfig, operators):
    operator = operators(kubeconfig).wait_ready()
    code, seconds = operator.terminate()
    assert 0 == code
    assert seconds < 10


def test_with_leader_election_one_reconciles_and_a_kill_hands_over_quickly(
    kube_api, kubeconfig, operators, jobs, plain_registry, repo_name
):
    url = f"{plain_registry.host}/{repo_name}"
    plain_registry.pusher.push_chart(repo_name, "1.0.0")
    flags = ("--leader-elect", "--leader-election-namespace", "default")
    first = operators(kubeconfig, *flags).wait_ready()
    wait_for(lambda: _holder(kube_api), what="a leader")
    second = operators(kubeconfig, *flags).wait_ready()  # ready as a healthy standby
    kube_api.create("werfbundles", bundle("app", url))
    wait_for(_synced_on(kube_api, "app", "1.0.0"), what="Synced")
    leader, standby = (first, second) if _led(first) else (second, first)
    assert not _led(standby)
    assert 0 == _count(standby, "JobCreated")
    assert (1.0, 0.0) == (_leader_gauge(leader), _leader_gauge(standby))

    leader.kill()  # kill -9: the Lease is not released
    killed_at = time.monotonic()
    wait_for(lambda: _led(standby), timeout=25, what="the standby to take over")
    handover = time.monotonic() - killed_at
    assert handover < 20, f"handover took {handover:.1f}s"
    assert 1.0 == _leader_gauge(standby)  # set before "became leader" is logged
    plain_registry.pusher.push_chart(repo_name, "1.1.0")
    kube_api.mutate(
        "werfbundles",
        "default",
        "app",
        lambda o: (
            o["metadata"].setdefault("annotations", {}).update({"werf.io/reconcile-at": "now"})
        ),
    )
    wait_for(_synced_on(kube_api, "app", "1.1.0"), what="Synced on 1.1.0 by the new leader")
    tags = sorted(j["metadata"]["annotations"]["werf.io/tag"] for j in werf_jobs(kube_api))
    assert ["1.0.0", "1.1.0"] == tags
    code, seconds = standby.terminate()
    assert (0, True) == (code, seconds < 10)
    assert "" == kube_api.get("leases", "default", "werfop-leader")["spec"]["holderIdentity"]


def _holder(api):
    lease = api.get("leases", "default", "werfop-leader")
    return ((lease or {}).get("spec") or {}).get("holderIdentity")


def _led(operator):
    return _count(operator, "became leader") > 0


def _count(operator, message):
    return sum(1 for line in operator.lines() if line.get("msg") == message)


def _leader_gauge(operator) -> float:
    """``werfop_leader`` on the operator's /metrics."""
    (value,) = [
        sample.value
        for family in text_string_to_metric_families(operator.scrape())
        if family.name == "werfop_leader"
        for sample in family.samples
    ]
    return value
