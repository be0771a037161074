"""The day-2 CLI's pure rendering: kubectl's ages, the ``werfop get`` table and the
``werfop status`` text, from raw WerfBundle JSON as the API server returns it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from werfop.cli.age import age_since, format_age
from werfop.cli.explain import explain
from werfop.cli.table import bundle_table

NOW = datetime(2026, 12, 4, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        pytest.param(timedelta(seconds=-5), "<invalid>", id="future-beyond-skew"),
        pytest.param(timedelta(seconds=-1), "0s", id="skew-of-a-second"),
        pytest.param(timedelta(seconds=0), "0s", id="now"),
        pytest.param(timedelta(seconds=119), "119s", id="seconds-below-two-minutes"),
        pytest.param(timedelta(minutes=2), "2m", id="two-minutes"),
        pytest.param(timedelta(minutes=5, seconds=30), "5m30s", id="minutes-and-seconds"),
        pytest.param(timedelta(minutes=17, seconds=30), "17m", id="minutes-only-from-ten"),
        pytest.param(timedelta(hours=3, minutes=20), "3h20m", id="hours-and-minutes"),
        pytest.param(timedelta(hours=5), "5h", id="whole-hours"),
        pytest.param(timedelta(hours=13, minutes=59), "13h", id="hours-only-from-eight"),
        pytest.param(timedelta(days=3, hours=4), "3d4h", id="days-and-hours"),
        pytest.param(timedelta(days=3), "3d", id="whole-days"),
        pytest.param(timedelta(days=45, hours=7), "45d", id="days-only-from-eight"),
        pytest.param(timedelta(days=365 * 2 + 30), "2y30d", id="years-and-days"),
        pytest.param(timedelta(days=365 * 9), "9y", id="years-only-from-eight"),
    ],
)
def test_ages_read_as_kubectl_prints_them(delta, expected):
    assert expected == format_age(delta)


def test_an_absent_or_unparsable_instant_has_an_unknown_age():
    assert ["<unknown>", "<unknown>", "3m"] == [
        age_since(None, NOW),
        age_since("yesterday", NOW),
        age_since("2026-12-04T11:57:00Z", NOW),
    ]


def bundle(name: str, namespace: str = "default", **status) -> dict:
    return {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"uid-{name}",
            "generation": 1,
            "creationTimestamp": "2026-12-04T11:55:00Z",
        },
        "spec": {"registry": {"url": "registry.example/acme/shop", "versionConstraint": "^1"}},
        "status": status,
    }


SYNCED = dict(
    phase="Synced",
    observedGeneration=1,
    desiredTag="1.1.0",
    lastAppliedTag="1.1.0",
    conditions=[
        {
            "type": "Ready",
            "status": "True",
            "reason": "Succeeded",
            "message": "applied tag 1.1.0\n(sha256:abc)",
        }
    ],
)


def test_the_table_has_flux_like_columns_and_one_line_per_bundle():
    table = bundle_table([bundle("shop", **SYNCED), bundle("new")], NOW, namespaced=False)

    assert [
        "NAME   PHASE    DESIRED   APPLIED   READY   MESSAGE                          AGE",
        "shop   Synced   1.1.0     1.1.0     True    applied tag 1.1.0 (sha256:abc)   5m",
        "new                                                                          5m",
    ] == table.splitlines()


def test_all_namespaces_puts_the_namespace_first():
    table = bundle_table([bundle("shop", "team-a", **SYNCED)], NOW, namespaced=True)

    assert ["NAMESPACE", "NAME", "PHASE"] == table.splitlines()[0].split()[:3]
    assert ["team-a", "shop", "Synced"] == table.splitlines()[1].split()[:3]


FAILED = dict(
    phase="Failed",
    observedGeneration=1,
    desiredTag="1.2.0",
    desiredDigest="sha256:222",
    lastAppliedTag="1.1.0",
    lastAppliedDigest="sha256:111",
    lastSyncTime="2026-12-04T11:50:00Z",
    lastPollTime="2026-12-04T11:59:00Z",
    nextPollTime="2026-12-04T12:00:30Z",
    pollCount=7,
    conditions=[
        {
            "type": "Ready",
            "status": "False",
            "reason": "RetriesExhausted",
            "message": "tag 1.2.0 failed 2 times",
        },
        {"type": "Stalled", "status": "True", "reason": "RetriesExhausted", "message": "same"},
        {
            "type": "Released",
            "status": "False",
            "reason": "JobFailed",
            "message": "job shop-bbb failed",
        },
    ],
    selection={
        "selected": "1.2.0",
        "considered": 4,
        "rejected": [
            {"tag": "2.0.0", "reason": "outside constraint"},
            {"tag": "1.3.0-rc.1", "reason": "prerelease"},
        ],
    },
    lastJobStatus="Failed",
    lastJobLogs="line 1\nline 2\nError: boom\n",
    versionHistory=[
        {
            "tag": "1.2.0",
            "jobName": "shop-bbb",
            "attempt": 2,
            "result": "Failed",
            "startedAt": "2026-12-04T11:58:00Z",
            "finishedAt": "2026-12-04T11:59:00Z",
        },
        {
            "tag": "1.1.0",
            "jobName": "shop-aaa",
            "attempt": 1,
            "result": "Succeeded",
            "startedAt": "2026-12-04T11:40:00Z",
        },
    ],
    lastHandledRetry="r1",
)

EVENTS = [
    {
        "type": "Warning",
        "reason": "JobFailed",
        "message": "job shop-bbb failed",
        "lastTimestamp": "2026-12-04T11:59:00Z",
    },
]


def test_status_explains_ready_selection_polls_jobs_levers_events_and_history():
    failed = bundle("shop", **FAILED)
    failed["metadata"]["annotations"] = {"werf.io/retry": "r2", "werf.io/reconcile-at": "t1"}
    failed["status"]["lastHandledReconcileAt"] = "t1"

    text = explain(failed, EVENTS, NOW, log_lines=2)

    assert [
        "Name:         default/shop",
        "Phase:        Failed",
        "Ready:        False (RetriesExhausted) tag 1.2.0 failed 2 times",
        "Conditions:   Stalled=True (RetriesExhausted) same",
        "              Released=False (JobFailed) job shop-bbb failed",
        "Follows:      registry.example/acme/shop, versions ^1",
        "Suspended:    no",
        "Desired:      1.2.0 (sha256:222)",
        "Applied:      1.1.0 (sha256:111), synced 2026-12-04T11:50:00Z (10m ago)",
        "Selection:    1.2.0 chosen from 4 tag(s)",
        "              rejected 2.0.0: outside constraint",
        "              rejected 1.3.0-rc.1: prerelease",
        "Polls:        7 so far; last 2026-12-04T11:59:00Z (60s ago); next 2026-12-04T12:00:30Z (in 30s) (as of the last status write; quiet polls write none)",
        "Active Job:   none",
        "Last Job:     shop-bbb Failed (tag 1.2.0, attempt 2, finished 2026-12-04T11:59:00Z (60s ago))",
        "Log tail (status.lastJobLogs, redacted; last 2 lines):",
        "  | line 2",
        "  | Error: boom",
        "Levers:       werf.io/reconcile-at=t1 (handled)",
        "              werf.io/retry=r2 (not handled yet)",
        "Events (oldest first):",
        "  AGE   TYPE      REASON      MESSAGE",
        "  60s   Warning   JobFailed   job shop-bbb failed",
        "History (newest first):",
        "  TAG     RESULT      ATTEMPT   STARTED   JOB",
        "  1.2.0   Failed      2         2m ago    shop-bbb",
        "  1.1.0   Succeeded   1         20m ago   shop-aaa",
    ] == text.splitlines()


def test_status_of_a_bundle_without_status_says_what_is_missing():
    text = explain(bundle("new"), [], NOW)

    assert "Phase:        <none: the operator has not written a status>" in text.splitlines()
    assert "Generation:   1, the status describes none yet" in text.splitlines()
    assert "Selection:    none recorded (no poll has chosen a tag yet)" in text.splitlines()
    assert (
        "Polls:        0 so far; last never; next: none scheduled "
        "(as of the last status write; quiet polls write none)"
    ) in text.splitlines()
    assert ["Events:       none", "History:      none"] == text.splitlines()[-2:]


def test_status_never_prints_inline_values_or_secret_names_data():
    secretive = bundle("shop", **SYNCED)
    secretive["spec"]["converge"] = {"values": {"password": "hunter2"}}

    assert "hunter2" not in explain(secretive, [], NOW)


def test_status_tells_a_deletion_in_progress_and_drift_checks():
    deleting = bundle(
        "shop", **SYNCED, uninstall="Failed", lastDriftCheckTime="2026-12-04T11:58:00Z"
    )
    deleting["metadata"] |= {
        "deletionTimestamp": "2026-12-04T11:59:00Z",
        "finalizers": ["werf.io/finalizer"],
    }
    deleting["spec"]["converge"] = {"driftDetection": {"enabled": True}}
    deleting["status"]["driftCorrections"] = 2

    lines = explain(deleting, [], NOW).splitlines()

    assert (
        "Deleting:     since 2026-12-04T11:59:00Z (60s ago); uninstall Failed; "
        "finalizers werf.io/finalizer"
    ) in lines
    assert (
        "Drift checks: last 2026-12-04T11:58:00Z (2m ago); 2 correction(s) for this version"
    ) in lines


def test_status_names_the_version_remediation_rolled_back_from():
    remediated = bundle("shop", **SYNCED, remediatedTag="1.2.0", remediatedDigest="sha256:222")

    assert (
        "Remediated:   1.2.0 (sha256:222) failed spec.converge.maxAttempts and was rolled back "
        "from; not tried again until a new version, a spec change or werf.io/retry"
    ) in explain(remediated, [], NOW).splitlines()
