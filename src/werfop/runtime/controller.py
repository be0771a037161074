"""One pass per bundle key: observe, decide (the core), execute, and schedule the next.

Role: the loop body shared by the operator and the simulator. Watch events and resyncs
become queue keys (``on_event``); ``process`` runs one pass for one key; ``run_due``
drains the keys due now. Only the adapters and the clock differ between ``werfop run``
and ``werfop simulate``.
Must not: construct adapters (``werfop.operator`` and ``werfop.simulate`` do) or its
own parts (``runtime.bootstrap`` does), or decide anything the core should.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

import attrs

from werfop.api.codec import job_state
from werfop.core import names
from werfop.core.actions import DeleteLogs, Plan, SaveLogs
from werfop.core.durations import parse_duration
from werfop.core.errors import (
    ConflictError,
    NotFoundError,
    TerminalError,
    TransientError,
)
from werfop.core.model import BundleStatus, FieldProblem, RegistrySpec
from werfop.core.ports import Clock, ClusterPort, WatchEvent
from werfop.core.reconcile import reconcile
from werfop.core.timeline import Entry
from werfop.runtime.observe import Observer
from werfop.runtime.queue import (
    Conflict,
    Outcome,
    Success,
    Terminal,
    Transient,
    WorkQueue,
    next_step,
)

log = logging.getLogger("werfop.controller")
_LOG_ACTIONS = (SaveLogs, DeleteLogs)
DEFAULT_POLL_INTERVAL: timedelta = attrs.fields(RegistrySpec).poll_interval.default  # type: ignore[assignment]


class PassMetrics(Protocol):
    def pass_done(self, key: str, outcome: Outcome, seconds: float) -> None: ...
    def plan_done(self, key: str, plan: Plan) -> None: ...
    def status_seen(self, key: str, status: BundleStatus) -> None: ...
    def forget(self, key: str) -> None: ...


TimelineSink = Callable[[str, datetime, tuple[Entry, ...]], None]
ProblemSink = Callable[[str, tuple[FieldProblem, ...]], None]


@attrs.frozen
class _Reading:
    """The pass's one reading of the clock, handed to the core: it decides at the moment
    the observer read the bundle and the registry, however long the reads took."""

    moment: datetime

    def now(self) -> datetime:
        return self.moment


def bundle_key_of_job(job: dict) -> str | None:
    """The bundle a Job belongs to, from its own annotation (works across namespaces)."""
    annotations = (job.get("metadata") or {}).get("annotations") or {}
    key = annotations.get(names.ANNOTATION_BUNDLE)
    return key if isinstance(key, str) and "/" in key else None


def _signature(metadata: dict) -> tuple[object, ...]:  # type: ignore[type-arg]
    """What in a bundle's metadata can change a decision: its spec (generation), its
    annotations (the werf.io/* levers), finalizers and deletion."""
    return (
        metadata.get("generation"),
        tuple(sorted((metadata.get("annotations") or {}).items())),
        tuple(metadata.get("finalizers") or ()),
        metadata.get("deletionTimestamp"),
    )


class PlanExecutor(Protocol):
    """What performs a plan: ``runtime.executor.Executor``, or a failpoint around it."""

    def execute(self, plan: Plan) -> None: ...


@attrs.frozen(kw_only=True)
class Hooks:
    """What a pass reports besides its writes, and what a bug in one does: the operator
    logs timelines and problems, counts passes in its metrics and contains bugs (logs
    them and retries the key with backoff); the simulator records timelines and lets a
    bug propagate, so that it is loud. ``runtime.bootstrap`` fills it."""

    on_timeline: TimelineSink | None = None
    on_problems: ProblemSink | None = None
    metrics: PassMetrics | None = None
    contain_bugs: bool = False


class Controller:
    """Built by ``runtime.bootstrap.build`` (the operator, the simulator, the tests)."""

    def __init__(
        self,
        cluster: ClusterPort,
        clock: Clock,
        *,
        queue: WorkQueue,
        observer: Observer,
        executor: PlanExecutor,
        hooks: Hooks = Hooks(),
    ):
        self.cluster = cluster
        self.clock = clock
        self.queue = queue
        self.observer = observer
        self.executor = executor
        self.hooks = hooks
        self.passes = 0
        self._seen: dict[str, tuple[object, ...]] = {}
        self._job_ended: dict[tuple[str, str], bool] = {}  # (namespace, name) -> ended

    # -- feeding the queue ---------------------------------------------------------------

    def enqueue(self, key: str, at: datetime | None = None) -> None:
        self.queue.add(key, at or self.clock.now())

    def on_event(self, kind: str, event: WatchEvent) -> None:
        """A watch event: enqueue the bundle it concerns (keys, never events)."""
        metadata = event.object.get("metadata") or {}
        if kind == "WerfBundle":
            key = f"{metadata.get('namespace')}/{metadata.get('name')}"
            seen = _signature(metadata)
            if event.type == "MODIFIED" and self._seen.get(key) == seen:
                return  # only the status moved (most often our own write): nothing to decide
            self._seen[key] = seen
            self.observer.changed_meta[key] = self.clock.now()
            if event.type == "DELETED":
                self._seen.pop(key, None)
            else:
                self._learn(key, event.object)
            self.enqueue(key)
        elif kind == "Job":
            owner = bundle_key_of_job(event.object)
            if owner is not None and self._job_news(event, metadata):
                self.enqueue(owner)
        elif kind in ("ConfigMap", "Secret"):
            # Only objects labelled werf.io/watch=true wake their bundles at once; the
            # rest are re-read at every poll.
            if (metadata.get("labels") or {}).get(names.LABEL_WATCH) != "true":
                return
            place = (str(metadata.get("namespace")), kind, str(metadata.get("name")))
            for referrer in sorted(self.observer.referrers.get(place, ())):
                self.enqueue(referrer)

    def _job_news(self, event: WatchEvent, metadata: dict) -> bool:  # type: ignore[type-arg]
        """Does a Job event tell its bundle something? Its end does, and so does its
        deletion; a Job seen running does not: the pass that created it recorded it, and
        any pass lists the bundle's Jobs before it could start another. (A Job's status
        moves several times while it runs: startTime, active, ready.)"""
        place = (str(metadata.get("namespace")), str(metadata.get("name")))
        if event.type == "DELETED":
            self._job_ended.pop(place, None)
            return True
        ended = job_state(event.object.get("status")) != "Active"
        if self._job_ended.get(place, False) == ended:
            return False
        self._job_ended[place] = ended
        return ended

    def registry_pushed(self, repository_url: str) -> int:
        """A registry notification: every bundle following the repository polls now.
        Returns how many bundles were woken."""
        woken = self.observer.hint(repository_url.removeprefix("oci://"), self.clock.now())
        for key in sorted(woken):
            self.enqueue(key)
        return len(woken)

    def resync(self) -> None:
        """Level-based: enqueue every bundle, so nothing missed by a watch stays missed."""
        for raw in self.cluster.list_bundles():
            metadata = raw.get("metadata") or {}
            key = f"{metadata.get('namespace')}/{metadata.get('name')}"
            self._learn(key, raw)
            self.enqueue(key)

    def _learn(self, key: str, raw: dict) -> None:  # type: ignore[type-arg]
        """Tell the pacer a bundle's poll interval as soon as the watch (or a resync)
        shows it, so that the first passes after a start see the full poll rate; a
        suspended bundle does not poll and stops counting."""
        pacer = self.observer.pacer
        if pacer is None:
            return
        spec = raw.get("spec") or {}
        text = (spec.get("registry") or {}).get("pollInterval")
        interval = parse_duration(text) if isinstance(text, str) else DEFAULT_POLL_INTERVAL
        if spec.get("suspend") or interval is None:
            pacer.forget(key)
        else:
            pacer.learn(key, interval)

    # -- passes --------------------------------------------------------------------------

    def run_due(self, now: datetime | None = None) -> int:
        """Process every key due at ``now``; returns how many passes ran."""
        count = 0
        while True:
            moment = now or self.clock.now()
            key = self.queue.pop(moment)
            if key is None:
                return count
            self.run_one(key)
            count += 1

    def run_one(self, key: str) -> Outcome:
        """One pass for a key already popped from the queue, then its next step.

        With ``hooks.contain_bugs`` (the operator), an unexpected exception is logged and
        the key retried with backoff instead of killing the worker; the simulator lets it
        propagate so that a bug is loud.
        """
        started = time.monotonic()
        try:
            try:
                outcome = self.process(key)
            except Exception as error:
                if not self.hooks.contain_bugs:
                    raise
                log.exception("pass crashed", extra={"bundle": key})
                outcome = Transient(f"internal error: {type(error).__name__}")
            next_step(self.queue, key, outcome, self.clock.now())
            if self.hooks.metrics is not None:
                self.hooks.metrics.pass_done(key, outcome, time.monotonic() - started)
            return outcome
        finally:
            self.queue.done(key)

    def process(self, key: str) -> Outcome:
        """Observe, decide, execute; errors from the ports become outcomes."""
        namespace, _, name = key.partition("/")
        self.passes += 1
        try:
            raw = self.cluster.get_bundle(namespace, name)
        except NotFoundError:
            self.queue.remove(key)
            self.observer.forget(key)
            if self.hooks.metrics is not None:
                self.hooks.metrics.forget(key)
            return Success(None)
        except TransientError as error:
            return Transient(str(error), error.retry_after)
        now = self.clock.now()
        try:
            observation = self.observer.observe(key, raw, now)
            if observation.bundle is None:
                if self.hooks.on_problems is not None:
                    self.hooks.on_problems(key, observation.problems)
                return Terminal("the object could not be read")
            if self.hooks.metrics is not None:
                self.hooks.metrics.status_seen(key, observation.bundle.status)
            try:
                plan = reconcile(observation.bundle, observation.snapshot, _Reading(now))
                if any(isinstance(a, _LOG_ACTIONS) for a in plan.actions):
                    self.observer.logs_changed(key)
                self.executor.execute(plan)
            except Exception:
                # The pass is retried on its backoff, and polls again: no booking yet.
                if self.observer.pacer is not None:
                    self.observer.pacer.cancel(key)
                raise
            if plan.polls is not None:
                self.observer.polled(key, observation.bundle.meta.uid, plan.polls)
            if observation.changed is not None:
                for other in sorted(self.observer.followers.get(observation.changed, ())):
                    if other != key:
                        self.enqueue(other, now)
        except ConflictError as error:
            return Conflict(str(error))
        except NotFoundError as error:
            return Conflict(str(error))  # something vanished under us: re-read
        except TransientError as error:
            return Transient(str(error), error.retry_after)
        except TerminalError as error:
            return Terminal(str(error))
        if self.hooks.metrics is not None:
            self.hooks.metrics.plan_done(key, plan)
        if self.hooks.on_timeline is not None and plan.timeline:
            self.hooks.on_timeline(key, now, plan.timeline)
        return Success(plan.requeue_after)

    def next_due(self) -> datetime | None:
        return self.queue.next_due()
