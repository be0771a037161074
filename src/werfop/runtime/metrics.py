"""Prometheus metrics (prometheus-client), on a registry of their own.

Labels never carry a tag, an error text or a secret: registry host and outcome reason
(stable CamelCase), Job result, phase, bundle namespace/name.
"""

from __future__ import annotations

import threading
from collections import Counter as Tally
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from werfop.core.actions import Plan, WriteStatus
from werfop.core.model import RegistryUnavailable
from werfop.core.ports import DigestAnswer, Repository, TagListing
from werfop.runtime.queue import Outcome, WorkQueue

PHASES = ("Pending", "Syncing", "Synced", "Failed", "Suspended")


class Metrics:
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
        self._queue = queue
        self._phases: dict[str, str] = {}
        self._lock = threading.Lock()

    # -- the controller's hooks --------------------------------------------------------

    def pass_done(self, key: str, outcome: Outcome, seconds: float) -> None:
        self.reconcile_seconds.labels(type(outcome).__name__).observe(seconds)
        if self._queue is not None:
            self.depth.set(len(self._queue))
            self.retries.set(self._queue.retries)

    def plan_done(self, key: str, plan: Plan) -> None:
        for occurrence in plan.timeline:
            if occurrence.type in ("JobCreated", "JobSucceeded", "JobFailed"):
                self.jobs.labels(occurrence.type.removeprefix("Job")).inc()
        for action in plan.actions:
            if isinstance(action, WriteStatus):
                status = action.status
                namespace, _, name = key.partition("/")
                behind = status.desired_tag is not None and (
                    (status.desired_tag, status.desired_digest)
                    != (status.last_applied_tag, status.last_applied_digest)
                )
                self.lag.labels(namespace, name).set(1 if behind else 0)
                with self._lock:
                    self._phases[key] = status.phase
                    counts = Tally(self._phases.values())
                for phase in PHASES:
                    self.bundles.labels(phase).set(counts.get(phase, 0))

    def forget(self, key: str) -> None:
        namespace, _, name = key.partition("/")
        with self._lock:
            self._phases.pop(key, None)
        try:
            self.lag.remove(namespace, name)
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
        return answer  # type: ignore[no-any-return]

    def resolve_digest(
        self, repository: Repository, tag: str
    ) -> DigestAnswer | RegistryUnavailable:
        answer = self.inner.resolve_digest(repository, tag)
        self._count(repository, answer)
        return answer  # type: ignore[no-any-return]
