"""In-memory twins of the cluster and the clock, for the simulator and the tests.

Role: ``MemoryCluster`` keeps Kubernetes objects the way the API server does
(``resourceVersion``, ``uid``, ``generation`` bumped on spec changes only, finalizers
and ``deletionTimestamp`` (no new finalizer once it is set), a WerfBundle's spec stored
with the CRD's defaults, label selectors, conflicts on stale writes, owner-reference
garbage collection, Job TTLs, Events expiring ``EVENT_TTL`` after their last write, as
kube-apiserver's ``--event-ttl`` does) and runs Jobs to the outcome a scenario decides, with a
pod log the operator can read. ``ManualClock`` is virtual time that only moves when told.
Objects are stored frozen (``adapters.frozen``): every write copies what it was given
once, reads and watch events hand out the stored object itself, shared and read-only
(an attempt to change it raises ``TypeError``), and a new version shares its unchanged
parts with the previous one. Callers copy (``thaw``) what they mean to edit, as they
would edit a fresh copy from the API server.
Must not: know about reconcile; it implements ``ClusterPort`` and nothing more clever.
"""

from __future__ import annotations

import heapq
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Literal

import attrs

from werfop.adapters.frozen import FrozenDict, freeze, thaw
from werfop.adapters.selectors import equality_terms, matches_selector
from werfop.api.codec import format_time, parse_time, validate_spec
from werfop.core.errors import AlreadyExistsError, ConflictError, NotFoundError, TerminalError
from werfop.core.names import LABEL_MANAGED_BY, MANAGED_BY
from werfop.core.ports import Clock, Listener, Obj, WatchEvent


@attrs.define(eq=False)
class ListenerWatch:
    """A watch on the twin: synced at once (the twin has no list to wait for)."""

    cluster: MemoryCluster
    listener: Listener

    def synced(self) -> bool:
        return True

    def alive(self) -> bool:
        return True

    def stop(self, timeout: float = 10.0) -> None:
        if self.listener in self.cluster.listeners:
            self.cluster.listeners.remove(self.listener)


JobResult = Literal["succeeded", "failed"]
# How a Job ends: result, after how long, its log, and optionally the exit code (default
# 0 for succeeded, 1 for failed; a drift check that found drift fails with 2).
JobDecider = Callable[
    [Obj], tuple[JobResult, timedelta, str] | tuple[JobResult, timedelta, str, int]
]

_UID_NAMESPACE = uuid.UUID("6f1d8a4e-52c4-4a1b-9d65-2f6b3f7e0c11")

# kube-apiserver's --event-ttl default: an Event is deleted this long after it was last
# written (an etcd lease renewed by each write).
EVENT_TTL = timedelta(hours=1)


class ManualClock:
    """Virtual time: ``now`` is what ``set``/``advance``/``sleep`` made it."""

    def __init__(self, start: datetime):
        self._now = start

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        if moment < self._now:
            raise ValueError("a ManualClock never goes backwards")
        self._now = moment

    def advance(self, delta: timedelta) -> None:
        self.set(self._now + delta)

    def sleep(self, delay: timedelta) -> None:
        if delay > timedelta(0):
            self.advance(delay)


Key = tuple[str, str, str]  # (kind, namespace, name)


class _Store(dict[Key, Obj]):
    """Objects by key, indexed by kind, by (kind, label, value) and by owner uid, so a
    label-selected list or an owner's garbage collection never scans everything.
    Only string label values are indexed: the selector ``a=b`` matches no other."""

    def __init__(self) -> None:
        super().__init__()
        self.by_kind: dict[str, set[Key]] = {}
        self.by_label: dict[tuple[str, str, str], set[Key]] = {}
        self.by_owner: dict[str, set[Key]] = {}
        # (kind, label, value) -> its keys in order, for the one-label lists every pass
        # makes (a bundle's Jobs); dropped whenever that index entry changes.
        self._ordered: dict[tuple[str, str, str], tuple[Key, ...]] = {}

    def _entries(self, key: Key, obj: Obj) -> list[set[Key]]:
        meta = obj.get("metadata") or {}
        sets = [self.by_kind.setdefault(key[0], set())]
        for label, value in (meta.get("labels") or {}).items():
            if isinstance(value, str):
                sets.append(self.by_label.setdefault((key[0], label, value), set()))
        for owner in meta.get("ownerReferences") or []:
            sets.append(self.by_owner.setdefault(str(owner.get("uid")), set()))
        return sets

    def __setitem__(self, key: Key, obj: Obj) -> None:
        old = self.get(key)
        if old is not None:
            if _indexed(old) == _indexed(obj):  # most writes: a status, a resourceVersion
                super().__setitem__(key, obj)
                return
            self._unindex(key, old)
        super().__setitem__(key, obj)
        for entry in self._entries(key, obj):
            entry.add(key)
        self._forget_order(key, obj)

    def replace(self, key: Key, obj: Obj) -> None:
        """Store a new version whose labels and owners are the stored version's own
        objects (a status write): the indexes need no change."""
        super().__setitem__(key, obj)

    def pop(self, key: Key) -> Obj:  # type: ignore[override]
        obj = super().pop(key)
        self._unindex(key, obj)
        return obj

    def _unindex(self, key: Key, obj: Obj) -> None:
        for entry in self._entries(key, obj):
            entry.discard(key)
        self._forget_order(key, obj)

    def _forget_order(self, key: Key, obj: Obj) -> None:
        for label, value in ((obj.get("metadata") or {}).get("labels") or {}).items():
            if isinstance(value, str):
                self._ordered.pop((key[0], label, value), None)

    def ordered(self, kind: str, selector: str) -> tuple[Key, ...] | None:
        """The keys matching a one-equality selector (``a=b``), in order; None for any
        other selector."""
        equalities = equality_terms(selector)
        if equalities is None or len(equalities) != 1:
            return None
        entry = (kind, *equalities[0])
        found = self._ordered.get(entry)
        if found is None:
            found = self._ordered[entry] = tuple(sorted(self.by_label.get(entry, ())))
        return found

    def candidates(self, kind: str, selector: str) -> tuple[set[Key], bool]:
        """The keys that may match, and whether they are exactly the matches (a selector
        of equality terms only, answered from the label index alone)."""
        equalities = equality_terms(selector)
        if equalities is not None:
            found = self.by_kind.get(kind, set())
            for label, value in equalities:
                found = found & self.by_label.get((kind, label, value), set())
            return found, True
        best = self.by_kind.get(kind, set())
        for term in selector.split(","):
            term = term.strip()
            if "=" in term and "!=" not in term and "(" not in term:
                label, value = term.replace("==", "=").split("=", 1)
                found = self.by_label.get((kind, label.strip(), value.strip()), set())
                if len(found) < len(best):
                    best = found
        return best, False


@attrs.define
class _PendingJob:
    at: datetime
    namespace: str
    name: str
    result: JobResult
    log: str
    exit_code: int = 0


class MemoryCluster:
    """A ``ClusterPort`` over dicts. Kinds: WerfBundle, Job, Secret, ConfigMap,
    ServiceAccount, Namespace, Event, Pod (logs only)."""

    def __init__(self, clock: Clock, decide_job: JobDecider | None = None):
        self.clock = clock
        self.decide_job = decide_job or (lambda job: ("succeeded", timedelta(minutes=1), ""))
        self.objects = _Store()
        self._expiries: list[tuple[datetime, Key]] = []  # Job TTLs, a heap
        # (moment, stored object, whether that object expires at that moment)
        self._expiry_checked: tuple[datetime, Obj, bool] | None = None
        # Event TTLs, a heap of (expiry, key, resourceVersion of the write that set it).
        self._event_expiries: list[tuple[datetime, Key, str]] = []
        self.logs: dict[tuple[str, str], str] = {}
        self.exit_codes: dict[tuple[str, str], int] = {}
        self.listeners: list[Listener] = []
        self.pending: list[_PendingJob] = []
        self.requests: dict[tuple[str, str], int] = {}
        self._version = 0
        self._incarnations: dict[tuple[str, str, str], int] = {}

    # -- storage -------------------------------------------------------------------------

    def _count(self, verb: str, kind: str) -> None:
        self.requests[(verb, kind)] = self.requests.get((verb, kind), 0) + 1

    def _next_version(self) -> str:
        self._version += 1
        return str(self._version)

    def _notify(self, kind: str, type_: Literal["ADDED", "MODIFIED", "DELETED"], obj: Obj) -> None:
        """Every listener gets the same event: the object is frozen, so sharing is safe."""
        event = WatchEvent(type=type_, object=obj)
        for listener in list(self.listeners):
            listener(kind, event)

    def create(self, kind: str, obj: Obj) -> Obj:
        """Store a copy of ``obj`` (never ``obj`` itself); returns the stored object."""
        meta = dict(obj.get("metadata") or {})
        namespace = meta.get("namespace", "") if kind != "Namespace" else ""
        key = (kind, namespace, meta["name"])
        if key in self.objects:
            raise AlreadyExistsError(f"{kind} {namespace}/{meta['name']} already exists")
        # The uid follows the object's identity and how often it was created, never the
        # order of creation: the same objects give the same uids (so the same Job names
        # and poll times) whatever order the files were given in.
        incarnation = self._incarnations[key] = self._incarnations.get(key, 0) + 1
        meta["uid"] = str(
            uuid.uuid5(_UID_NAMESPACE, f"{kind}/{namespace}/{meta['name']}/{incarnation}")
        )
        meta["resourceVersion"] = self._next_version()
        meta["generation"] = 1
        meta["creationTimestamp"] = format_time(self.clock.now())
        stored = freeze({**_defaulted(kind, obj), "metadata": meta})
        self.objects[key] = stored
        if kind == "Event":
            self._expire_event_later(key, stored)
        self._notify(kind, "ADDED", stored)
        return stored

    def _expire_event_later(self, key: Key, stored: Obj) -> None:
        moment = self.clock.now() + EVENT_TTL
        heapq.heappush(self._event_expiries, (moment, key, stored["metadata"]["resourceVersion"]))

    def get(self, kind: str, namespace: str, name: str) -> Obj | None:
        """The stored object, frozen (``thaw`` it to edit)."""
        return self.objects.get((kind, namespace if kind != "Namespace" else "", name))

    def list_objects(
        self, kind: str, namespace: str | None = None, selector: str = ""
    ) -> list[Obj]:
        """The stored objects, frozen, in key order."""
        out = []
        ordered = self.objects.ordered(kind, selector)
        if ordered is not None:
            return [
                self.objects[key] for key in ordered if namespace is None or key[1] == namespace
            ]
        keys, exact = self.objects.candidates(kind, selector)
        for key in sorted(keys):
            if namespace is not None and key[1] != namespace:
                continue
            obj = self.objects[key]
            if exact or matches_selector(obj["metadata"].get("labels") or {}, selector):
                out.append(obj)
        return out

    def update(self, kind: str, obj: Obj, *, subresource: str | None = None) -> Obj:
        """Replace an object, as PUT does: a stale resourceVersion is a conflict; the main
        resource ignores status and the status subresource ignores everything else."""
        meta = obj["metadata"]
        namespace = meta.get("namespace", "")
        key = (kind, namespace, meta["name"])
        current = self.objects.get(key)
        if current is None:
            raise NotFoundError(f"{kind} {namespace}/{meta['name']} not found")
        given = meta.get("resourceVersion")
        if subresource == "status":
            return self._write_status(key, current, given, obj.get("status", {}))
        if given and given != current["metadata"]["resourceVersion"]:
            raise ConflictError(f"{kind} {namespace}/{meta['name']} was modified")
        _check_finalizers(kind, current, meta)
        if obj.get("spec") != current.get("spec"):
            obj = _defaulted(kind, obj)
        # A shallow copy: the parts written below are frozen copies of the caller's, the
        # rest is shared with ``current`` (frozen, so never changed in place).
        new = dict(current)
        new_meta = dict(current["metadata"])
        new["metadata"] = new_meta
        for field, value in obj.items():
            if field not in ("metadata", "status"):
                new[field] = freeze(value)
        for field in ("labels", "annotations", "finalizers", "ownerReferences"):
            if field in meta:
                new_meta[field] = freeze(meta[field])
        if kind != "WerfBundle" and "status" in obj:  # built-ins without a subresource
            new["status"] = freeze(obj["status"])
        if _spec_of(new) != _spec_of(current):
            new_meta["generation"] = current["metadata"].get("generation", 1) + 1
        if new == current:
            return current
        new_meta["resourceVersion"] = self._next_version()
        if new_meta.get("deletionTimestamp") and not new_meta.get("finalizers"):
            return self._remove(key)
        stored = FrozenDict({**new, "metadata": FrozenDict(new_meta)})
        self.objects[key] = stored
        if kind == "Event":
            self._expire_event_later(key, stored)
        self._notify(kind, "MODIFIED", stored)
        return stored

    def _write_status(self, key: Key, current: Obj, given: str | None, status: Obj) -> Obj:
        """``update`` of the status subresource (one per pass, so it has its own path):
        everything but the status and the resourceVersion is shared with ``current``,
        labels and owners included, so the store's indexes stay as they are."""
        kind, namespace, name = key
        if given and given != current["metadata"]["resourceVersion"]:
            raise ConflictError(f"{kind} {namespace}/{name} was modified")
        new_status = freeze(status)
        if "status" in current and current["status"] == new_status:
            return current  # nothing changed: no new version, no event
        new_meta = dict(current["metadata"])
        new_meta["resourceVersion"] = self._next_version()
        if new_meta.get("deletionTimestamp") and not new_meta.get("finalizers"):
            return self._remove(key)
        stored = FrozenDict({**current, "metadata": FrozenDict(new_meta), "status": new_status})
        self.objects.replace(key, stored)
        if kind == "Event":
            self._expire_event_later(key, stored)
        self._notify(kind, "MODIFIED", stored)
        return stored

    def patch(self, kind: str, namespace: str, name: str, patch: Obj) -> Obj:
        """A JSON merge patch (RFC 7386) on the main resource."""
        current = self.get(kind, namespace, name)
        if current is None:
            raise NotFoundError(f"{kind} {namespace}/{name} not found")
        merged = _merge_patch(current, patch)
        metadata = {**merged["metadata"], "resourceVersion": current["metadata"]["resourceVersion"]}
        return self.update(kind, {**merged, "metadata": metadata})

    def delete(self, kind: str, namespace: str, name: str) -> None:
        key = (kind, namespace if kind != "Namespace" else "", name)
        current = self.objects.get(key)
        if current is None:
            raise NotFoundError(f"{kind} {namespace}/{name} not found")
        if current["metadata"].get("finalizers"):
            if not current["metadata"].get("deletionTimestamp"):
                meta = dict(current["metadata"])
                meta["deletionTimestamp"] = format_time(self.clock.now())
                meta["generation"] = meta.get("generation", 1) + 1
                meta["resourceVersion"] = self._next_version()
                stored = freeze({**current, "metadata": meta})
                self.objects[key] = stored
                if kind == "Event":
                    self._expire_event_later(key, stored)
                self._notify(kind, "MODIFIED", stored)
            return
        self._remove(key)

    def _remove(self, key: Key) -> Obj:
        removed = self.objects.pop(key)
        self._notify(key[0], "DELETED", removed)
        uid = str(removed["metadata"].get("uid"))
        for other_key in sorted(self.objects.by_owner.get(uid, set())):
            if other_key in self.objects:
                self._remove(other_key)  # garbage collection by owner reference
        return removed

    # -- ClusterPort -------------------------------------------------------------------

    def list_bundles(self) -> list[Obj]:
        self._count("list", "werfbundles")
        return self.list_objects("WerfBundle")

    def get_bundle(self, namespace: str, name: str) -> Obj:
        self._count("get", "werfbundles")
        found = self.get("WerfBundle", namespace, name)
        if found is None:
            raise NotFoundError(f"WerfBundle {namespace}/{name} not found")
        return found

    def patch_bundle_metadata(
        self, namespace: str, name: str, resource_version: str, finalizers: list[str]
    ) -> Obj:
        self._count("patch", "werfbundles")
        current = self.get_bundle(namespace, name)
        metadata = {
            **current["metadata"],
            "finalizers": list(finalizers),
            "resourceVersion": resource_version,
        }
        return self.update("WerfBundle", {**current, "metadata": metadata})

    def replace_bundle_status(
        self, namespace: str, name: str, resource_version: str, status: Obj
    ) -> Obj:
        self._count("update", "werfbundles/status")
        current = self.get_bundle(namespace, name)
        return self._write_status(
            ("WerfBundle", namespace, name), current, resource_version, status
        )

    def list_jobs(self, label_selector: str) -> list[Obj]:
        """werfop's Jobs only (``LABEL_MANAGED_BY``), as the real adapter's Job informer
        holds them."""
        self._count("list", "jobs")
        return [
            job
            for job in self.list_objects("Job", None, label_selector)
            if (job["metadata"].get("labels") or {}).get(LABEL_MANAGED_BY) == MANAGED_BY
        ]

    def get_job(self, namespace: str, name: str) -> Obj | None:
        self._count("get", "jobs")
        return self.get("Job", namespace, name)

    def create_job(self, job: Obj) -> Obj:
        self._count("create", "jobs")
        namespace = job["metadata"]["namespace"]
        if self.get("Namespace", "", namespace) is None:
            raise NotFoundError(f"namespace {namespace} not found")
        created = self.create("Job", job)
        # The Job controller starts it at once (the ADDED event showed it unstarted).
        status = {**(created.get("status") or {}), "startTime": format_time(self.clock.now())}
        created = freeze({**created, "status": status})
        self.objects[("Job", namespace, job["metadata"]["name"])] = created
        decided = self.decide_job(created)
        result, after, log = decided[0], decided[1], decided[2]
        code = decided[3] if len(decided) > 3 else (0 if result == "succeeded" else 1)
        self.pending.append(
            _PendingJob(
                at=self.clock.now() + after,
                namespace=namespace,
                name=job["metadata"]["name"],
                result=result,
                log=log,
                exit_code=code,
            )
        )
        return created

    def delete_job(self, namespace: str, name: str) -> None:
        self._count("delete", "jobs")
        self.delete("Job", namespace, name)

    def get_secret(self, namespace: str, name: str) -> Obj | None:
        self._count("get", "secrets")
        return self.get("Secret", namespace, name)

    def create_secret(self, secret: Obj) -> None:
        self._count("create", "secrets")
        self.create("Secret", secret)

    def get_config_map(self, namespace: str, name: str) -> Obj | None:
        self._count("get", "configmaps")
        return self.get("ConfigMap", namespace, name)

    def list_config_maps(self, namespace: str, label_selector: str) -> list[Obj]:
        self._count("list", "configmaps")
        return self.list_objects("ConfigMap", namespace, label_selector)

    def apply_config_map(self, config_map: Obj) -> None:
        meta = config_map["metadata"]
        try:
            self._count("create", "configmaps")
            self.create("ConfigMap", config_map)
        except AlreadyExistsError:
            self._count("update", "configmaps")
            replacement = thaw(config_map)
            replacement["metadata"].pop("resourceVersion", None)
            self.update("ConfigMap", replacement)
            del meta  # the caller's object is never modified

    def delete_config_map(self, namespace: str, name: str) -> None:
        self._count("delete", "configmaps")
        self.delete("ConfigMap", namespace, name)

    def get_service_account(self, namespace: str, name: str) -> Obj | None:
        self._count("get", "serviceaccounts")
        return self.get("ServiceAccount", namespace, name)

    def get_namespace(self, name: str) -> Obj | None:
        self._count("get", "namespaces")
        return self.get("Namespace", "", name)

    def create_event(self, event: Obj) -> None:
        self._count("create", "events")
        try:
            self.create("Event", event)
        except AlreadyExistsError:
            pass

    def read_job_exit_code(self, namespace: str, job_name: str) -> int | None:
        self._count("list", "pods")
        return self.exit_codes.get((namespace, job_name))

    def read_job_log(self, namespace: str, job_name: str, tail_lines: int) -> str | None:
        self._count("get", "pods/log")
        text = self.logs.get((namespace, job_name))
        if text is None:
            return None
        lines = text.splitlines(keepends=True)
        return "".join(lines[-tail_lines:])

    def watch(self, listener: Listener, *, secrets: bool = False) -> ListenerWatch:
        """The port's watch: the twin calls its listeners as it writes (in the writer's
        thread), every kind and every object; the runtime filters what it needs."""
        self.listeners.append(listener)
        return ListenerWatch(self, listener)

    # -- the Job controller stand-in -----------------------------------------------------

    def next_completion(self) -> datetime | None:
        """When the next running Job ends, or the next finished Job's TTL expires. Event
        expiries are not moments of their own: nothing watches Events, so they are
        deleted by the next ``advance`` past their TTL."""
        moments = [p.at for p in self.pending]
        while self._expiries and not self._expires_at(*self._expiries[0]):
            heapq.heappop(self._expiries)  # the Job is gone, or its TTL moved
        if self._expiries:
            moments.append(self._expiries[0][0])
        return min(moments, default=None)

    def _expires_at(self, moment: datetime, key: Key) -> bool:
        obj = self.objects.get(key)
        if obj is None:
            return False
        # Asked at every step of the simulation about the same heap top: a stored
        # object never changes, so the answer for (moment, that object) is kept.
        checked = self._expiry_checked
        if checked is not None and checked[0] == moment and checked[1] is obj:
            return checked[2]
        answer = _ttl_expiry(obj) == moment
        self._expiry_checked = (moment, obj, answer)
        return answer

    def advance(self, now: datetime) -> None:
        """End the Jobs due by ``now`` (in order) and delete the Jobs and Events past their
        TTL."""
        due: list[_PendingJob] = []
        if any(p.at <= now for p in self.pending):
            due = sorted((p for p in self.pending if p.at <= now), key=lambda p: (p.at, p.name))
            self.pending = [p for p in self.pending if p.at > now]
        for item in due:
            current = self.get("Job", item.namespace, item.name)
            if current is None:
                continue
            moment = format_time(item.at)
            status = dict(current.get("status") or {})
            if item.result == "succeeded":
                status.update(succeeded=1, completionTime=moment)
                status["conditions"] = [
                    {"type": "Complete", "status": "True", "lastTransitionTime": moment}
                ]
            else:
                status.update(failed=1)
                status["conditions"] = [
                    {
                        "type": "Failed",
                        "status": "True",
                        "reason": "BackoffLimitExceeded",
                        "message": "Job has reached the specified backoff limit",
                        "lastTransitionTime": moment,
                    }
                ]
            self.logs[(item.namespace, item.name)] = item.log
            self.exit_codes[(item.namespace, item.name)] = item.exit_code
            updated = self.update("Job", {**current, "status": status})
            expiry = _ttl_expiry(updated)
            if expiry is not None:
                heapq.heappush(self._expiries, (expiry, ("Job", item.namespace, item.name)))
        while self._expiries and self._expiries[0][0] <= now:
            expired, job_key = heapq.heappop(self._expiries)
            if self._expires_at(expired, job_key):
                self._remove(job_key)
        events = self._event_expiries
        while events and events[0][0] <= now:
            _, event_key, version = heapq.heappop(events)
            current = self.objects.get(event_key)
            if current is not None and current["metadata"]["resourceVersion"] == version:
                self._remove(event_key)  # else deleted, or written again since (a later entry)


def _defaulted(kind: str, obj: Obj) -> Obj:
    """A WerfBundle with the CRD's defaults in its spec, as the API server stores it (the
    CRD is rendered from the same schema); a spec with problems is stored as given."""
    spec = obj.get("spec")
    if kind != "WerfBundle" or not isinstance(spec, dict):
        return obj
    defaulted, problems = validate_spec(thaw(spec))
    return obj if problems else {**obj, "spec": defaulted}


def _check_finalizers(kind: str, current: Obj, meta: Obj) -> None:
    """The API server refuses a new finalizer on an object being deleted (HTTP 422)."""
    if not current["metadata"].get("deletionTimestamp") or "finalizers" not in meta:
        return
    old = current["metadata"].get("finalizers") or ()
    added = [f for f in meta.get("finalizers") or () if f not in old]
    if added:
        name = f"{current['metadata'].get('namespace', '')}/{current['metadata']['name']}"
        raise TerminalError(
            f"{kind} {name}: metadata.finalizers: Forbidden: no new finalizers can be added "
            f"if the object is being deleted, found new finalizers {added}"
        )


def _indexed(obj: Obj) -> tuple[Any, Any]:
    """What ``_Store`` indexes an object by, besides its kind: labels and owners."""
    meta = obj.get("metadata") or {}
    return meta.get("labels"), meta.get("ownerReferences")


def _spec_of(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


def _ttl_expiry(job: Obj) -> datetime | None:
    ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
    status = job.get("status") or {}
    if ttl is None or not (status.get("succeeded") or status.get("failed")):
        return None
    ended = parse_time(status.get("completionTime"))
    if ended is None:
        ended = parse_time(((status.get("conditions") or [{}])[0]).get("lastTransitionTime"))
    return None if ended is None else ended + timedelta(seconds=int(ttl))


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 on a frozen ``target``: the maps on the patch's paths are new plain dicts,
    everything else is shared with ``target`` (``update`` freezes what it stores)."""
    if not isinstance(patch, dict):
        return thaw(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (exported for the simulator's scenario changes): a new,
    plain and mutable document; ``target`` is not changed."""
    return _merge_patch(thaw(target), patch)
