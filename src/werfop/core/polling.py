"""Polls: when one is due, and what a registry snapshot does to the status.

Role: ``is_poll_due`` tells the runtime whether to read the registry before a pass;
``next_scheduled_poll`` when a successful poll schedules the next (the runtime's pacer
books its slot from it); ``requested`` records a ``werf.io/reconcile-at`` value;
``poll`` folds the snapshot into the status: the selection (``versions.select``, the
soak of ``minAge``), the poll record, registry failures with their backoff.
Must not: start Jobs (``deploy``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from werfop.core import names, schedule
from werfop.core.model import (
    Bundle,
    BundleSpec,
    BundleStatus,
    PollDeferred,
    RegistryUnavailable,
    Rejection,
    SelectionStatus,
    Soak,
    TagList,
)
from werfop.core.step import Facts, Step
from werfop.core.timeline import Polled, PollRequested
from werfop.core.timeline import RegistryUnavailable as RegistryUnavailableEntry
from werfop.core.validation import spec_problems
from werfop.core.versions import MAX_REJECTIONS, TOO_YOUNG, select


def is_poll_due(bundle: Bundle, now: datetime) -> bool:
    """Should the runtime read the registry before this pass?

    Due when the bundle is valid (schema and cross-field rules), not suspended or being
    deleted, and it has never been polled, its spec changed since the last pass (a new
    generation polls at once), a new ``werf.io/reconcile-at`` value asks for it, or the
    next poll time has come.
    """
    if bundle.spec is None or bundle.spec.suspend or bundle.meta.deletion_timestamp:
        return False
    if spec_problems(bundle.meta, bundle.spec):
        return False  # a broken spec stalls without asking the registry anything
    status = bundle.status
    if status.next_poll_time is None or bundle.meta.generation != status.observed_generation:
        return True
    requested = bundle.meta.annotation(names.RECONCILE_AT)
    if requested is not None and requested != status.last_handled_reconcile_at:
        return True
    return now >= status.next_poll_time


def next_scheduled_poll(bundle: Bundle, spec: BundleSpec, now: datetime) -> datetime:
    """When a successful poll at ``now`` schedules the next one: the poll interval with
    the bundle's jitter for its next poll count. The runtime's pacer books its slot
    from this time and hands the slot back as ``TagList.next_poll``."""
    count = bundle.status.poll_count + 1
    return now + schedule.jittered(spec.registry.poll_interval, bundle.meta.uid, count)


def requested(facts: Facts, step: Step) -> Step:
    """A new ``werf.io/reconcile-at`` value is handled once (the observer polled for it)."""
    value = facts.bundle.meta.annotation(names.RECONCILE_AT)
    if value is None or value == step.status.last_handled_reconcile_at:
        return step
    return step.then(
        step.status.replace(last_handled_reconcile_at=value),
        timeline=(PollRequested(value=value),),
    )


def poll(facts: Facts, step: Step) -> Step:
    """Fold the registry snapshot (if any) into the status; wake at the next poll."""
    snapshot = facts.snapshot
    if snapshot is not None:
        return _observe(facts, step, snapshot)  # with the next poll it sets in ``wake``
    due = step.status.next_poll_time
    return step if due is None else step.then(wake=(due,))


def _observe(
    facts: Facts, step: Step, snapshot: TagList | RegistryUnavailable | PollDeferred
) -> Step:
    status, now = step.status, facts.now
    if isinstance(snapshot, PollDeferred):
        until = max(snapshot.until, now)
        return step.then(status.replace(next_poll_time=until), wake=(until,))
    uid = facts.bundle.meta.uid
    count = status.poll_count + 1
    if isinstance(snapshot, RegistryUnavailable):
        failures = status.consecutive_failures + 1
        delay = schedule.jittered(schedule.registry_backoff(failures), uid, count)
        if snapshot.retry_after is not None:
            delay = max(delay, snapshot.retry_after)
        message = f"registry {snapshot.repository}: {snapshot.message}"
        entry = RegistryUnavailableEntry(
            status=snapshot.status_code,
            reason=snapshot.reason,
            failures=failures,
            retry_in=round(delay.total_seconds(), 3),
            message=message,
            # One Event when failing starts or its message changes, not one per retry.
            announce=status.consecutive_failures == 0 or status.last_error_message != message,
        )
        retry = now + delay
        failed = status.replace(
            last_poll_time=now,
            next_poll_time=retry,
            poll_count=count,
            consecutive_failures=failures,
            last_error_message=message,
            last_error_time=now,
        )
        return step.then(failed, timeline=(entry,), wake=(retry,))
    scheduled = snapshot.next_poll or next_scheduled_poll(facts.bundle, facts.spec, now)
    polled = {
        "last_poll_time": now,
        "next_poll_time": scheduled,
        "poll_count": count,
        "consecutive_failures": 0,
        "last_error_message": None,
        "last_etag": snapshot.etag,
    }
    return _select(facts, step, snapshot, polled)


def _select(facts: Facts, step: Step, snapshot: TagList, polled: dict[str, Any]) -> Step:
    """The selection folded into the status, with the poll's own fields ``polled``
    (none of which the selection reads), in one new status."""
    spec, status, now = facts.spec, step.status, facts.now
    applied_tag = status.last_applied_tag
    selection = select(snapshot, facts.policy_under(applied_tag))
    rejected = list(selection.rejected)
    candidate = selection.selected
    digest = snapshot.digest(candidate) if candidate is not None else None
    if candidate is not None and digest is None:
        candidate = None  # the runtime could not resolve it; keep what we have
    applied = (applied_tag, status.last_applied_digest)
    soak = status.soak
    desired: tuple[str, str] | None = None
    wake: list[datetime] = []
    if candidate is not None and digest is not None:
        desired = (candidate, digest)
        if (candidate, digest) == applied:
            soak = None
        elif spec.registry.min_age > timedelta(0):
            if soak is None or (soak.tag, soak.digest) != desired:
                soak = Soak(tag=candidate, digest=digest, since=snapshot.at)
            matures = soak.since + spec.registry.min_age
            if matures > now:
                rejected.insert(0, Rejection(tag=candidate, reason=TOO_YOUNG))
                wake.append(matures)
                desired = None
    selected = desired[0] if desired else None
    said = status.selection
    kept = tuple(rejected[:MAX_REJECTIONS])
    if (
        said is None
        or said.selected != selected
        or said.considered != selection.considered
        or said.rejected != kept
    ):
        said = SelectionStatus(selected=selected, considered=selection.considered, rejected=kept)
    # else the status's own words stay (the status write compares them by identity)
    new = status.replace(
        **polled,
        desired_tag=selected,
        desired_digest=desired[1] if desired else None,
        soak=soak,
        selection=said,
    )
    return step.then(
        new,
        timeline=(Polled(selected=selected, tags=len(snapshot.tags)),),
        wake=(*wake, polled["next_poll_time"]),
    )


def registry_failing(status: BundleStatus) -> bool:
    """Enough consecutive failed polls to call the bundle Failed (the registry's story
    is told by the RegistryReachable condition from the first failure)."""
    return status.consecutive_failures >= schedule.FAILURES_BEFORE_FAILED
