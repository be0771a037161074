"""reconcile(bundle, registry_snapshot, clock) -> Plan: every decision werfop makes.

Role: given the observed bundle (spec, status, its Jobs, the inputs the runtime read),
the registry snapshot taken this pass (or None when no poll was due) and a clock read
once, say what should happen next: actions with absolute targets, the new status, and
when to look again. Equal inputs give equal plans; once the registry and the spec stop
changing, a bounded number of passes reaches an empty plan.

A pass folds the sub-deciders below over a ``Step`` (``core.step``), in this order,
until one concludes with a verdict; ``conclude`` then words the verdict into phase and
conditions, adds the phase's timeline entry, raises the Events the timeline asks for
(the one place Events come from), and writes the status unless only the poll record
moved (a quiet poll writes nothing). A bundle being deleted takes ``finalize`` instead.
Must not: perform I/O, log, sleep, or raise (an exception here is a bug).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from datetime import datetime

import attrs

from werfop.core import deploy, drift, jobs, jobspec, names, polling, uninstall
from werfop.core.actions import (
    Action,
    AddFinalizer,
    DeleteJob,
    EmitEvent,
    Plan,
    RemoveFinalizer,
    WriteStatus,
)
from werfop.core.jobs import (
    MAX_HISTORY,
    STATUS_LOG_BYTES,
    eviction_test,
    is_evicted,
    jobs_needing_logs,
    redact,
)
from werfop.core.model import Bundle, BundleStatus, PollRecord, RegistrySnapshot
from werfop.core.polling import is_poll_due, next_scheduled_poll
from werfop.core.ports import Clock
from werfop.core.status import (
    Conditions,
    ConditionStatus,
    Verdict,
    verdict_conditions,
    with_condition,
)
from werfop.core.step import Facts, Step
from werfop.core.timeline import (
    Entry,
    Finalized,
    Finalizing,
    JobCreated,
    JobSucceeded,
    PhaseChanged,
    RetryRequested,
)
from werfop.core.validation import policy_for, spec_problems

__all__ = [
    "MAX_HISTORY",
    "STATUS_LOG_BYTES",
    "eviction_test",
    "is_evicted",
    "is_poll_due",
    "jobs_needing_logs",
    "next_scheduled_poll",
    "reconcile",
    "redact",
]


def reconcile(bundle: Bundle, registry_snapshot: RegistrySnapshot | None, clock: Clock) -> Plan:
    """Decide what should happen next for one bundle. See the module docstring."""
    now, spec = clock.now(), bundle.spec
    if bundle.meta.deletion_timestamp is not None:
        return finalize(Facts(bundle, registry_snapshot, now))
    policy = None if spec is None else policy_for(spec, bundle.status.last_applied_tag)
    facts = Facts(bundle, registry_snapshot, now, policy)
    step = Step(bundle.status)
    for decide in SUB_DECIDERS:
        step = decide(facts, step)
        if step.verdict is not None:
            break
    return conclude(facts, step)


def check_spec(facts: Facts, step: Step) -> Step:
    """A spec that does not parse or breaks a cross-field rule stalls the bundle."""
    bundle = facts.bundle
    spec = bundle.spec
    problems = (
        bundle.spec_problems if spec is None else spec_problems(bundle.meta, spec, facts.policy)
    )
    if spec is not None and not problems:
        return step
    return step.then(
        verdict=Verdict(
            phase="Failed",
            ready="False",
            reason="InvalidSpec",
            message=deploy.describe(problems),
            stalled=True,
        )
    )


def reset_attempts(facts: Facts, step: Step) -> Step:
    """A new ``werf.io/retry`` value or a spec change gives the version fresh attempts
    (and drift corrections, after a spec change)."""
    meta, old = facts.bundle.meta, facts.bundle.status
    retry = meta.annotation(names.RETRY)
    if retry is not None and retry != old.last_handled_retry:
        return step.then(
            deploy.forget_remediation(step.status.replace(attempts=0, last_handled_retry=retry)),
            timeline=(RetryRequested(value=retry),),
        )
    if old.observed_generation and meta.generation != old.observed_generation:
        fresh = jobs.fresh_corrections(step.status.replace(attempts=0), facts.now, meta.generation)
        return step.then(deploy.forget_remediation(fresh))
    return step


def resolve_target(facts: Facts, step: Step) -> Step:
    """Record the namespace the bundle deploys into."""
    target = jobspec.target_namespace(facts.bundle.meta, facts.spec)
    if step.status.resolved_target_namespace == target:
        return step
    return step.then(step.status.replace(resolved_target_namespace=target))


def suspend(facts: Facts, step: Step) -> Step:
    """``spec.suspend`` stops polls and deploys (drift checks already recorded stay)."""
    if not facts.spec.suspend:
        return step
    return step.then(
        step.status.replace(next_poll_time=None),
        verdict=Verdict(
            phase="Suspended", ready="False", reason="Suspended", message="spec.suspend is true"
        ),
    )


SUB_DECIDERS: tuple[Callable[[Facts, Step], Step], ...] = (
    jobs.record,  # the Jobs' results into history; lastApplied* from the newest success
    reset_attempts,  # werf.io/retry, a spec change
    check_spec,  # InvalidSpec concludes
    resolve_target,
    drift.record,  # finished drift checks into the Drifted condition
    suspend,  # Suspended concludes
    polling.requested,  # werf.io/reconcile-at, handled once
    polling.poll,  # the registry snapshot: selection, poll record, failures
    deploy.hold_rollback,  # werf.io/rollback-to-version; an unknown tag concludes
    deploy.decide,  # always concludes: a verdict, a Job or a drift check
)


def conclude(facts: Facts, step: Step) -> Plan:
    """The verdict in phase and conditions, the phase's timeline entry, the Events the
    timeline asks for, and the status write unless only the poll record moved."""
    bundle = facts.bundle
    meta, old = bundle.meta, bundle.status
    verdict = step.verdict
    assert verdict is not None  # deploy.decide always concludes
    # Phase, the verdict's conditions and the two stories' in one new status, if any.
    status = step.status
    conditions = verdict_conditions(old, status, verdict, facts.now, meta.generation)
    recorded = conditions is None
    stories = _stories(facts, status, status.conditions if conditions is None else conditions)
    if not recorded or stories is not status.conditions:
        status = status.replace(
            phase=verdict.phase, conditions=stories, observed_generation=meta.generation
        )
    timeline = step.timeline
    if old.phase != status.phase:
        ready = status.condition(names.READY)
        # A Job created (or succeeded) in this pass already tells the move to Syncing
        # (or Synced): one Event per transition. Every other move has its own Event.
        told = {
            "Syncing": any(isinstance(e, JobCreated) for e in timeline),
            "Synced": any(isinstance(e, JobSucceeded) for e in timeline),
        }.get(status.phase, False)
        phase = PhaseChanged(
            from_=old.phase,
            to=status.phase,
            message=ready.message if ready is not None else "",
            announce=not told,
        )
        timeline = (*timeline, phase)
    actions: list[Action] = []
    if names.FINALIZER not in meta.finalizers:
        actions.append(
            AddFinalizer(
                namespace=meta.namespace,
                name=meta.name,
                resource_version=meta.resource_version,
                finalizers=(*meta.finalizers, names.FINALIZER),
            )
        )
    actions += step.actions
    polls = PollRecord.of(status)
    actions += _write(facts, old, status)
    if timeline:
        actions += _events(facts, timeline)
    return _plan(facts, actions, timeline, step.wake, polls)


def _stories(facts: Facts, status: BundleStatus, conditions: Conditions) -> Conditions:
    """``conditions`` with ``RegistryReachable`` and ``Released`` beside ``Ready``, as
    ``status`` tells them: the registry's story and the release's, told apart
    (``Ready`` summarises both, as kstatus reads it)."""
    now, generation = facts.now, facts.bundle.meta.generation
    old = facts.bundle.status
    if (status is old or _STORY(old) == _STORY(status)) and _told(old, status, generation):
        return conditions  # nothing the two conditions read has moved (most passes)
    reachable: tuple[ConditionStatus, str, str]
    released: tuple[ConditionStatus, str, str]
    if status.consecutive_failures > 0:
        reachable = ("False", "RegistryUnavailable", status.last_error_message or "")
    elif status.last_poll_time is not None:
        reachable = ("True", "Polled", "the repository answered the last poll")
    else:
        reachable = ("Unknown", "Initializing", "waiting for the first registry poll")
    value, reason, message = reachable
    conditions = with_condition(
        conditions, names.REGISTRY_REACHABLE, value, reason, message, now, generation
    )
    newest = status.version_history[0] if status.version_history else None
    if status.active_job_name is not None:
        released = ("Unknown", "Progressing", f"job {status.active_job_name} is applying")
    elif newest is not None and newest.result in ("Failed", "Lost"):
        released = ("False", "JobFailed", f"job {newest.job_name} for tag {newest.tag} failed")
    elif status.last_applied_tag is not None:
        released = (
            "True",
            "Succeeded",
            f"applied tag {status.last_applied_tag} ({status.last_applied_digest})",
        )
    else:
        released = ("Unknown", "NotApplied", "no version applied yet")
    value, reason, message = released
    return with_condition(conditions, names.RELEASED, value, reason, message, now, generation)


# What RegistryReachable and Released are made of.
_STORY = operator.attrgetter(
    "consecutive_failures",
    "last_error_message",
    "active_job_name",
    "version_history",
    "last_applied_tag",
    "last_applied_digest",
)


def _told(old: BundleStatus, new: BundleStatus, generation: int) -> bool:
    """``old`` has both story conditions, for this generation, and the registry's says
    whether ``new`` has seen a poll (its Unknown is only for before the first one)."""
    reachable = old.condition(names.REGISTRY_REACHABLE)
    released = old.condition(names.RELEASED)
    return (
        reachable is not None
        and released is not None
        and reachable.observed_generation == released.observed_generation == generation
        and (reachable.status == "Unknown") == (new.last_poll_time is None)
    )


def _write(facts: Facts, old: BundleStatus, new: BundleStatus) -> list[Action]:
    """The status write (the pass's commit point: after Jobs, before Events), unless
    nothing but the poll record moved: a quiet pass writes nothing."""
    if not _changed_beyond_polls(old, new):
        return []
    meta = facts.bundle.meta
    return [
        WriteStatus(
            namespace=meta.namespace,
            name=meta.name,
            resource_version=meta.resource_version,
            status=new,
        )
    ]


_POLL_FIELDS = frozenset(f.name for f in attrs.fields(PollRecord))
_OTHERS = operator.attrgetter(
    *(f.name for f in attrs.fields(BundleStatus) if f.name not in _POLL_FIELDS)
)


def _changed_beyond_polls(old: BundleStatus, new: BundleStatus) -> bool:
    """Whether ``new`` differs from ``old`` in more than the poll record (field by field:
    no status is built to compare)."""
    if old is new:
        return False
    return bool(_OTHERS(old) != _OTHERS(new))


def _events(facts: Facts, timeline: Iterable[Entry]) -> list[EmitEvent]:
    meta = facts.bundle.meta
    out = []
    for entry in timeline:
        event = entry.event()
        if event is not None:
            out.append(
                EmitEvent(
                    namespace=meta.namespace,
                    name=meta.name,
                    uid=meta.uid,
                    type=event.type,
                    reason=event.reason,
                    message=event.message,
                )
            )
    return out


def _plan(
    facts: Facts,
    actions: Iterable[Action],
    timeline: Iterable[Entry],
    wake: Iterable[datetime],
    polls: PollRecord | None,
) -> Plan:
    now = facts.now
    soonest = None  # the earliest moment still to come
    for moment in wake:
        if moment > now and (soonest is None or moment < soonest):
            soonest = moment
    return Plan(
        actions=tuple(actions),
        requeue_after=soonest - now if soonest is not None else None,
        timeline=tuple(timeline),
        polls=polls,
    )


def finalize(facts: Facts) -> Plan:
    """A bundle being deleted: uninstall the release when asked (``uninstall``), delete
    its Jobs, then remove the finalizer."""
    bundle = facts.bundle
    meta, spec, old = bundle.meta, bundle.spec, bundle.status
    if names.FINALIZER not in meta.finalizers:
        return Plan()
    skip = meta.annotation(names.SKIP_UNINSTALL) == "true"
    step = Step(status=old)
    actions: list[Action] = []
    if (
        spec is not None
        and spec.converge.deletion_policy == "Uninstall"
        and not skip
        and old.uninstall != "Done"
    ):
        step = uninstall.step(facts, step)
        actions += step.actions
        actions += _write(facts, old, step.status)
        actions += _events(facts, step.timeline)
        if step.status.uninstall != "Done":
            return _plan(facts, actions, step.timeline, step.wake, None)
    timeline = list(step.timeline)
    found = sorted(bundle.jobs, key=lambda j: (j.namespace, j.name))
    actions += [DeleteJob(namespace=j.namespace, name=j.name) for j in found]
    if found:
        timeline.append(Finalizing(jobs=len(found)))
    else:
        actions.append(
            RemoveFinalizer(
                namespace=meta.namespace,
                name=meta.name,
                resource_version=meta.resource_version,
                finalizers=tuple(f for f in meta.finalizers if f != names.FINALIZER),
            )
        )
        timeline.append(Finalized())
    return _plan(facts, actions, timeline, step.wake, None)
