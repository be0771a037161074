"""The pod completer and runner on the real control plane: what they promise in
docs/testing.md, so the tiers that rely on them rely on something tested."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.podcompleter import Rule, load_rules, parse_duration, rule_for

from .conftest import job_condition, wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]


def job(name: str, namespace: str, image: str = "busybox", labels: dict | None = None) -> dict:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": {"labels": labels or {}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": image}]},
            },
        },
    }


def finished(admin, namespace: str, name: str):  # type: ignore[no-untyped-def]
    return lambda: job_condition(admin.get("jobs", namespace, name) or {})


def test_a_rule_sets_the_exit_code_and_the_log_kubectl_logs_shows(
    admin, kubectl, namespace, pod_rules
):
    pod_rules([{"match": {"labels": {"app": "x"}}, "exitCode": 3, "log": "line one\nline two\n"}])
    admin.create("jobs", job("fails", namespace, labels={"app": "x"}))
    admin.create("jobs", job("succeeds", namespace))

    assert "Failed" == wait_for(finished(admin, namespace, "fails"), 60, "fails Failed")
    assert "Complete" == wait_for(finished(admin, namespace, "succeeds"), 60, "succeeds Complete")
    [pod] = admin.list("pods", namespace, labelSelector="batch.kubernetes.io/job-name=fails")
    state = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    logs = kubectl("-n", namespace, "logs", pod["metadata"]["name"], "--tail=1").stdout
    assert (3, "werfop-local") == (state["exitCode"], pod["spec"]["nodeName"])
    assert "line two\n" == logs


def test_a_pod_no_job_owns_stays_pending(admin, namespace):
    pod = job("lonely", namespace)["spec"]["template"]
    admin.create(
        "pods",
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "lonely", "namespace": namespace},
            "spec": pod["spec"],
        },
    )
    admin.create("jobs", job("marker", namespace))  # the completer has seen later pods
    wait_for(finished(admin, namespace, "marker"), 60, "marker Complete")

    assert "Pending" == admin.get("pods", namespace, "lonely")["status"]["phase"]


def test_the_runner_fails_a_pod_whose_image_it_cannot_run_and_says_why(admin, namespace, pod_rules):
    pod_rules([{"match": {"namespace": namespace}, "run": True}])
    admin.create("jobs", job("unknown-image", namespace, image="example.invalid/tool:1"))

    assert "Failed" == wait_for(finished(admin, namespace, "unknown-image"), 60, "Failed")
    [pod] = admin.list(
        "pods", namespace, labelSelector="batch.kubernetes.io/job-name=unknown-image"
    )
    message = pod["status"]["containerStatuses"][0]["state"]["terminated"]["message"]
    assert "image example.invalid/tool:1: the pod runner has no local binaries for it" in message


@pytest.mark.parametrize(
    ("document", "error"),
    [
        pytest.param(
            {"rules": [{"exitcode": 1}]}, "rules[1]: unknown field(s) ['exitcode']", id="typo"
        ),
        pytest.param(
            {"rules": [{"exitCode": 300}]}, "rules[1].exitCode: an integer 0-255", id="range"
        ),
        pytest.param(
            {"rules": [{"match": {"label": {}}}]}, "rules[1].match: unknown field(s)", id="match"
        ),
        pytest.param({"rule": []}, "unknown field(s) ['rule']", id="top-level"),
        pytest.param({"rules": [{"after": "2 s"}]}, "not a duration", id="duration"),
    ],
)
def test_a_bad_rules_file_is_refused_naming_the_rule_and_field(tmp_path: Path, document, error):
    path = tmp_path / "pods.yaml"
    path.write_text(json.dumps(document))

    with pytest.raises(ValueError, match=None) as refused:
        load_rules(path)

    assert error in str(refused.value)


def test_the_first_matching_rule_decides_and_durations_parse():
    rules = [Rule(namespace="a", exit_code=1), Rule(labels={"k": "v"}, exit_code=2)]

    assert 1 == rule_for(rules, "a", {"k": "v"}).exit_code
    assert 2 == rule_for(rules, "b", {"k": "v"}).exit_code
    assert 0 == rule_for(rules, "b", {}).exit_code
    assert [0.5, 2.0, 60.0] == [parse_duration(d) for d in ("500ms", "2s", "1m")]
