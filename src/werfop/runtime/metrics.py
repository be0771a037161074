"""Prometheus metrics (prometheus-client), on a registry of their own.

Role: count and gauge what the controller hooks report (passes, plans, the status a
pass saw or wrote, a bundle's removal), registry calls, leadership, and the process
itself (prometheus-client's process, platform and GC collectors on the same registry).
Must not: decide anything or read the cluster. Neighbours: ``runtime.controller`` calls
the hooks, ``runtime.http`` serves ``registry``, ``werfop.operator`` wires the Lease.

Labels never carry a tag, an error text or a secret: registry host and outcome reason
(stable CamelCase), Job result, phase, bundle namespace/name, condition type and status.
Per-bundle series are bounded by bundles x (1 + 1 + condition types x 3) and removed by
``forget`` when the bundle is deleted (docs/monitoring.md, "Cardinality").
"""

from __future__ import annotations

import re
import threading
from collections import Counter as Tally
from collections.abc import Callable
from typing import Any, get_args

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)

from werfop.core.actions import Plan, WriteStatus
from werfop.core.model import BundleStatus, Condition, Phase, RegistryUnavailable
from werfop.core.ports import DigestAnswer, Repository, TagListing
from werfop.core.timeline import JobCreated, JobFailed, JobSucceeded
from werfop.runtime.queue import Outcome, WorkQueue

PHASES: tuple[str, ...] = get_args(Phase)
CONDITION_STATUSES = ("True", "False", "Unknown")
# A condition type becomes a label value only when it has the shape of ours (an
# adjective in CamelCase, no domain prefix), and at most this many per bundle: the
# status keeps conditions other writers added, and they must not grow the series.
CONDITION_TYPE = re.compile(r"[A-Z][A-Za-z0-9]{0,63}")
MAX_CONDITION_TYPES = 16


class Metrics:
    """werfop's metrics on ``registry``; the controller calls the hooks below, the
    operator wires ``watch_leader`` and ``CountingRegistry``."""

    def __init__(self, queue: WorkQueue | None = None) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.reconcile_seconds = Histogram(
            "werfop_reconcile_duration_seconds",
            "Time of one pass (observe, decide, execute).",
            ["outcome"],
            registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.registry_requests = Counter(
            "werfop_registry_requests_total",
            "Registry calls by host and outcome.",
            ["registry", "outcome"],
            registry=r,
        )
        self.jobs = Counter("werfop_jobs_total", "Deploy Jobs by result.", ["result"], registry=r)
        self.last_poll = Gauge(
            "werfop_registry_last_poll_timestamp_seconds",
            "When each followed repository last answered a tag list (Unix time): quiet "
            "polls write no status, so this is where polling shows it is alive.",
            ["repository"],
            registry=r,
        )
        self.bundles = Gauge("werfop_bundles", "Bundles by phase.", ["phase"], registry=r)
        self.depth = Gauge("werfop_workqueue_depth", "Keys waiting in the work queue.", registry=r)
        self.retries = Gauge(
            "werfop_workqueue_retries", "Retries the work queue has scheduled.", registry=r
        )
        self.lag = Gauge(
            "werfop_version_lag",
            "1 when the selected version is not the applied one.",
            ["namespace", "name"],
            registry=r,
        )
        self.conditions = Gauge(
            "werfop_bundle_condition",
            "A bundle's status conditions: 1 for the condition's current status, 0 for the "
            "two others (as Flux's gotk_reconcile_condition).",
            ["namespace", "name", "type", "status"],
            registry=r,
        )
        self.suspended = Gauge(
            "werfop_bundle_suspended",
            "1 when the bundle is suspended (phase Suspended), else 0.",
            ["namespace", "name"],
            registry=r,
        )
        self.leader = Gauge(
            "werfop_leader",
            "1 while this replica holds the leader Lease (or runs without leader "
            "election), else 0.",
            registry=r,
        )
        # The same collectors prometheus-client puts on its default registry; ours is a
        # registry of its own, so they are added here (process_* only on Linux).
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)
        self._queue = queue
        self._phases: dict[str, str] = {}
        self._phase_counts: Tally[str] = Tally()
        for phase in PHASES:
            self.bundles.labels(phase).set(0)
        self._recorded: dict[str, tuple[object, ...]] = {}  # key -> what status_seen set
        self._condition_types: dict[str, frozenset[str]] = {}
        self._lock = threading.Lock()

    # -- the controller's hooks --------------------------------------------------------

    def pass_done(self, key: str, outcome: Outcome, seconds: float) -> None:
        self.reconcile_seconds.labels(type(outcome).__name__).observe(seconds)
        if self._queue is not None:
            self.depth.set(len(self._queue))
            self.retries.set(self._queue.retries)

    def plan_done(self, key: str, plan: Plan) -> None:
        for entry in plan.timeline:
            if isinstance(entry, JobCreated | JobSucceeded | JobFailed):
                self.jobs.labels(entry.type.removeprefix("Job")).inc()
        for action in plan.actions:
            if isinstance(action, WriteStatus):
                self.status_seen(key, action.status)

    def status_seen(self, key: str, status: BundleStatus) -> None:
        """The bundle's status as a pass read it, or as its plan wrote it: set its
        per-bundle gauges (version lag, suspended, conditions) and the phase counts.

        Called for the status read as well as the one written, so that a replica that
        has just become the leader exports every bundle at its first pass, not only
        those whose status changes; a status that sets nothing new costs one comparison.
        """
        namespace, _, name = key.partition("/")
        recorded = (status.phase, status.conditions, *_version_pair(status))
        with self._lock:
            if self._recorded.get(key) == recorded:
                return
            self._recorded[key] = recorded
            self._move_phase(self._phases.get(key), status.phase)
            self._phases[key] = status.phase
        self.lag.labels(namespace, name).set(1 if is_behind(status) else 0)
        self.suspended.labels(namespace, name).set(1 if status.phase == "Suspended" else 0)
        self._record_conditions(key, status.conditions)

    def _move_phase(self, old: str | None, new: str | None) -> None:
        """``werfop_bundles`` as one bundle moves from ``old`` to ``new`` (None: not
        counted); under the lock, so that two workers cannot leave an older count last.
        Only the two phases concerned are set: a status change costs the same with
        10 or 10,000 bundles."""
        if old == new:
            return
        for phase, step in ((old, -1), (new, 1)):
            if phase is not None:
                self._phase_counts[phase] += step
                self.bundles.labels(phase).set(self._phase_counts[phase])

    def _record_conditions(self, key: str, conditions: tuple[Condition, ...]) -> None:
        """One series per (condition type, status): 1 for the current status, 0 for the
        others, as Flux does, so that ``== 1`` and ``== 0`` both select; the series of
        a type the status no longer carries are removed."""
        namespace, _, name = key.partition("/")
        current = exported_conditions(conditions)
        with self._lock:
            gone = self._condition_types.get(key, frozenset()) - current.keys()
            self._condition_types[key] = frozenset(current)
        for type_, status in current.items():
            for value in CONDITION_STATUSES:
                self.conditions.labels(namespace, name, type_, value).set(
                    1 if value == status else 0
                )
        self._remove_conditions(namespace, name, gone)

    def _remove_conditions(self, namespace: str, name: str, types: frozenset[str]) -> None:
        for type_ in types:
            for value in CONDITION_STATUSES:
                _remove(self.conditions, namespace, name, type_, value)

    def forget(self, key: str) -> None:
        """The bundle is gone: remove its series and leave the phase counts."""
        namespace, _, name = key.partition("/")
        with self._lock:
            self._move_phase(self._phases.pop(key, None), None)
            self._recorded.pop(key, None)
            types = self._condition_types.pop(key, frozenset())
        _remove(self.lag, namespace, name)
        _remove(self.suspended, namespace, name)
        self._remove_conditions(namespace, name, types)

    # -- leadership ----------------------------------------------------------------------

    def watch_leader(self, is_leading: Callable[[], bool]) -> None:
        """``werfop_leader`` reads ``is_leading`` at every scrape (the elector's own
        ``leading`` flag), so it can never disagree with the elector."""
        self.leader.set_function(lambda: 1.0 if is_leading() else 0.0)


def _version_pair(status: BundleStatus) -> tuple[object, ...]:
    return (
        status.desired_tag,
        status.desired_digest,
        status.last_applied_tag,
        status.last_applied_digest,
    )


def is_behind(status: BundleStatus) -> bool:
    """A version is selected that is not the applied one (``werfop_version_lag``)."""
    return status.desired_tag is not None and (
        (status.desired_tag, status.desired_digest)
        != (status.last_applied_tag, status.last_applied_digest)
    )


def exported_conditions(conditions: tuple[Condition, ...]) -> dict[str, str]:
    """The condition types that become label values, with their status: CamelCase types
    without a domain prefix, at most ``MAX_CONDITION_TYPES``, in the status's order."""
    out: dict[str, str] = {}
    for condition in conditions:
        if len(out) == MAX_CONDITION_TYPES:
            break
        if CONDITION_TYPE.fullmatch(condition.type) and condition.status in CONDITION_STATUSES:
            out.setdefault(condition.type, condition.status)
    return out


def _remove(gauge: Gauge, *labels: str) -> None:
    try:
        gauge.remove(*labels)
    except KeyError:
        pass


class CountingRegistry:
    """A ``RegistryPort`` wrapper that counts calls by host and outcome."""

    def __init__(self, inner: Any, metrics: Metrics) -> None:
        self.inner = inner
        self.metrics = metrics

    def _count(self, repository: Repository, answer: object) -> None:
        if isinstance(answer, RegistryUnavailable):
            outcome = answer.reason
        elif isinstance(answer, TagListing) and answer.not_modified:
            outcome = "NotModified"
        else:
            outcome = "OK"
        self.metrics.registry_requests.labels(repository.host, outcome).inc()

    def list_tags(
        self, repository: Repository, etag: str | None = None
    ) -> TagListing | RegistryUnavailable:
        answer = self.inner.list_tags(repository, etag)
        self._count(repository, answer)
        if isinstance(answer, TagListing):
            self.metrics.last_poll.labels(repository.url).set_to_current_time()
        return answer  # type: ignore[no-any-return]

    def resolve_digest(
        self, repository: Repository, tag: str
    ) -> DigestAnswer | RegistryUnavailable:
        answer = self.inner.resolve_digest(repository, tag)
        self._count(repository, answer)
        return answer  # type: ignore[no-any-return]
