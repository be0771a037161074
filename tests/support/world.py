"""A pure, tiny world around ``reconcile`` for unit, property and stateful tests.

It applies a plan's actions to plain values the way the executor and the API server
would (a Job appears Active, a status write replaces the status), without the runtime,
so core properties can be checked over thousands of generated histories quickly.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs

from werfop.core import jobspec, names
from werfop.core.actions import (
    AddFinalizer,
    CreateJob,
    DeleteJob,
    Plan,
    RemoveFinalizer,
    WriteStatus,
)
from werfop.core.model import (
    Bundle,
    BundleSpec,
    BundleStatus,
    ConvergeSpec,
    Inputs,
    JobObservation,
    Meta,
    RegistrySpec,
    RegistryUnavailable,
    TagList,
)
from werfop.core.reconcile import is_poll_due, reconcile

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@attrs.frozen
class FixedClock:
    moment: datetime

    def now(self) -> datetime:
        return self.moment


def digest_of(tag: str, version: int = 0) -> str:
    return jobspec.short_hash(tag, str(version), length=64).rjust(64, "0").join(("sha256:", ""))


def make_spec(**registry) -> BundleSpec:
    converge = registry.pop("converge", ConvergeSpec())
    suspend = registry.pop("suspend", False)
    registry.setdefault("url", "ghcr.io/acme/shop")
    return BundleSpec(registry=RegistrySpec(**registry), converge=converge, suspend=suspend)


@attrs.define
class World:
    spec: BundleSpec
    now: datetime = T0
    tags: dict[str, str] = attrs.field(factory=dict)
    registry_down: int | None = None  # an HTTP status while down
    retry_after: timedelta | None = None
    jobs: dict[str, JobObservation] = attrs.field(factory=dict)
    status: BundleStatus = BundleStatus()
    generation: int = 1
    finalizers: tuple[str, ...] = ()
    deleting: bool = False
    annotations: tuple[tuple[str, str], ...] = ()
    inputs: Inputs = Inputs(values_hash="v0")
    uid: str = "uid-1"
    name: str = "shop"
    plans: list[Plan] = attrs.field(factory=list)
    observed: list[Bundle] = attrs.field(factory=list)  # what each pass was given
    created: list[str] = attrs.field(factory=list)
    gone: bool = False
    # The status as the API server stores it: ``status`` is what the next pass sees,
    # the stored one with the runtime's poll record (a quiet poll writes nothing).
    stored: BundleStatus = BundleStatus()
    writes: int = 0

    def bundle(self) -> Bundle:
        meta = Meta(
            namespace="apps",
            name=self.name,
            uid=self.uid,
            generation=self.generation,
            resource_version="1",
            annotations=self.annotations,
            finalizers=self.finalizers,
            deletion_timestamp=self.now if self.deleting else None,
        )
        return Bundle(
            meta=meta,
            spec=self.spec,
            status=self.status,
            jobs=tuple(sorted(self.jobs.values(), key=lambda j: j.name)),
            inputs=self.inputs,
        )

    def snapshot(self):
        if self.registry_down is not None:
            return RegistryUnavailable(
                repository=self.spec.registry.url,
                reason="ServiceUnavailable",
                message=f"HTTP {self.registry_down}",
                status_code=self.registry_down,
                retry_after=self.retry_after,
                at=self.now,
            )
        return TagList(
            repository=self.spec.registry.url,
            tags=tuple(sorted(self.tags)),
            digests=tuple(sorted(self.tags.items())),
            at=self.now,
        )

    def step(self) -> Plan:
        """One pass at ``now``: poll when due, reconcile, apply the plan."""
        bundle = self.bundle()
        snapshot = self.snapshot() if is_poll_due(bundle, self.now) else None
        plan = reconcile(bundle, snapshot, FixedClock(self.now))
        self.observed.append(bundle)
        self.plans.append(plan)
        self.apply(plan)
        return plan

    def apply(self, plan: Plan) -> None:
        for action in plan.actions:
            if isinstance(action, WriteStatus):
                self.status = self.stored = action.status
                self.writes += 1
            elif isinstance(action, AddFinalizer | RemoveFinalizer):
                self.finalizers = action.finalizers
                if self.deleting and not self.finalizers:
                    self.gone = True
            elif isinstance(action, CreateJob):
                meta = action.job["metadata"]
                if meta["name"] not in self.jobs:
                    annotations = meta["annotations"]
                    self.jobs[meta["name"]] = JobObservation(
                        name=meta["name"],
                        namespace=meta["namespace"],
                        kind=meta["labels"][names.LABEL_JOB_KIND],
                        tag=annotations[names.ANNOTATION_TAG],
                        digest=annotations[names.ANNOTATION_DIGEST],
                        values_hash=annotations[names.ANNOTATION_VALUES_HASH],
                        attempt=int(annotations[names.ANNOTATION_ATTEMPT]),
                        state="Active",
                        started_at=self.now,
                    )
                    self.created.append(meta["name"])
            elif isinstance(action, DeleteJob):
                self.jobs.pop(action.name, None)
        if plan.polls is not None:
            self.status = plan.polls.onto(self.status)

    def finish_jobs(self, result: str = "Succeeded", log: str | None = "done") -> None:
        for name, job in list(self.jobs.items()):
            if job.state == "Active":
                self.jobs[name] = attrs.evolve(
                    job, state=result, finished_at=self.now, log_tail=log
                )

    def active_jobs(self) -> list[JobObservation]:
        return [j for j in self.jobs.values() if j.state == "Active"]

    def settle(self, limit: int = 20) -> int:
        """Pass until the plan is empty (or ``limit``); returns passes taken."""
        for count in range(1, limit + 1):
            if self.step().is_empty:
                return count
        raise AssertionError(f"no empty plan after {limit} passes: {self.plans[-1].actions}")

    def advance(self, delta: timedelta) -> None:
        self.now += delta
