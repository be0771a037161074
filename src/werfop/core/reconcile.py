"""reconcile(bundle, registry_snapshot, clock) -> Plan: every decision werfop makes.

Role: given the observed bundle (spec, status, its Jobs, the inputs the runtime read),
the registry snapshot taken this pass (or None when no poll was due) and a clock read
once, say what should happen next: actions with absolute targets, the new status, and
when to look again. Equal inputs give equal plans; once the registry and the spec stop
changing, a bounded number of passes reaches an empty plan.
Must not: perform I/O, log, sleep, or raise (an exception here is a bug).
Neighbours: ``versions`` selects tags, ``schedule`` times things, ``jobspec`` renders
the Job, ``status`` words the verdict; ``werfop.runtime`` executes the plan.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from werfop.core import drift, jobspec, schedule, uninstall
from werfop.core.actions import (
    Action,
    AddFinalizer,
    CreateJob,
    DeleteJob,
    DeleteLogs,
    EmitEvent,
    Occurrence,
    Plan,
    RemoveFinalizer,
    SaveLogs,
    WriteStatus,
)
from werfop.core.model import (
    FINALIZER,
    Bundle,
    BundleSpec,
    BundleStatus,
    FieldProblem,
    HistoryEntry,
    JobObservation,
    PollDeferred,
    PollRecord,
    RegistrySnapshot,
    RegistryUnavailable,
    Rejection,
    SelectionStatus,
    Soak,
    TagList,
)
from werfop.core.ports import Clock
from werfop.core.semver import parse_version
from werfop.core.status import Verdict, apply_verdict, events_between, set_condition
from werfop.core.validation import policy_for, spec_problems
from werfop.core.versions import MAX_REJECTIONS, TOO_YOUNG, matches, select

MAX_HISTORY = 10
STATUS_LOG_BYTES = 5 * 1024
CONFIG_MAP_LOG_BYTES = 1024 * 1024
RETRY_ANNOTATION = "werf.io/retry"
RECONCILE_ANNOTATION = "werf.io/reconcile-at"
REDEPLOY_ANNOTATION = "werf.io/redeploy-at"
ROLLBACK_ANNOTATION = "werf.io/rollback-to-version"
SKIP_UNINSTALL_ANNOTATION = "werf.io/skip-uninstall"

# A deploy Job's Event -> the phase Event it makes redundant in the same pass.
TOLD_BY_JOB = {"JobCreated": "PhaseSyncing", "JobSucceeded": "PhaseSynced"}

DeployKey = tuple[str, str, str]  # (tag, digest, values hash)


def is_poll_due(bundle: Bundle, now: datetime) -> bool:
    """Should the runtime read the registry before this pass?

    Due when the bundle is valid (schema and cross-field rules), not suspended or being
    deleted, and it has never been
    polled, its spec changed since the last pass (a new generation polls at once), or
    ``status.nextPollTime`` has come.
    """
    if bundle.spec is None or bundle.spec.suspend or bundle.meta.deletion_timestamp:
        return False
    if spec_problems(bundle.meta, bundle.spec):
        return False  # a broken spec stalls without asking the registry anything
    status = bundle.status
    if status.next_poll_time is None or bundle.meta.generation != status.observed_generation:
        return True
    requested = bundle.meta.annotation(RECONCILE_ANNOTATION)
    if requested is not None and requested != status.last_handled_reconcile_at:
        return True
    return now >= status.next_poll_time


def next_scheduled_poll(bundle: Bundle, spec: BundleSpec, now: datetime) -> datetime:
    """When a successful poll at ``now`` schedules the next one: the poll interval with
    the bundle's jitter for its next poll count. The runtime's pacer books its slot
    from this time and hands the slot back as ``TagList.next_poll``."""
    count = bundle.status.poll_count + 1
    return now + schedule.jittered(spec.registry.poll_interval, bundle.meta.uid, count)


def reconcile(bundle: Bundle, registry_snapshot: RegistrySnapshot | None, clock: Clock) -> Plan:
    """Decide what should happen next for one bundle. See the module docstring."""
    return _Pass(bundle, registry_snapshot, clock.now()).plan()


def jobs_needing_logs(bundle: Bundle) -> tuple[JobObservation, ...]:
    """Finished Jobs whose result the status has not recorded yet: the runtime reads
    their log tail before the pass so that the pass can keep it."""
    recorded = {e.job_name for e in bundle.status.version_history if e.result != "Running"}
    checks = drift.pending_checks(bundle.jobs, bundle.status.last_drift_check_time)
    evicted = eviction_test(bundle.status)
    applies = [
        j
        for j in bundle.jobs
        if j.kind == "apply" and j.state != "Active" and j.name not in recorded and not evicted(j)
    ]
    return tuple(applies + checks)


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
    names = {e.job_name for e in history}
    oldest = min(e.started_at for e in history)

    def evicted(job: JobObservation) -> bool:
        if job.state == "Active" or job.name in names:
            return False
        return job.started_at is None or job.started_at <= oldest

    return evicted


def _never(job: JobObservation) -> bool:
    return False


def _key(entry: HistoryEntry | JobObservation) -> DeployKey:
    return (entry.tag, entry.digest, entry.values_hash)


def _utf8_tail(text: str, limit: int) -> str:
    """The last ``limit`` bytes of ``text``, cut on a character boundary."""
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[-limit:].decode("utf-8", errors="ignore")


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """Replace every known secret value (longest first) with a marker."""
    for secret in sorted((s for s in secrets if len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, "<redacted>")
    return text


@attrs.define
class _Pass:
    bundle: Bundle
    snapshot: RegistrySnapshot | None
    now: datetime
    actions: list[Action] = attrs.field(factory=list)
    timeline: list[Occurrence] = attrs.field(factory=list)
    wake: list[datetime] = attrs.field(factory=list)
    drifted: bool = False
    polls: PollRecord | None = None

    # -- entry -------------------------------------------------------------------------

    def plan(self) -> Plan:
        meta = self.bundle.meta
        if meta.deletion_timestamp is not None:
            return self._finalize()
        if FINALIZER not in meta.finalizers:
            self.actions.append(
                AddFinalizer(
                    namespace=meta.namespace,
                    name=meta.name,
                    resource_version=meta.resource_version,
                    finalizers=(*meta.finalizers, FINALIZER),
                )
            )
        old = self.bundle.status
        status, verdict = self._decide(old)
        status = apply_verdict(old, status, verdict, self.now, meta.generation)
        self._finish_status(old, status)
        return self._plan()

    def _plan(self) -> Plan:
        future = [w for w in self.wake if w > self.now]
        requeue = min(future) - self.now if future else None
        return Plan(
            actions=tuple(self.actions),
            requeue_after=requeue,
            timeline=tuple(self.timeline),
            polls=self.polls,
        )

    def _note(self, type_: str, **fields: Any) -> None:
        self.timeline.append(Occurrence(type=type_, fields=tuple(fields.items())))

    # -- deletion ----------------------------------------------------------------------

    def _finalize(self) -> Plan:
        meta = self.bundle.meta
        if FINALIZER not in meta.finalizers:
            return Plan()
        spec = self.bundle.spec
        old = self.bundle.status
        skip = meta.annotation(SKIP_UNINSTALL_ANNOTATION) == "true"
        if (
            spec is not None
            and spec.converge.deletion_policy == "Uninstall"
            and not skip
            and old.uninstall != "Done"
        ):
            status = uninstall.step(self, spec, old)
            self._finish_status(old, status)
            if status.uninstall != "Done":
                return self._plan()
        jobs = sorted(self.bundle.jobs, key=lambda j: (j.namespace, j.name))
        for job in jobs:
            self.actions.append(DeleteJob(namespace=job.namespace, name=job.name))
        if jobs:
            self._note("Finalizing", jobs=len(jobs))
        else:
            self.actions.append(
                RemoveFinalizer(
                    namespace=meta.namespace,
                    name=meta.name,
                    resource_version=meta.resource_version,
                    finalizers=tuple(f for f in meta.finalizers if f != FINALIZER),
                )
            )
            self._note("Finalized")
        return self._plan()

    # -- the decision ------------------------------------------------------------------

    def _decide(self, old: BundleStatus) -> tuple[BundleStatus, Verdict]:
        bundle = self.bundle
        status = self._record_jobs(old)
        status = self._reset_attempts(old, status)
        spec = bundle.spec
        problems = bundle.spec_problems if spec is None else spec_problems(bundle.meta, spec)
        if spec is None or problems:
            message = _describe(problems)
            return status, Verdict(
                phase="Failed",
                ready="False",
                reason="InvalidSpec",
                message=message,
                stalled=True,
            )
        target = jobspec.target_namespace(bundle.meta, spec)
        if status.resolved_target_namespace != target:
            status = attrs.evolve(status, resolved_target_namespace=target)
        status, self.drifted = drift.record(self, spec, status)
        if spec.suspend:
            status = attrs.evolve(status, next_poll_time=None)
            return status, Verdict(
                phase="Suspended", ready="False", reason="Suspended", message="spec.suspend is true"
            )
        requested = bundle.meta.annotation(RECONCILE_ANNOTATION)
        if requested is not None and requested != status.last_handled_reconcile_at:
            self._note("PollRequested", value=requested)
            status = attrs.evolve(status, last_handled_reconcile_at=requested)
        if self.snapshot is not None:
            status = self._observe(spec, status, self.snapshot)
        if status.next_poll_time is not None:
            self.wake.append(status.next_poll_time)
        rollback = bundle.meta.annotation(ROLLBACK_ANNOTATION)
        if rollback is not None:
            status, refused = self._hold_rollback(old, status, rollback)
            if refused is not None:
                return status, refused
        return self._deploy(spec, old, status)

    def _hold_rollback(
        self, old: BundleStatus, status: BundleStatus, tag: str
    ) -> tuple[BundleStatus, Verdict | None]:
        """``werf.io/rollback-to-version`` holds a version from the history, whatever the
        registry offers and whatever the downgrade guard says, while it is set."""
        known = [e for e in status.version_history if e.tag == tag]
        if not known:
            return status, Verdict(
                phase="Failed",
                ready="False",
                reason="RollbackUnavailable",
                message=(
                    f"annotation {ROLLBACK_ANNOTATION}: tag {tag!r} is not in status.versionHistory"
                ),
                stalled=True,
            )
        entry = next((e for e in known if e.result == "Succeeded"), known[0])
        if old.desired_tag != tag:
            self._note("RollbackHeld", tag=tag)
        return attrs.evolve(status, desired_tag=tag, desired_digest=entry.digest), None

    def _reset_attempts(self, old: BundleStatus, status: BundleStatus) -> BundleStatus:
        """A spec change or a new ``werf.io/retry`` value gives the version fresh attempts."""
        meta = self.bundle.meta
        retry = meta.annotation(RETRY_ANNOTATION)
        if retry is not None and retry != old.last_handled_retry:
            self._note("RetryRequested", value=retry)
            return attrs.evolve(status, attempts=0, last_handled_retry=retry)
        if old.observed_generation and meta.generation != old.observed_generation:
            return self._fresh_corrections(attrs.evolve(status, attempts=0))
        return status

    def _fresh_corrections(self, status: BundleStatus) -> BundleStatus:
        status = attrs.evolve(status, drift_corrections=0)
        return set_condition(
            status, drift.CORRECTION_FAILED, None, "", "", self.now, self.bundle.meta.generation
        )

    # -- Jobs --------------------------------------------------------------------------

    def _record_jobs(self, old: BundleStatus) -> BundleStatus:
        """Fold the observed Jobs into history: adopt unknown ones, record results, mark
        vanished ones Lost, and take lastApplied* from the newest succeeded Job."""
        history = {e.job_name: e for e in old.version_history}
        newest_key = old.version_history[0] if old.version_history else None
        attempts = old.attempts
        observed = {j.name: j for j in self.bundle.jobs if j.kind == "apply"}
        finished: list[tuple[HistoryEntry, JobObservation | None]] = []
        # Jobs pushed out of a full history are not news: leave them out before sorting
        # (a bundle keeps a week of Jobs, the history ten).
        evicted = eviction_test(old)
        news = [j for j in observed.values() if j.name in history or not evicted(j)]
        for job in sorted(news, key=lambda j: (j.attempt, j.name)):
            entry = history.get(job.name)
            if entry is None:
                # Created by an earlier pass whose status write was lost, or never seen.
                entry = HistoryEntry(
                    tag=job.tag,
                    digest=job.digest,
                    values_hash=job.values_hash,
                    job_name=job.name,
                    attempt=job.attempt,
                    started_at=job.started_at or self.now,
                )
                same_key = newest_key is not None and _key(newest_key) == _key(job)
                attempts = attempts + 1 if same_key else 1
                newest_key = entry
                self._note("JobAdopted", job=job.name, tag=job.tag, attempt=job.attempt)
                if job.state == "Active" and old.active_job_name != job.name:
                    self._ensure_job_inputs(job)
            if entry.result == "Running" and job.state != "Active":
                entry = attrs.evolve(
                    entry, result=job.state, finished_at=job.finished_at or self.now
                )
                finished.append((entry, job))
            history[job.name] = entry
        for name, entry in list(history.items()):
            if entry.result == "Running" and name not in observed:
                entry = attrs.evolve(entry, result="Lost", finished_at=self.now)
                history[name] = entry
                finished.append((entry, None))
        ordered = sorted(history.values(), key=lambda e: (e.started_at, e.job_name), reverse=True)
        kept = tuple(ordered[:MAX_HISTORY])
        active = [j for j in observed.values() if j.state == "Active"]
        # One new status for the history, the attempts, the active Job and the last Job
        # status (``_job_finished`` below changes none of these fields).
        changes: dict[str, Any] = {
            "version_history": kept,
            "attempts": attempts,
            "active_job_name": active[0].name if active else None,
            "active_job_namespace": active[0].namespace if active else None,
        }
        if kept:
            newest = kept[0].result
            changes["last_job_status"] = "Failed" if newest == "Lost" else newest
        status = _with(old, changes)
        for done, seen in sorted(
            finished, key=lambda f: (f[0].finished_at or self.now, f[0].job_name)
        ):
            status = self._job_finished(status, done, seen)
        self._prune_jobs(old, kept)
        self._expire_logs()
        return status

    def _prune_jobs(self, old: BundleStatus, kept: tuple[HistoryEntry, ...]) -> None:
        """Delete the finished Jobs nothing needs any more, as CronJob's history limits
        do: an apply Job that ``versionHistory`` no longer names (the history folds in
        every Job first, so such a Job is older than the ten newest deploys), and a
        drift check older than the newest one recorded. Their results and logs were
        recorded when they finished; their TTL (``logRetentionDays``) stays the
        backstop. Without this a bundle keeps every Job and its pod for days: a week at
        a release every 3 hours is 56 per bundle, 56,000 pods for a thousand bundles."""
        keep = {e.job_name for e in kept}
        checked = old.last_drift_check_time
        for job in self.bundle.jobs:
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
                self.actions.append(DeleteJob(namespace=job.namespace, name=job.name))
                self._note("JobPruned", job=job.name, kind=job.kind)

    def _ensure_job_inputs(self, job: JobObservation) -> None:
        """An active Job the status never recorded: the pass that created it may have
        died before creating its inputs Secret. Re-issue the (idempotent) creation when
        the inputs are still the ones the Job was made for."""
        spec = self.bundle.spec
        if spec is None or job.values_hash != self.bundle.inputs.values_hash:
            return
        manifest, secret_name, files = jobspec.render_apply_job(
            self.bundle,
            spec,
            tag=job.tag,
            digest=job.digest,
            values_hash=job.values_hash,
            attempt=job.attempt,
        )
        if manifest["metadata"]["name"] == job.name:
            self.actions.append(
                CreateJob(job=manifest, secret_name=secret_name, secret_files=files)
            )

    def _job_finished(
        self, status: BundleStatus, entry: HistoryEntry, job: JobObservation | None
    ) -> BundleStatus:
        if entry.result == "Succeeded":
            if (entry.tag, entry.digest) != (status.last_applied_tag, status.last_applied_digest):
                status = self._fresh_corrections(status)  # a new version: corrections anew
            status = attrs.evolve(
                status,
                last_applied_tag=entry.tag,
                last_applied_digest=entry.digest,
                last_applied_values_hash=entry.values_hash,
                last_sync_time=entry.finished_at,
                attempts=0,
            )
            self._note("JobSucceeded", job=entry.job_name, tag=entry.tag)
            self._event("Normal", "JobSucceeded", f"job {entry.job_name} applied tag {entry.tag}")
        else:
            why = (
                job.message
                if job is not None and job.message
                else (
                    "the Job disappeared while it was running" if job is None else "the Job failed"
                )
            )
            self._note("JobFailed", job=entry.job_name, tag=entry.tag, reason=why)
            self._event(
                "Warning", "JobFailed", f"job {entry.job_name} for tag {entry.tag} failed: {why}"
            )
        if job is not None and job.log_tail is not None:
            secrets = tuple(s.value for s in self.bundle.inputs.secret_values)
            text = redact(job.log_tail, secrets)
            status = attrs.evolve(status, last_job_logs=_utf8_tail(text, STATUS_LOG_BYTES))
            if len(text.encode()) > STATUS_LOG_BYTES:
                self.actions.append(SaveLogs(config_map=self._logs_config_map(entry, text)))
        return status

    def _logs_config_map(self, entry: HistoryEntry, text: str) -> dict[str, Any]:
        meta = self.bundle.meta
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": jobspec.logs_config_map_name(entry.job_name),
                "namespace": meta.namespace,
                "labels": {**jobspec.bundle_labels(meta), jobspec.LABEL_JOB_KIND: "logs"},
                "annotations": {
                    jobspec.ANNOTATION_TAG: entry.tag,
                    "werf.io/job": entry.job_name,
                    "werf.io/finished-at": _rfc3339(entry.finished_at or self.now),
                },
                "ownerReferences": [jobspec.owner_reference(meta)],
            },
            "data": {"output": _utf8_tail(text, CONFIG_MAP_LOG_BYTES)},
        }

    def _expire_logs(self) -> None:
        spec = self.bundle.spec
        if spec is None:
            return
        keep = timedelta(days=spec.converge.log_retention_days)
        for log in self.bundle.log_maps:
            expires = log.finished_at + keep
            if expires <= self.now:
                self.actions.append(DeleteLogs(namespace=log.namespace, name=log.name))
            else:
                self.wake.append(expires)

    # -- registry ----------------------------------------------------------------------

    def _observe(
        self, spec: BundleSpec, status: BundleStatus, snapshot: RegistrySnapshot
    ) -> BundleStatus:
        if isinstance(snapshot, PollDeferred):
            return attrs.evolve(status, next_poll_time=max(snapshot.until, self.now))
        uid = self.bundle.meta.uid
        count = status.poll_count + 1
        if isinstance(snapshot, RegistryUnavailable):
            failures = status.consecutive_failures + 1
            delay = schedule.jittered(schedule.registry_backoff(failures), uid, count)
            if snapshot.retry_after is not None:
                delay = max(delay, snapshot.retry_after)
            message = f"registry {snapshot.repository}: {snapshot.message}"
            self._note(
                "RegistryError",
                status=snapshot.status_code,
                reason=snapshot.reason,
                failures=failures,
                retryIn=_seconds(delay),
            )
            return attrs.evolve(
                status,
                last_poll_time=self.now,
                next_poll_time=self.now + delay,
                poll_count=count,
                consecutive_failures=failures,
                last_error_message=message,
                last_error_time=self.now,
            )
        polled = {
            "last_poll_time": self.now,
            "next_poll_time": snapshot.next_poll
            or next_scheduled_poll(self.bundle, spec, self.now),
            "poll_count": count,
            "consecutive_failures": 0,
            "last_error_message": None,
            "last_etag": snapshot.etag,
        }
        return self._select(spec, status, snapshot, polled)

    def _select(
        self,
        spec: BundleSpec,
        status: BundleStatus,
        snapshot: TagList,
        polled: dict[str, Any],
    ) -> BundleStatus:
        """The selection folded into ``status``, with the poll's own fields ``polled``
        (none of which the selection reads), in one new status."""
        applied_tag = status.last_applied_tag
        policy = policy_for(spec, applied_tag)
        selection = select(snapshot, policy)
        rejected = list(selection.rejected)
        candidate = selection.selected
        digest = snapshot.digest(candidate) if candidate is not None else None
        if candidate is not None and digest is None:
            candidate = None  # the runtime could not resolve it; keep what we have
        applied = (applied_tag, status.last_applied_digest)
        soak = status.soak
        desired: tuple[str, str] | None = None
        if candidate is not None and digest is not None:
            desired = (candidate, digest)
            if (candidate, digest) == applied:
                soak = None
            elif spec.registry.min_age > timedelta(0):
                if soak is None or (soak.tag, soak.digest) != desired:
                    soak = Soak(tag=candidate, digest=digest, since=snapshot.at)
                matures = soak.since + spec.registry.min_age
                if matures > self.now:
                    rejected.insert(0, Rejection(tag=candidate, reason=TOO_YOUNG))
                    self.wake.append(matures)
                    desired = None
        self._note("Polled", selected=desired[0] if desired else None, tags=len(snapshot.tags))
        return attrs.evolve(
            status,
            **polled,
            desired_tag=desired[0] if desired else None,
            desired_digest=desired[1] if desired else None,
            soak=soak,
            selection=SelectionStatus(
                selected=desired[0] if desired else None,
                considered=selection.considered,
                rejected=tuple(rejected[:MAX_REJECTIONS]),
            ),
        )

    # -- deploy ------------------------------------------------------------------------

    def _deploy(
        self, spec: BundleSpec, old: BundleStatus, status: BundleStatus
    ) -> tuple[BundleStatus, Verdict]:
        inputs = self.bundle.inputs
        registry_failed = status.consecutive_failures >= schedule.FAILURES_BEFORE_FAILED
        if status.active_job_name is not None:
            entry = next(e for e in status.version_history if e.job_name == status.active_job_name)
            return status, Verdict(
                phase="Syncing",
                ready="Unknown",
                reason="Progressing",
                message=f"job {entry.job_name} is applying tag {entry.tag}",
                reconciling=True,
            )
        if inputs.problems:
            return status, Verdict(
                phase="Failed",
                ready="False",
                reason="InputsUnavailable",
                message=_describe(inputs.problems),
                stalled=True,
            )
        if registry_failed:
            return status, Verdict(
                phase="Failed",
                ready="False",
                reason="RegistryUnavailable",
                message=status.last_error_message or "the registry is unavailable",
            )
        if status.desired_tag is not None and not self._still_acceptable(
            spec, status, status.desired_tag
        ):
            # Chosen by an earlier poll (under an older spec, or before a Job that just
            # succeeded moved lastAppliedTag): never deploy it now; keep what runs, if
            # that still matches the spec.
            self._note("DesiredDropped", tag=status.desired_tag)
            status = attrs.evolve(status, desired_tag=None, desired_digest=None)
        if status.desired_tag is None or status.desired_digest is None:
            # Nothing newer to deploy. What runs now stays, if the spec still accepts it
            # (a fallback recorded as "desired" could name a digest an active Job is
            # replacing, and redeploy it afterwards).
            running = status.last_applied_tag
            if running is not None and self._still_acceptable(spec, status, running):
                return status, self._synced_verdict(status)
            return status, self._idle_verdict(status)
        desired: DeployKey = (status.desired_tag, status.desired_digest, inputs.values_hash)
        applied = (
            status.last_applied_tag,
            status.last_applied_digest,
            status.last_applied_values_hash,
        )
        redeploy = self.bundle.meta.annotation(REDEPLOY_ANNOTATION)
        if redeploy is not None and redeploy != status.last_handled_redeploy_at:
            status = attrs.evolve(status, last_handled_redeploy_at=redeploy)
            if desired == applied:
                self._note("RedeployRequested", value=redeploy)
                return self._start_job(spec, attrs.evolve(status, attempts=0), desired)
        if desired == applied or (
            not spec.converge.redeploy_on_values_change
            and status.last_applied_values_hash is not None
            and desired[:2] == applied[:2]
        ):
            if any(j.kind == "plan" and j.state == "Active" for j in self.bundle.jobs):
                return status, self._synced_verdict(status)  # a drift check is running
            checked = drift.step(self, spec, status, self.drifted)
            if checked is not None and checked.active_job_name is not None:
                return checked, Verdict(
                    phase="Syncing",
                    ready="Unknown",
                    reason="CorrectingDrift",
                    message=f"job {checked.active_job_name} applies tag {desired[0]} again",
                    reconciling=True,
                )
            return checked or status, self._synced_verdict(status)
        tries = [e for e in status.version_history if _key(e) == desired]
        last = tries[0] if tries else None
        if last is not None and last.result in ("Failed", "Lost"):
            if status.attempts >= spec.converge.max_attempts:
                return status, Verdict(
                    phase="Failed",
                    ready="False",
                    reason="RetriesExhausted",
                    message=(
                        f"tag {desired[0]} failed {status.attempts} times "
                        f"(spec.converge.maxAttempts); waiting for a new version, a spec "
                        f"change or a new value of the {RETRY_ANNOTATION} annotation"
                    ),
                    stalled=True,
                )
            if last.result == "Failed" and status.attempts > 0:
                # After a reset (spec change, werf.io/retry) the next attempt goes now.
                delay = schedule.jittered(
                    schedule.job_backoff(status.attempts),
                    self.bundle.meta.uid,
                    last.attempt,
                )
                retry_at = (last.finished_at or self.now) + delay
                if retry_at > self.now:
                    self.wake.append(retry_at)
                    return status, Verdict(
                        phase="Syncing",
                        ready="False",
                        reason="RetryScheduled",
                        message=(
                            f"job {last.job_name} for tag {desired[0]} failed; attempt "
                            f"{status.attempts + 1} of {spec.converge.max_attempts} at "
                            f"{_rfc3339(retry_at)}"
                        ),
                        reconciling=True,
                    )
        return self._start_job(spec, status, desired)

    def _still_acceptable(self, spec: BundleSpec, status: BundleStatus, tag: str) -> bool:
        """May ``tag`` be deployed under the current spec and the current
        ``lastAppliedTag``? (An explicit rollback is always acceptable.)"""
        if self.bundle.meta.annotation(ROLLBACK_ANNOTATION) == tag:
            return True
        if not matches(tag, policy_for(spec, status.last_applied_tag)):
            return False
        if tag == status.last_applied_tag:
            return True
        if spec.registry.tag is not None or spec.registry.allow_downgrade:
            return True
        wanted, applied = parse_version(tag), parse_version(status.last_applied_tag or "")
        return wanted is None or applied is None or wanted >= applied

    def _start_job(
        self, spec: BundleSpec, status: BundleStatus, desired: DeployKey
    ) -> tuple[BundleStatus, Verdict]:
        tag, digest, values_hash = desired
        if any(j.kind == "plan" and j.state == "Active" for j in self.bundle.jobs):
            return status, Verdict(  # one active Job per bundle: wait for the drift check
                phase="Syncing",
                ready="Unknown",
                reason="Progressing",
                message=f"tag {tag} deploys after the running drift check",
                reconciling=True,
            )
        numbers = [e.attempt for e in status.version_history if _key(e) == desired]
        numbers += [j.attempt for j in self.bundle.jobs if j.kind == "apply" and _key(j) == desired]
        attempt = max(numbers, default=0) + 1
        manifest, secret_name, files = jobspec.render_apply_job(
            self.bundle, spec, tag=tag, digest=digest, values_hash=values_hash, attempt=attempt
        )
        name = manifest["metadata"]["name"]
        namespace = manifest["metadata"]["namespace"]
        self.actions.append(CreateJob(job=manifest, secret_name=secret_name, secret_files=files))
        newest = status.version_history[0] if status.version_history else None
        same_key = newest is not None and _key(newest) == desired
        entry = HistoryEntry(
            tag=tag,
            digest=digest,
            values_hash=values_hash,
            job_name=name,
            attempt=attempt,
            started_at=self.now,
        )
        status = attrs.evolve(
            status,
            version_history=(entry, *status.version_history)[:MAX_HISTORY],
            active_job_name=name,
            active_job_namespace=namespace,
            last_job_status="Running",
            attempts=status.attempts + 1 if same_key else 1,
        )
        self._note("JobCreated", job=name, tag=tag, digest=digest, attempt=attempt)
        self._event("Normal", "JobCreated", f"job {namespace}/{name} applies tag {tag}")
        return status, Verdict(
            phase="Syncing",
            ready="Unknown",
            reason="Progressing",
            message=f"job {name} is applying tag {tag}",
            reconciling=True,
        )

    def _idle_verdict(self, status: BundleStatus) -> Verdict:
        if status.last_poll_time is None:
            return Verdict(
                phase="Pending",
                ready="Unknown",
                reason="Initializing",
                message="waiting for the first registry poll",
                reconciling=True,
            )
        if status.soak is not None:
            return Verdict(
                phase="Pending",
                ready="False",
                reason="Soaking",
                message=(
                    f"tag {status.soak.tag} is younger than spec.registry.minAge; it deploys "
                    f"after {_rfc3339(status.soak.since + self._min_age())}"
                ),
            )
        return Verdict(
            phase="Pending",
            ready="False",
            reason="NoMatchingVersion",
            message="no tag in the repository matches the version policy",
        )

    def _synced_verdict(self, status: BundleStatus) -> Verdict:
        message = f"applied tag {status.last_applied_tag} ({status.last_applied_digest})"
        if status.soak is not None:
            message += f"; tag {status.soak.tag} is soaking (spec.registry.minAge)"
        return Verdict(phase="Synced", ready="True", reason="Succeeded", message=message)

    def _min_age(self) -> timedelta:
        spec = self.bundle.spec
        return spec.registry.min_age if spec is not None else timedelta(0)

    # -- output ------------------------------------------------------------------------

    def _event(self, type_: Any, reason: str, message: str) -> None:
        meta = self.bundle.meta
        self.actions.append(
            EmitEvent(
                namespace=meta.namespace,
                name=meta.name,
                uid=meta.uid,
                type=type_,
                reason=reason,
                message=message,
            )
        )

    def _finish_status(self, old: BundleStatus, new: BundleStatus) -> None:
        meta = self.bundle.meta
        # One Event per transition: a Job created (or succeeded) in this pass already
        # tells the move to Syncing (or Synced); a deploy used to raise both, the same
        # news twice for whoever forwards Events. Every other phase move, Failed
        # included, has its own Event.
        told = {
            TOLD_BY_JOB[a.reason]
            for a in self.actions
            if isinstance(a, EmitEvent) and a.reason in TOLD_BY_JOB
        }
        for event in events_between(old, new):
            if event.reason not in told:
                self._event(event.type, event.reason, event.message)
        if old.phase != new.phase:
            self._note("PhaseChanged", **{"from": old.phase, "to": new.phase})
        polls = PollRecord.of(new)
        self.polls = polls
        if polls.onto(old) != new:  # not a quiet pass: more than the poll record moved
            write = WriteStatus(
                namespace=meta.namespace,
                name=meta.name,
                resource_version=meta.resource_version,
                status=new,
            )
            # The status write is the pass's commit point: after Jobs, before Events.
            position = next(
                (i for i, a in enumerate(self.actions) if isinstance(a, EmitEvent)),
                len(self.actions),
            )
            self.actions.insert(position, write)


def _with(status: BundleStatus, changes: dict[str, Any]) -> BundleStatus:
    """``status`` with ``changes``; ``status`` itself when they change nothing."""
    if all(getattr(status, name) == value for name, value in changes.items()):
        return status
    return attrs.evolve(status, **changes)


def _describe(problems: tuple[FieldProblem, ...]) -> str:
    return "; ".join(f"{p.path}: {p.message}" for p in problems) or "the object is invalid"


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _seconds(delay: timedelta) -> float:
    return round(delay.total_seconds(), 3)
