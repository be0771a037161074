"""The bundle's Jobs: fold the observed ones into the status, and start a deploy.

Role: ``record`` adopts Jobs the status does not know, records the results of finished
ones (and their log tails, redacted), marks vanished ones Lost, takes ``lastApplied*``
from the newest succeeded Job, prunes Jobs nothing needs and expires old log
ConfigMaps. ``start`` creates the apply Job for a deploy key. ``pending_checks`` and
``jobs_needing_logs`` tell the runtime which logs a pass will want.
Must not: choose what to deploy (``deploy``) or when to check drift (``drift``).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from werfop.core import jobspec, names
from werfop.core.actions import Action, CreateJob, DeleteJob, DeleteLogs, SaveLogs
from werfop.core.model import Bundle, BundleStatus, HistoryEntry, JobObservation
from werfop.core.status import Verdict, set_condition
from werfop.core.step import Facts, Step
from werfop.core.timeline import (
    Cause,
    Entry,
    JobAdopted,
    JobCreated,
    JobFailed,
    JobPruned,
    JobSucceeded,
)

MAX_HISTORY = 10
STATUS_LOG_BYTES = 5 * 1024
CONFIG_MAP_LOG_BYTES = 1024 * 1024

DeployKey = tuple[str, str, str]  # (tag, digest, values hash)


def key_of(entry: HistoryEntry | JobObservation) -> DeployKey:
    return (entry.tag, entry.digest, entry.values_hash)


# -- what the runtime reads before a pass -------------------------------------------------


def pending_checks(
    jobs: tuple[JobObservation, ...], last_check: datetime | None
) -> list[JobObservation]:
    """Finished drift-check (plan) Jobs the status has not recorded yet, oldest first."""
    done = [j for j in jobs if j.kind == "plan" and j.state != "Active" and j.finished_at]
    if not done:
        return done  # no check has finished (most passes)
    fresh = [
        j for j in done if last_check is None or (j.finished_at and j.finished_at > last_check)
    ]
    return sorted(fresh, key=lambda j: (j.finished_at or datetime.min, j.name))


def jobs_needing_logs(
    status: BundleStatus, jobs: tuple[JobObservation, ...]
) -> tuple[JobObservation, ...]:
    """Finished Jobs whose result the status has not recorded yet: the runtime reads
    their log tail before the pass so that the pass can keep it."""
    recorded = {e.job_name for e in status.version_history if e.result != "Running"}
    checks = pending_checks(jobs, status.last_drift_check_time)
    evicted = eviction_test(status)
    applies = [
        j
        for j in jobs
        if j.kind == "apply" and j.state != "Active" and j.name not in recorded and not evicted(j)
    ]
    return tuple(applies + checks)


def checking(bundle: Bundle) -> bool:
    """Whether a drift check (plan) Job of the bundle is running: one active Job per
    bundle, so deploys and further checks wait for it. (A loop, not ``any()`` over a
    generator: every deciding pass asks, and the generator costs more than the jobs.)"""
    for job in bundle.jobs:  # noqa: SIM110
        if job.kind == "plan" and job.state == "Active":
            return True
    return False


def is_evicted(status: BundleStatus, job: JobObservation) -> bool:
    """A finished Job older than everything the full history keeps: it was recorded
    once and pushed out by newer Jobs (it lives on until its TTL). Not news."""
    return eviction_test(status)(job)


def eviction_test(status: BundleStatus) -> Callable[[JobObservation], bool]:
    """``is_evicted`` for one status, with the history read once: a bundle keeps its
    finished Jobs for days (``logRetentionDays``) and each pass asks about every one."""
    history = status.version_history
    if len(history) < MAX_HISTORY:
        return _never
    known = {e.job_name for e in history}
    oldest = min(e.started_at for e in history)

    def evicted(job: JobObservation) -> bool:
        if job.state == "Active" or job.name in known:
            return False
        return job.started_at is None or job.started_at <= oldest

    return evicted


def _never(job: JobObservation) -> bool:
    return False


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """Replace every known secret value (longest first) with a marker."""
    for secret in sorted((s for s in secrets if len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, "<redacted>")
    return text


def fresh_corrections(status: BundleStatus, now: datetime, generation: int) -> BundleStatus:
    """A new version or a spec change: drift corrections start anew."""
    status = status.replace(drift_corrections=0)
    return set_condition(status, names.DRIFT_CORRECTION_FAILED, None, "", "", now, generation)


# -- recording ----------------------------------------------------------------------------


def record(facts: Facts, step: Step) -> Step:
    """Fold the observed Jobs into history: adopt unknown ones, record results, mark
    vanished ones Lost, and take lastApplied* from the newest succeeded Job."""
    bundle, now = facts.bundle, facts.now
    old = step.status
    recorded = old.version_history
    history = {e.job_name: e for e in recorded}
    newest_key = recorded[0] if recorded else None
    attempts = old.attempts
    observed = {j.name: j for j in bundle.jobs if j.kind == "apply"}
    finished: list[tuple[HistoryEntry, JobObservation | None]] = []
    actions: list[Action] = []
    timeline: list[Entry] = []
    # Jobs pushed out of a full history are not news: leave them out before sorting
    # (a bundle keeps a week of Jobs, the history ten).
    evicted = eviction_test(old)
    news = [j for j in observed.values() if j.name in history or not evicted(j)]
    news.sort(key=_BY_ATTEMPT)
    for job in news:
        entry = history.get(job.name)
        if entry is None:
            # Created by an earlier pass whose status write was lost, or never seen.
            entry = HistoryEntry(
                tag=job.tag,
                digest=job.digest,
                values_hash=job.values_hash,
                job_name=job.name,
                attempt=job.attempt,
                started_at=job.started_at or now,
            )
            same_key = newest_key is not None and key_of(newest_key) == key_of(job)
            attempts = attempts + 1 if same_key else 1
            newest_key = entry
            timeline.append(JobAdopted(job=job.name, tag=job.tag, attempt=job.attempt))
            if job.state == "Active" and old.active_job_name != job.name:
                actions += _ensure_job_inputs(bundle, job)
            history[job.name] = entry
        if entry.result == "Running" and job.state != "Active":
            entry = attrs.evolve(entry, result=job.state, finished_at=job.finished_at or now)
            finished.append((entry, job))
            history[job.name] = entry
    for name, entry in history.items():  # (replacing a value keeps the dict's size)
        if entry.result == "Running" and name not in observed:
            entry = attrs.evolve(entry, result="Lost", finished_at=now)
            history[name] = entry
            finished.append((entry, None))
    if len(history) > 1:
        kept = tuple(sorted(history.values(), key=_BY_START, reverse=True)[:MAX_HISTORY])
    else:
        kept = tuple(history.values())
    active_name = active_namespace = None
    for job in observed.values():
        if job.state == "Active":
            active_name, active_namespace = job.name, job.namespace
            break
    last_job_status = old.last_job_status
    if kept:
        newest = kept[0].result
        last_job_status = "Failed" if newest == "Lost" else newest
    status = old
    if (
        kept != recorded
        or attempts != old.attempts
        or active_name != old.active_job_name
        or active_namespace != old.active_job_namespace
        or last_job_status != old.last_job_status
    ):
        status = old.replace(
            version_history=kept,
            attempts=attempts,
            active_job_name=active_name,
            active_job_namespace=active_namespace,
            last_job_status=last_job_status,
        )
    if finished:
        finished.sort(key=lambda f: (f[0].finished_at or now, f[0].job_name))
    for done, seen in finished:
        status, more, entries = _job_finished(facts, status, done, seen)
        actions += more
        timeline += entries
    pruned = _prune(bundle, old, kept)
    expired, wake = _expire_logs(facts)
    if status is old and not (actions or timeline or pruned or expired or wake):
        return step  # nothing new about the Jobs (most passes)
    return step.then(
        status,
        actions=(*actions, *(a for a, _ in pruned), *expired),
        timeline=(*timeline, *(e for _, e in pruned)),
        wake=wake,
    )


# The orders the history folds Jobs in and keeps its entries in (newest first).
_BY_ATTEMPT = operator.attrgetter("attempt", "name")
_BY_START = operator.attrgetter("started_at", "job_name")


def _prune(
    bundle: Bundle, old: BundleStatus, kept: tuple[HistoryEntry, ...]
) -> list[tuple[DeleteJob, JobPruned]]:
    """The finished Jobs nothing needs any more, as CronJob's history limits do: an
    apply Job that ``versionHistory`` no longer names (the history folds in every Job
    first, so such a Job is older than the ten newest deploys), and a drift check older
    than the newest one recorded. Their results and logs were recorded when they
    finished; their TTL (``logRetentionDays``) stays the backstop. Without this a bundle
    keeps every Job and its pod for days: a week at a release every 3 hours is 56 per
    bundle, 56,000 pods for a thousand bundles."""
    keep = {e.job_name for e in kept}
    checked = old.last_drift_check_time
    out = []
    for job in bundle.jobs:
        if job.state == "Active" or job.name in keep:
            continue
        if job.kind == "apply":
            done = True
        elif job.kind == "plan":
            finished = job.finished_at
            done = checked is not None and finished is not None and finished < checked
        else:
            continue  # uninstall Jobs belong to the finalizer
        if done:
            out.append(
                (
                    DeleteJob(namespace=job.namespace, name=job.name),
                    JobPruned(job=job.name, kind=job.kind),
                )
            )
    return out


def _ensure_job_inputs(bundle: Bundle, job: JobObservation) -> list[Action]:
    """An active Job the status never recorded: the pass that created it may have died
    before creating its inputs Secret. Re-issue the (idempotent) creation when the
    inputs are still the ones the Job was made for."""
    spec = bundle.spec
    if spec is None or job.values_hash != bundle.inputs.values_hash:
        return []
    manifest, secret_name, files = jobspec.render_apply_job(
        bundle,
        spec,
        tag=job.tag,
        digest=job.digest,
        values_hash=job.values_hash,
        attempt=job.attempt,
    )
    if manifest["metadata"]["name"] != job.name:
        return []
    return [CreateJob(job=manifest, secret_name=secret_name, secret_files=files)]


def _job_finished(
    facts: Facts, status: BundleStatus, entry: HistoryEntry, job: JobObservation | None
) -> tuple[BundleStatus, list[Action], list[Entry]]:
    bundle, now = facts.bundle, facts.now
    actions: list[Action] = []
    timeline: list[Entry] = []
    if entry.result == "Succeeded":
        if (entry.tag, entry.digest) != (status.last_applied_tag, status.last_applied_digest):
            status = fresh_corrections(status, now, bundle.meta.generation)
        status = status.replace(
            last_applied_tag=entry.tag,
            last_applied_digest=entry.digest,
            last_applied_values_hash=entry.values_hash,
            last_sync_time=entry.finished_at,
            attempts=0,
        )
        timeline.append(JobSucceeded(job=entry.job_name, tag=entry.tag))
    else:
        if job is not None and job.message:
            why = job.message
        else:
            why = "the Job disappeared while it was running" if job is None else "the Job failed"
        timeline.append(JobFailed(job=entry.job_name, tag=entry.tag, reason=why))
    if job is not None and job.log_tail is not None:
        secrets = tuple(s.value for s in bundle.inputs.secret_values)
        text = redact(job.log_tail, secrets)
        status = status.replace(last_job_logs=_utf8_tail(text, STATUS_LOG_BYTES))
        if len(text.encode()) > STATUS_LOG_BYTES:
            actions.append(SaveLogs(config_map=_logs_config_map(facts, entry, text)))
    return status, actions, timeline


def _logs_config_map(facts: Facts, entry: HistoryEntry, text: str) -> dict[str, Any]:
    meta = facts.bundle.meta
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": jobspec.logs_config_map_name(entry.job_name),
            "namespace": meta.namespace,
            "labels": {**jobspec.bundle_labels(meta), names.LABEL_JOB_KIND: "logs"},
            "annotations": {
                names.ANNOTATION_TAG: entry.tag,
                names.ANNOTATION_JOB: entry.job_name,
                names.ANNOTATION_FINISHED_AT: rfc3339(entry.finished_at or facts.now),
            },
            "ownerReferences": [jobspec.owner_reference(meta)],
        },
        "data": {"output": _utf8_tail(text, CONFIG_MAP_LOG_BYTES)},
    }


def _expire_logs(facts: Facts) -> tuple[list[DeleteLogs], list[datetime]]:
    spec = facts.bundle.spec
    if spec is None or not facts.bundle.log_maps:
        return [], []
    keep = timedelta(days=spec.converge.log_retention_days)
    deletes, wake = [], []
    for log in facts.bundle.log_maps:
        expires = log.finished_at + keep
        if expires <= facts.now:
            deletes.append(DeleteLogs(namespace=log.namespace, name=log.name))
        else:
            wake.append(expires)
    return deletes, wake


def _utf8_tail(text: str, limit: int) -> str:
    """The last ``limit`` bytes of ``text``, cut on a character boundary."""
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[-limit:].decode("utf-8", errors="ignore")


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- starting a deploy --------------------------------------------------------------------


def start(facts: Facts, step: Step, desired: DeployKey, cause: Cause) -> Step:
    """Create the apply Job for ``desired`` (or wait for a running drift check: one
    active Job per bundle), with its history entry; concludes the pass."""
    bundle, spec = facts.bundle, facts.spec
    tag, digest, values_hash = desired
    status = step.status
    if checking(bundle):
        return step.then(
            verdict=Verdict(
                phase="Syncing",
                ready="Unknown",
                reason="Progressing",
                message=f"tag {tag} deploys after the running drift check",
                reconciling=True,
            )
        )
    # The Job's number makes its name: unique per deploy key, across causes.
    numbers = [e.attempt for e in status.version_history if key_of(e) == desired]
    numbers += [j.attempt for j in bundle.jobs if j.kind == "apply" and key_of(j) == desired]
    number = max(numbers, default=0) + 1
    manifest, secret_name, files = jobspec.render_apply_job(
        bundle, spec, tag=tag, digest=digest, values_hash=values_hash, attempt=number
    )
    name = manifest["metadata"]["name"]
    namespace = manifest["metadata"]["namespace"]
    newest = status.version_history[0] if status.version_history else None
    same_key = newest is not None and key_of(newest) == desired
    attempts = status.attempts + 1 if same_key else 1
    entry = HistoryEntry(
        tag=tag,
        digest=digest,
        values_hash=values_hash,
        job_name=name,
        attempt=number,
        started_at=facts.now,
    )
    status = status.replace(
        version_history=(entry, *status.version_history)[:MAX_HISTORY],
        active_job_name=name,
        active_job_namespace=namespace,
        last_job_status="Running",
        attempts=attempts,
    )
    created = JobCreated(
        job=name,
        tag=tag,
        digest=digest,
        cause=cause,
        attempt=attempts,
        namespace=namespace,
    )
    return step.then(
        status,
        actions=(CreateJob(job=manifest, secret_name=secret_name, secret_files=files),),
        timeline=(created,),
        verdict=Verdict(
            phase="Syncing",
            ready="Unknown",
            reason="Progressing",
            message=f"job {name} is applying tag {tag}",
            reconciling=True,
        ),
    )
