"""The in-memory world the simulator builds, as a test fixture: the real runtime (built by
``runtime.bootstrap.build``, as the operator's and the simulator's) over
``MemoryCluster``, ``ScriptedRegistry`` and a ``ManualClock``.

Role: the virtual-time loop of ``werfop.simulate`` (copied, not imported: the simulator
takes a scenario file, tests need to poke the world between steps), plus
what tests want on top: a runtime that can be thrown away and rebuilt over the same
cluster and registry (a process restart), a hook to crash it after any action, a way to
put a fault-injecting fake between the controller and the cluster, and a record of
every Job the cluster ever saw, so invariants survive Job TTLs and deletions.
Must not: decide anything the operator decides, sleep, or read ambient time.
Neighbours: ``tests/stateful`` and ``tests/reliability`` drive it; ``support.world`` is
the pure, runtime-free world for core property tests.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from werfop.adapters.memory import ManualClock, MemoryCluster
from werfop.adapters.scripted_registry import Outage, ScriptedRegistry
from werfop.api.codec import decode_status
from werfop.core import names
from werfop.core.actions import Action
from werfop.core.model import BundleStatus
from werfop.core.ports import ClusterPort, RegistryPort, Watch, WatchEvent
from werfop.core.timeline import Entry
from werfop.runtime import bootstrap
from werfop.runtime.controller import Controller

START = datetime(2026, 1, 1, tzinfo=UTC)
NAMESPACE = "default"
SHOP_URL = "ghcr.io/acme/shop"
EDGE_URL = "registry.example.com/acme/edge"
VALUES_MAP = "shop-values"
MAX_PASSES_PER_INSTANT = 500

JobOutcome = tuple[str, timedelta]  # ("succeeded" | "failed", how long the Job runs)


class Crash(Exception):
    """The runtime's process died (raised from ``after_action``)."""


class HotLoop(AssertionError):
    """Too many passes at one virtual instant."""


def bundle_manifest(
    name: str,
    url: str,
    *,
    constraint: str | None = None,
    tag: str | None = None,
    poll_interval: str = "5m",
    values_from: str | None = None,
    suspend: bool = False,
    max_attempts: int = 3,
) -> dict[str, Any]:
    registry: dict[str, Any] = {"url": url, "pollInterval": poll_interval}
    if constraint is not None:
        registry["versionConstraint"] = constraint
    if tag is not None:
        registry["tag"] = tag
    converge: dict[str, Any] = {"maxAttempts": max_attempts}
    if values_from is not None:
        converge["valuesFrom"] = [{"configMapRef": {"name": values_from}}]
    spec: dict[str, Any] = {"registry": registry, "converge": converge}
    if suspend:
        spec["suspend"] = True
    return {
        "apiVersion": "werf.io/v1alpha1",
        "kind": "WerfBundle",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": spec,
    }


def shop_bundle(**overrides: Any) -> dict[str, Any]:
    """Follows semver releases 1.x, with values from a ConfigMap."""
    options: dict[str, Any] = {
        "constraint": ">=1.0.0 <2.0.0",
        "poll_interval": "5m",
        "values_from": VALUES_MAP,
    }
    return bundle_manifest("shop", SHOP_URL, **(options | overrides))


def edge_bundle(**overrides: Any) -> dict[str, Any]:
    """Follows the mutable tag ``main``."""
    options: dict[str, Any] = {"tag": "main", "poll_interval": "2m"}
    return bundle_manifest("edge", EDGE_URL, **(options | overrides))


def values_map(text: str = "replicas: 2\n") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": VALUES_MAP, "namespace": NAMESPACE},
        "data": {"values.yaml": text},
    }


@attrs.define
class JobRecord:
    """A Job as the cluster first showed it, and how it ended (if it did)."""

    name: str
    namespace: str
    bundle_uid: str
    bundle_key: str
    tag: str
    digest: str
    values_hash: str
    attempt: int
    created_at: datetime
    result: str | None = None  # "Succeeded" | "Failed" once finished
    deleted: bool = False

    @property
    def identity(self) -> tuple[str, str, str, str, int]:
        return (self.bundle_uid, self.tag, self.digest, self.values_hash, self.attempt)


class World:
    """The simulator's world. ``port`` is what the controller talks to (the cluster, or
    a fake wrapped around it); ``cluster`` is always the ``MemoryCluster`` itself.
    Likewise ``registry_port`` (what the economy asks) and ``registry`` (the script)."""

    def __init__(
        self,
        objects: list[dict[str, Any]],
        *,
        start: datetime = START,
        wrap_port: Callable[[MemoryCluster], ClusterPort] | None = None,
        after_action: Callable[[Action], None] | None = None,
        wrap_registry: Callable[[ScriptedRegistry], RegistryPort] | None = None,
        options: bootstrap.Options | None = None,
    ) -> None:
        self.clock = ManualClock(start)
        self.cluster = MemoryCluster(self.clock, self._decide_job)
        self.port: ClusterPort = wrap_port(self.cluster) if wrap_port else self.cluster
        self.registry = ScriptedRegistry(self.clock)
        # What the economy talks to: the registry, or a fake wrapped around it.
        self.registry_port: RegistryPort = (
            wrap_registry(self.registry) if wrap_registry else self.registry
        )
        self.default_outcome: JobOutcome = ("succeeded", timedelta(minutes=1))
        # (bundle name, tag or None, attempt or None) -> outcome; first match wins
        self.job_rules: list[tuple[tuple[str | None, str | None, int | None], JobOutcome]] = []
        self.jobs: dict[tuple[str, str], JobRecord] = {}
        self.timeline: list[tuple[str, datetime, Entry]] = []
        self.passes = 0  # over every runtime this world had
        self.passes_at: Counter[datetime] = Counter()
        self.restarts = 0
        # When set, each bundle keeps only this many finished Jobs (a short Job TTL).
        self.keep_finished: int | None = None
        self.cluster.create(
            "Namespace", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
        )
        for obj in sorted(objects, key=lambda o: o["kind"] == "WerfBundle"):
            self.cluster.create(obj["kind"], obj)
        self.cluster.listeners.append(self._watch_jobs)
        # each runtime's (a restart builds the same kind of runtime)
        self.options = options or bootstrap.Options()
        self.runtime: bootstrap.Runtime | None = None
        self.controller: Controller | None = None
        self._watch: Watch | None = None
        self.start_runtime(after_action)

    # -- the runtime -------------------------------------------------------------------

    def start_runtime(self, after_action: Callable[[Action], None] | None = None) -> Controller:
        """A fresh process: new economy, observer, queue and controller over the same
        cluster, registry and clock; it resyncs (lists every bundle) as a new process
        does. The old controller stops receiving watch events."""
        if self.controller is not None and self._watch is not None:
            self.passes += self.controller.passes
            self._watch.stop()
            self.restarts += 1
        self.runtime = bootstrap.build(
            self.options,
            self.port,
            self.registry_port,
            self.clock,
            bootstrap.Listeners(on_timeline=self._record, after_action=after_action),
        )
        self.controller = self.runtime.controller
        # The twin's own watch, even when ``port`` is a fake wrapped around it.
        self._watch = self.cluster.watch(self.controller.on_event)
        self.controller.resync()
        return self.controller

    @property
    def total_passes(self) -> int:
        assert self.controller is not None
        return self.passes + self.controller.passes

    def _record(self, key: str, moment: datetime, timeline: tuple[Entry, ...]) -> None:
        self.timeline.extend((key, moment, occurrence) for occurrence in timeline)

    # -- Jobs --------------------------------------------------------------------------

    def _decide_job(self, job: dict[str, Any]) -> tuple[Any, timedelta, str]:
        annotations = job["metadata"].get("annotations") or {}
        bundle = annotations.get(names.ANNOTATION_BUNDLE, "").partition("/")[2]
        tag = annotations.get(names.ANNOTATION_TAG)
        attempt = int(annotations.get(names.ANNOTATION_ATTEMPT, "1"))
        result, after = self.default_outcome
        for (rule_bundle, rule_tag, rule_attempt), outcome in self.job_rules:
            if (
                rule_bundle in (None, bundle)
                and rule_tag in (None, tag)
                and rule_attempt in (None, attempt)
            ):
                result, after = outcome
                break
        verdict = "Succeeded" if result == "succeeded" else "Error: release failed"
        return result, after, f"werf bundle apply --tag {tag}\n{verdict}\n"

    def _watch_jobs(self, kind: str, event: WatchEvent) -> None:
        if kind != "Job":
            return
        metadata = event.object["metadata"]
        key = (metadata.get("namespace", ""), metadata["name"])
        annotations = metadata.get("annotations") or {}
        if event.type == "ADDED":
            self.jobs[key] = JobRecord(
                name=metadata["name"],
                namespace=key[0],
                bundle_uid=(metadata.get("labels") or {}).get(names.LABEL_BUNDLE_UID, ""),
                bundle_key=annotations.get(names.ANNOTATION_BUNDLE, ""),
                tag=annotations.get(names.ANNOTATION_TAG, ""),
                digest=annotations.get(names.ANNOTATION_DIGEST, ""),
                values_hash=annotations.get(names.ANNOTATION_VALUES_HASH, ""),
                attempt=int(annotations.get(names.ANNOTATION_ATTEMPT, "0")),
                created_at=self.clock.now(),
            )
            return
        record = self.jobs.get(key)
        if record is None:
            return
        if event.type == "DELETED":
            record.deleted = True
        status = event.object.get("status") or {}
        if status.get("succeeded"):
            record.result = "Succeeded"
        elif status.get("failed"):
            record.result = "Failed"

    def set_outcome(
        self,
        result: str,
        after: timedelta = timedelta(minutes=1),
        *,
        bundle: str | None = None,
        tag: str | None = None,
        attempt: int | None = None,
    ) -> None:
        """How Jobs end from now on: as a rule (first match wins) or as the default."""
        if bundle is None and tag is None and attempt is None:
            self.default_outcome = (result, after)
        else:
            self.job_rules.append(((bundle, tag, attempt), (result, after)))

    def active_jobs(self) -> list[dict[str, Any]]:
        def finished(job: dict[str, Any]) -> bool:
            status = job.get("status") or {}
            return bool(status.get("succeeded") or status.get("failed"))

        return [job for job in self.cluster.list_objects("Job") if not finished(job)]

    def prune_finished_jobs(self, keep: int) -> None:
        """Delete each bundle's finished Jobs but the newest ``keep``, as a Job TTL
        shorter than ``logRetentionDays`` would."""
        finished: dict[str, list[tuple[datetime, str, str]]] = {}
        for job in self.cluster.list_objects("Job"):
            metadata, status = job["metadata"], job.get("status") or {}
            if status.get("succeeded") or status.get("failed"):
                record = self.jobs.get((metadata["namespace"], metadata["name"]))
                created = record.created_at if record is not None else self.clock.now()
                uid = (metadata.get("labels") or {}).get(names.LABEL_BUNDLE_UID, "")
                finished.setdefault(uid, []).append(
                    (created, metadata["namespace"], metadata["name"])
                )
        for jobs in finished.values():
            for _, namespace, name in sorted(jobs)[: max(0, len(jobs) - keep)]:
                self.cluster.delete("Job", namespace, name)

    def vanish(self, namespace: str, name: str) -> None:
        """Delete a Job behind the operator's back (and its Secret, as the GC would)."""
        self.cluster.delete("Job", namespace, name)

    # -- objects -----------------------------------------------------------------------

    def bundle(self, name: str) -> dict[str, Any] | None:
        return self.cluster.get("WerfBundle", NAMESPACE, name)

    def status(self, name: str) -> BundleStatus:
        found = self.bundle(name)
        return decode_status((found or {}).get("status") or {})

    def patch_bundle(self, name: str, patch: dict[str, Any]) -> None:
        self.cluster.patch("WerfBundle", NAMESPACE, name, patch)

    def set_values(self, text: str) -> None:
        current = self.cluster.get("ConfigMap", NAMESPACE, VALUES_MAP)
        if current is None:
            self.cluster.create("ConfigMap", values_map(text))
        else:
            self.cluster.patch("ConfigMap", NAMESPACE, VALUES_MAP, {"data": {"values.yaml": text}})

    def outage(
        self,
        url: str,
        length: timedelta,
        status: int | str = 503,
        retry_after: timedelta | None = None,
        at: datetime | None = None,
    ) -> None:
        start = at or self.clock.now()
        self.registry.schedule(
            url, start, Outage(until=start + length, status=status, retry_after=retry_after)
        )

    def writes(self) -> Counter[tuple[str, str]]:
        """Write requests the cluster answered, by (verb, resource)."""
        return Counter(
            {
                key: count
                for key, count in self.cluster.requests.items()
                if key[0] in ("create", "update", "patch", "delete")
            }
        )

    # -- virtual time ------------------------------------------------------------------

    def run_until(self, end: datetime) -> int:
        """The simulator's loop: jump from one due moment to the next (a queued pass, a
        Job ending or expiring) up to ``end``, ending Jobs and running every due pass;
        then the clock shows ``end``. Returns the passes run. A ``Crash`` raised by the
        runtime propagates with the clock at the moment it happened."""
        assert self.controller is not None
        passes = 0
        while True:
            controller = self.controller
            moments = [m for m in (controller.next_due(), self.cluster.next_completion()) if m]
            if not moments or min(moments) > end:
                break
            moment = max(min(moments), self.clock.now())
            self.clock.set(moment)
            self.cluster.advance(moment)
            if self.keep_finished is not None:
                self.prune_finished_jobs(self.keep_finished)
            ran = controller.run_due(moment)
            passes += ran
            self.passes_at[moment] += ran
            if self.passes_at[moment] > MAX_PASSES_PER_INSTANT:
                raise HotLoop(f"{self.passes_at[moment]} passes at {moment.isoformat()}")
        self.clock.set(max(self.clock.now(), end))
        self.cluster.advance(self.clock.now())
        return passes

    def run_for(self, delta: timedelta) -> int:
        return self.run_until(self.clock.now() + delta)

    def run_now(self) -> int:
        """Run whatever is due at this instant (after a change or a restart)."""
        return self.run_until(self.clock.now())


def missing_secrets(world: World) -> list[str]:
    """``job/secret`` for every Secret a Job's pod mounts that does not exist: such a
    pod never starts (the inputs Secret is created right after its Job)."""
    missing = []
    for job in world.cluster.list_objects("Job"):
        metadata = job["metadata"]
        pod = job["spec"]["template"]["spec"]
        for volume in pod.get("volumes", []):
            name = (volume.get("secret") or {}).get("secretName")
            if name and world.cluster.get("Secret", metadata["namespace"], name) is None:
                missing.append(f"{metadata['name']}/{name}")
    return missing
