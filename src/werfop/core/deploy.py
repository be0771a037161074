"""Deploys: hold a requested rollback, then classify the bundle's situation and look
its outcome up in one table.

Role: ``hold_rollback`` pins ``werf.io/rollback-to-version`` to a tag from the history.
``decide`` first drops a desired tag the spec no longer accepts, then ``classify``
names the situation (a Job running, inputs missing, the registry failing, nothing new,
a redeploy asked for, up to date, retries exhausted, a retry waiting, or a deploy with
its cause), and ``OUTCOMES`` maps each situation to what follows: a verdict, a Job, or
a drift check (as helm-controller's ``DetermineReleaseState`` then ``actionForState``).
Must not: read the registry (``polling``) or fold Jobs into history (``jobs``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple

from werfop.core import drift, jobs, names, schedule
from werfop.core.jobs import DeployKey, key_of
from werfop.core.model import BundleSpec, BundleStatus, FieldProblem, HistoryEntry
from werfop.core.polling import registry_failing
from werfop.core.semver import parse_version
from werfop.core.status import Verdict
from werfop.core.step import Facts, Step
from werfop.core.timeline import Cause, DesiredDropped, RedeployRequested, RollbackHeld
from werfop.core.versions import matches


def hold_rollback(facts: Facts, step: Step) -> Step:
    """``werf.io/rollback-to-version`` holds a version from the history, whatever the
    registry offers and whatever the downgrade guard says, while it is set."""
    tag = facts.bundle.meta.annotation(names.ROLLBACK_TO)
    if tag is None:
        return step
    status = step.status
    known = [e for e in status.version_history if e.tag == tag]
    if not known:
        return step.then(
            verdict=Verdict(
                phase="Failed",
                ready="False",
                reason="RollbackUnavailable",
                message=(
                    f"annotation {names.ROLLBACK_TO}: tag {tag!r} is not in status.versionHistory"
                ),
                stalled=True,
            )
        )
    entry = next((e for e in known if e.result == "Succeeded"), known[0])
    held = status.replace(desired_tag=tag, desired_digest=entry.digest)
    told = (RollbackHeld(tag=tag),) if facts.bundle.status.desired_tag != tag else ()
    return step.then(held, timeline=told)


class Situation(enum.Enum):
    APPLYING = "a Job of the bundle is running"
    INPUTS_MISSING = "a values source, credential or ServiceAccount is missing"
    REGISTRY_FAILING = "the registry failed too many polls in a row"
    NOTHING_NEW = "no deployable version is desired"
    REDEPLOY = "a new werf.io/redeploy-at value, on the applied version"
    UP_TO_DATE = "the desired version is the applied one"
    EXHAUSTED = "the desired deploy failed maxAttempts times"
    REMEDIATE = "the desired deploy failed maxAttempts times; remediation rolls back"
    REMEDIATED = "the desired deploy was remediated; it waits for a new version"
    BACKING_OFF = "the desired deploy failed; its retry waits for the backoff"
    DEPLOY = "a deploy is due"


class Assessment(NamedTuple):
    """The situation ``classify`` names, with what its outcome needs. (A named tuple:
    every pass that reaches ``decide`` builds one.)"""

    situation: Situation
    desired: DeployKey | None = None
    cause: Cause = "NewVersion"
    last: HistoryEntry | None = None  # the last try of the desired deploy
    retry_at: datetime | None = None


def decide(facts: Facts, step: Step) -> Step:
    """Drop a desired tag the spec no longer accepts, classify, and look up the outcome."""
    status = step.status
    if (
        status.active_job_name is None
        and status.desired_tag is not None
        and not _acceptable(facts, status, status.desired_tag)
    ):
        # Chosen by an earlier poll (under an older spec, or before a Job that just
        # succeeded moved lastAppliedTag): never deploy it now; keep what runs, if that
        # still matches the spec.
        step = step.then(
            status.replace(desired_tag=None, desired_digest=None),
            timeline=(DesiredDropped(tag=status.desired_tag),),
        )
    stale = remediated(step.status)
    if stale is not None and step.status.active_job_name is None:
        desired_now = (
            step.status.desired_tag,
            step.status.desired_digest,
            facts.bundle.inputs.values_hash,
        )
        if stale != desired_now:
            # Something new is desired: the remediated deploy holds nothing back any more.
            step = step.then(forget_remediation(step.status))
    redeploy = facts.bundle.meta.annotation(names.REDEPLOY_AT)
    assessment = classify(facts, step.status)
    if (
        assessment.situation is not Situation.APPLYING
        and redeploy is not None
        and redeploy != step.status.last_handled_redeploy_at
        and assessment.desired is not None
    ):
        # A new value is handled once, whatever it leads to.
        step = step.then(step.status.replace(last_handled_redeploy_at=redeploy))
    return OUTCOMES[assessment.situation](facts, step, assessment)


def forget_remediation(status: BundleStatus) -> BundleStatus:
    """A new version, a new ``werf.io/retry`` value or a spec change: the remediated
    deploy may run again."""
    if remediated(status) is None:
        return status
    return status.replace(remediated_tag=None, remediated_digest=None, remediated_values_hash=None)


def classify(facts: Facts, status: BundleStatus) -> Assessment:
    """Name the situation of a valid, unsuspended bundle (first match wins)."""
    bundle, spec = facts.bundle, facts.spec
    if status.active_job_name is not None:
        return Assessment(situation=Situation.APPLYING)
    if bundle.inputs.problems:
        return Assessment(situation=Situation.INPUTS_MISSING)
    if registry_failing(status):
        return Assessment(situation=Situation.REGISTRY_FAILING)
    if status.desired_tag is None or status.desired_digest is None:
        return Assessment(situation=Situation.NOTHING_NEW)
    desired: DeployKey = (status.desired_tag, status.desired_digest, bundle.inputs.values_hash)
    applied = (status.last_applied_tag, status.last_applied_digest, status.last_applied_values_hash)
    redeploy = bundle.meta.annotation(names.REDEPLOY_AT)
    if redeploy is not None and redeploy != status.last_handled_redeploy_at and desired == applied:
        return Assessment(situation=Situation.REDEPLOY, desired=desired, cause="Redeploy")
    values_only = (
        not spec.converge.redeploy_on_values_change
        and status.last_applied_values_hash is not None
        and desired[:2] == applied[:2]
    )
    newest = status.version_history[0] if status.version_history else None
    # An apply of another version ran (and failed) after the last success: the release
    # may be half-upgraded, so going back to the applied version applies it again.
    half_applied = (
        newest is not None
        and newest.result in ("Failed", "Lost")
        and key_of(newest)[:2] != applied[:2]
    )
    if (desired == applied or values_only) and not half_applied:
        return Assessment(situation=Situation.UP_TO_DATE, desired=desired)
    if desired == remediated(status):
        return Assessment(situation=Situation.REMEDIATED, desired=desired)
    tries = [e for e in status.version_history if key_of(e) == desired]
    last = tries[0] if tries else None
    if last is not None and last.result in ("Failed", "Lost"):
        if status.attempts >= spec.converge.max_attempts:
            if (
                spec.converge.remediation == "Rollback"
                and applied[0] is not None
                and applied[1] is not None
                and desired[:2] != applied[:2]
            ):
                return Assessment(situation=Situation.REMEDIATE, desired=desired, last=last)
            return Assessment(situation=Situation.EXHAUSTED, desired=desired, last=last)
        if last.result == "Failed" and status.attempts > 0:
            # After a reset (spec change, werf.io/retry) the next attempt goes now.
            delay = schedule.jittered(
                schedule.job_backoff(status.attempts), bundle.meta.uid, last.attempt
            )
            retry_at = (last.finished_at or facts.now) + delay
            if retry_at > facts.now:
                return Assessment(
                    situation=Situation.BACKING_OFF, desired=desired, last=last, retry_at=retry_at
                )
    cause = _cause(facts, status, desired, applied, last, half_applied)
    return Assessment(situation=Situation.DEPLOY, desired=desired, cause=cause, last=last)


def _cause(
    facts: Facts,
    status: BundleStatus,
    desired: DeployKey,
    applied: tuple[str | None, str | None, str | None],
    last: HistoryEntry | None,
    half_applied: bool,
) -> Cause:
    newest = status.version_history[0].tag if status.version_history else None
    # The tag werf.io/rollback-to-version holds; once its own Job ran (newest), a
    # further Job for it is a retry, unless another version's failed apply came after.
    if facts.bundle.meta.annotation(names.ROLLBACK_TO) == desired[0] and (
        half_applied or desired[0] != newest
    ):
        return "Rollback"
    if last is not None and last.result in ("Failed", "Lost"):
        return "Retry"
    if desired == applied:
        return "Repair"
    if applied[0] is None:
        return "Install"
    if desired[0] != applied[0]:
        return "NewVersion"
    if desired[1] != applied[1]:
        return "DigestChanged"
    return "ValuesChanged"


# -- outcomes ------------------------------------------------------------------------------


def _applying(facts: Facts, step: Step, a: Assessment) -> Step:
    status = step.status
    entry = next(e for e in status.version_history if e.job_name == status.active_job_name)
    return step.then(
        verdict=Verdict(
            phase="Syncing",
            ready="Unknown",
            reason="Progressing",
            message=f"job {entry.job_name} is applying tag {entry.tag}",
            reconciling=True,
        )
    )


def _inputs_missing(facts: Facts, step: Step, a: Assessment) -> Step:
    return step.then(
        verdict=Verdict(
            phase="Failed",
            ready="False",
            reason="InputsUnavailable",
            message=describe(facts.bundle.inputs.problems),
            stalled=True,
        )
    )


def _registry_failing(facts: Facts, step: Step, a: Assessment) -> Step:
    return step.then(
        verdict=Verdict(
            phase="Failed",
            ready="False",
            reason="RegistryUnavailable",
            message=step.status.last_error_message or "the registry is unavailable",
        )
    )


def _nothing_new(facts: Facts, step: Step, a: Assessment) -> Step:
    # What runs now stays, if the spec still accepts it (a fallback recorded as
    # "desired" could name a digest an active Job is replacing, and redeploy it).
    status = step.status
    running = status.last_applied_tag
    if running is not None and _acceptable(facts, status, running):
        return step.then(verdict=synced_verdict(status))
    return step.then(verdict=_idle_verdict(facts, status))


def _redeploy(facts: Facts, step: Step, a: Assessment) -> Step:
    assert a.desired is not None
    value = step.status.last_handled_redeploy_at or ""
    noted = step.then(step.status.replace(attempts=0), timeline=(RedeployRequested(value=value),))
    return jobs.start(facts, noted, a.desired, "Redeploy")


def _up_to_date(facts: Facts, step: Step, a: Assessment) -> Step:
    if jobs.checking(facts.bundle):
        return step.then(verdict=synced_verdict(step.status))  # a drift check is running
    checked = drift.check(facts, step)
    if checked.verdict is not None:
        return checked
    return checked.then(verdict=synced_verdict(step.status))


def _exhausted(facts: Facts, step: Step, a: Assessment) -> Step:
    assert a.desired is not None
    return step.then(
        verdict=Verdict(
            phase="Failed",
            ready="False",
            reason="RetriesExhausted",
            message=(
                f"tag {a.desired[0]} failed {step.status.attempts} times "
                f"(spec.converge.maxAttempts); waiting for a new version, a spec "
                f"change or a new value of the {names.RETRY} annotation"
            ),
            stalled=True,
        )
    )


def _remediate(facts: Facts, step: Step, a: Assessment) -> Step:
    """Apply the last applied version again, and remember the failed deploy so that it
    is not tried again until a new version, a spec change or ``werf.io/retry``."""
    assert a.desired is not None
    status = step.status
    tag, digest = status.last_applied_tag, status.last_applied_digest
    assert tag is not None and digest is not None
    marked = status.replace(
        remediated_tag=a.desired[0],
        remediated_digest=a.desired[1],
        remediated_values_hash=a.desired[2],
    )
    key = (tag, digest, facts.bundle.inputs.values_hash)
    return jobs.start(facts, step.then(marked), key, "Remediation")


def _remediated(facts: Facts, step: Step, a: Assessment) -> Step:
    assert a.desired is not None
    status = step.status
    return step.then(
        verdict=Verdict(
            phase="Failed",
            ready="False",
            reason="Remediated",
            message=(
                f"tag {a.desired[0]} failed {facts.spec.converge.max_attempts} times "
                f"(spec.converge.maxAttempts) and was rolled back to tag "
                f"{status.last_applied_tag} (spec.converge.remediation); waiting for a new "
                f"version, a spec change or a new value of the {names.RETRY} annotation"
            ),
            stalled=True,
        )
    )


def remediated(status: BundleStatus) -> DeployKey | None:
    """The deploy that remediation rolled back from, if any."""
    if status.remediated_tag is None or status.remediated_digest is None:
        return None
    return (status.remediated_tag, status.remediated_digest, status.remediated_values_hash or "")


def _backing_off(facts: Facts, step: Step, a: Assessment) -> Step:
    assert a.desired is not None and a.last is not None and a.retry_at is not None
    return step.then(
        wake=(a.retry_at,),
        verdict=Verdict(
            phase="Syncing",
            ready="False",
            reason="RetryScheduled",
            message=(
                f"job {a.last.job_name} for tag {a.desired[0]} failed; attempt "
                f"{step.status.attempts + 1} of {facts.spec.converge.max_attempts} at "
                f"{jobs.rfc3339(a.retry_at)}"
            ),
            reconciling=True,
        ),
    )


def _deploy(facts: Facts, step: Step, a: Assessment) -> Step:
    assert a.desired is not None
    return jobs.start(facts, step, a.desired, a.cause)


OUTCOMES: dict[Situation, Callable[[Facts, Step, Assessment], Step]] = {
    Situation.APPLYING: _applying,
    Situation.INPUTS_MISSING: _inputs_missing,
    Situation.REGISTRY_FAILING: _registry_failing,
    Situation.NOTHING_NEW: _nothing_new,
    Situation.REDEPLOY: _redeploy,
    Situation.UP_TO_DATE: _up_to_date,
    Situation.EXHAUSTED: _exhausted,
    Situation.REMEDIATE: _remediate,
    Situation.REMEDIATED: _remediated,
    Situation.BACKING_OFF: _backing_off,
    Situation.DEPLOY: _deploy,
}


# -- verdicts and rules ------------------------------------------------------------------


def synced_verdict(status: BundleStatus) -> Verdict:
    message = f"applied tag {status.last_applied_tag} ({status.last_applied_digest})"
    if status.soak is not None:
        message += f"; tag {status.soak.tag} is soaking (spec.registry.minAge)"
    return Verdict(phase="Synced", ready="True", reason="Succeeded", message=message)


def _idle_verdict(facts: Facts, status: BundleStatus) -> Verdict:
    if status.last_poll_time is None:
        return Verdict(
            phase="Pending",
            ready="Unknown",
            reason="Initializing",
            message="waiting for the first registry poll",
            reconciling=True,
        )
    if status.soak is not None:
        matures = status.soak.since + facts.spec.registry.min_age
        return Verdict(
            phase="Pending",
            ready="False",
            reason="Soaking",
            message=(
                f"tag {status.soak.tag} is younger than spec.registry.minAge; it deploys "
                f"after {jobs.rfc3339(matures)}"
            ),
        )
    return Verdict(
        phase="Pending",
        ready="False",
        reason="NoMatchingVersion",
        message="no tag in the repository matches the version policy",
    )


def _acceptable(facts: Facts, status: BundleStatus, tag: str) -> bool:
    """May ``tag`` be deployed under the current spec and the current
    ``lastAppliedTag``? (An explicit rollback is always acceptable.)"""
    spec: BundleSpec = facts.spec
    if facts.bundle.meta.annotation(names.ROLLBACK_TO) == tag:
        return True
    if not matches(tag, facts.policy_under(status.last_applied_tag)):
        return False
    if tag == status.last_applied_tag:
        return True
    if spec.registry.tag is not None or spec.registry.allow_downgrade:
        return True
    wanted, applied = parse_version(tag), parse_version(status.last_applied_tag or "")
    return wanted is None or applied is None or wanted >= applied


def describe(problems: tuple[FieldProblem, ...]) -> str:
    return "; ".join(f"{p.path}: {p.message}" for p in problems) or "the object is invalid"
