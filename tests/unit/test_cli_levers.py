"""What ``--wait`` waits for: the status record of each lever (``werfop.cli.levers``)
and the wait loop over a scripted sequence of reads and a manual clock
(``werfop.cli.wait``)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from werfop.cli import levers
from werfop.cli.wait import wait_for
from werfop.core import names
from werfop.core.errors import TransientError


def bundle(generation: int = 1, annotations=None, spec=None, **status) -> dict:
    return {
        "metadata": {"name": "shop", "namespace": "default", "generation": generation}
        | ({"annotations": annotations} if annotations else {}),
        "spec": spec or {},
        "status": status,
    }


def ready(status: str, reason: str, message: str = "") -> list[dict]:
    return [{"type": "Ready", "status": status, "reason": reason, "message": message}]


RECONCILING = [
    *ready("False", "RetryScheduled"),
    {"type": "Reconciling", "status": "True", "reason": "RetryScheduled"},
]


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        pytest.param(bundle(phase="Synced", observedGeneration=1), True, id="synced"),
        pytest.param(bundle(phase="Failed", observedGeneration=1), True, id="failed"),
        pytest.param(bundle(observedGeneration=1), False, id="no-phase-yet"),
        pytest.param(bundle(2, phase="Synced", observedGeneration=1), False, id="older-generation"),
        pytest.param(
            bundle(phase="Syncing", observedGeneration=1, activeJobName="j"),
            False,
            id="active-job",
        ),
        pytest.param(
            bundle(phase="Syncing", observedGeneration=1, conditions=RECONCILING),
            False,
            id="retry-scheduled-is-reconciling",
        ),
    ],
)
def test_settled_means_current_generation_no_job_and_not_reconciling(obj, expected):
    assert expected == levers.is_settled(obj)


@pytest.mark.parametrize(
    ("annotation", "field"),
    [
        ("werf.io/reconcile-at", "lastHandledReconcileAt"),
        ("werf.io/redeploy-at", "lastHandledRedeployAt"),
        ("werf.io/retry", "lastHandledRetry"),
    ],
)
def test_an_annotation_is_handled_once_its_status_field_holds_the_value(annotation, field):
    handled = levers.handled_annotation(annotation, "v2")

    assert [False, False, True] == [
        handled(bundle()),
        handled(bundle(**{field: "v1"})),
        handled(bundle(**{field: "v2"})),
    ]


def test_a_rollback_is_handled_when_held_or_refused_naming_its_tag():
    handled = levers.handled_rollback("1.0.0")
    refused = ready("False", "RollbackUnavailable", "tag '1.0.0' is not in status.versionHistory")
    other = ready("False", "RollbackUnavailable", "tag '0.9.0' is not in status.versionHistory")

    assert [True, True, False, False] == [
        handled(bundle(desiredTag="1.0.0")),
        handled(bundle(desiredTag="1.1.0", conditions=refused)),
        handled(bundle(desiredTag="1.1.0", conditions=other)),
        handled(bundle(desiredTag="1.1.0")),
    ]


def test_a_spec_change_is_handled_once_its_generation_is_observed():
    handled = levers.handled_generation(3)

    assert [False, True, True] == [
        handled(bundle(3, observedGeneration=2)),
        handled(bundle(3, observedGeneration=3)),
        handled(bundle(4, observedGeneration=4)),
    ]


def test_history_tags_are_newest_first_and_unique():
    history = [{"tag": "1.1.0"}, {"tag": "1.0.0"}, {"tag": "1.1.0"}, {}]

    assert ["1.1.0", "1.0.0"] == levers.history_tags(bundle(versionHistory=history))


def test_patches_are_merge_patches_that_set_or_remove():
    assert {"metadata": {"annotations": {"werf.io/retry": None}}} == levers.annotation_patch(
        "werf.io/retry", None
    )
    assert {"spec": {"suspend": True}} == levers.suspend_patch(True)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def scripted(*answers):
    remaining = list(answers)

    def read():
        answer = remaining.pop(0) if len(remaining) > 1 else remaining[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return read


def test_wait_goes_on_through_unhandled_reads_and_api_hiccups_until_settled():
    clock, lines = Clock(), []
    handled = levers.handled_annotation("werf.io/retry", "v2")
    final = bundle(phase="Synced", observedGeneration=1, lastHandledRetry="v2")
    read = scripted(
        bundle(phase="Failed", observedGeneration=1, lastHandledRetry="v1"),  # not yet
        TransientError("GET: the API server is unreachable"),
        bundle(phase="Syncing", observedGeneration=1, lastHandledRetry="v2", activeJobName="j"),
        final,
    )

    done, last = wait_for(
        read,
        handled,
        timedelta(minutes=1),
        report=lines.append,
        monotonic=clock.monotonic,
        sleep=clock.sleep,
    )

    assert (True, final) == (done, last)
    assert ["  (retrying: GET: the API server is unreachable)", "  Syncing"] == lines


def test_wait_gives_up_at_the_timeout_with_the_last_bundle_read():
    clock = Clock()
    stuck = bundle(phase="Synced", observedGeneration=1, lastHandledRetry="v1")

    done, last = wait_for(
        scripted(stuck),
        levers.handled_annotation("werf.io/retry", "v2"),
        timedelta(seconds=5),
        monotonic=clock.monotonic,
        sleep=clock.sleep,
    )

    assert (False, stuck, 5.0) == (done, last, clock.now)


def test_a_poll_failure_is_told_only_while_polls_fail():
    assert [None, "HTTP 503 (2 in a row; the operator retries with backoff)"] == [
        levers.poll_failure(bundle(consecutiveFailures=0, lastErrorMessage="old")),
        levers.poll_failure(bundle(consecutiveFailures=2, lastErrorMessage="HTTP 503")),
    ]


def test_the_words_the_levers_compare_are_the_operators():
    assert levers.ROLLBACK_REFUSED in names.READY_REASONS
    assert {names.RECONCILE_AT, names.REDEPLOY_AT, names.RETRY} == set(levers.HANDLED_FIELD)
