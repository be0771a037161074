"""Thread-safe in-memory cluster state with the write semantics of the Kubernetes API server.

The store owns every object, the global ``resourceVersion`` counter and a bounded per-resource
event history that watches resume from. HTTP handlers call the API-style methods
(:meth:`Store.create`, :meth:`Store.update`, :meth:`Store.patch`, :meth:`Store.delete`);
tests and controller stand-ins may use the direct ones (:meth:`Store.put`, :meth:`Store.mutate`,
:meth:`Store.remove`), which skip API rules such as status isolation but still bump
resource versions and emit watch events.
"""

from __future__ import annotations

import builtins
import collections
import copy
import dataclasses
import datetime
import threading
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from kubeapi import errors, patching, validation
from kubeapi.resources import NAMESPACES, ResourceRegistry, ResourceType

Obj = dict[str, Any]
Listener = Callable[[ResourceType, "StoredEvent"], None]
SYSTEM_FIELDS = (
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "resourceVersion",
    "selfLink",
    "managedFields",
)
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


@dataclasses.dataclass(frozen=True)
class StoredEvent:
    """A change of one object; ``prev`` is the state before it (None for ADDED)."""

    rv: int
    type: str  # ADDED, MODIFIED, DELETED
    obj: Obj
    prev: Obj | None


class Expired(Exception):  # named after the Kubernetes reason
    """The requested resourceVersion is older than the retained history."""

    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"too old resource version: {requested} ({oldest})")
        self.requested = requested
        self.oldest = oldest


@dataclasses.dataclass
class _History:
    events: collections.deque[StoredEvent] = dataclasses.field(default_factory=collections.deque)
    compacted_rv: int = 0  # the newest resourceVersion that is no longer in ``events``


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def spec_part(obj: Obj) -> Obj:
    """Everything that is neither metadata nor status: a change here bumps the generation."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


class Store:
    """All objects of all served resources, guarded by one lock."""

    def __init__(
        self,
        registry: ResourceRegistry,
        *,
        history_size: int = 1000,
        strict_namespaces: bool = True,
        namespaces: Iterable[str] = DEFAULT_NAMESPACES,
    ) -> None:
        self.registry = registry
        self.history_size = history_size
        self.strict_namespaces = strict_namespaces
        self._lock = threading.RLock()
        self._rv = 0
        self._objects: dict[ResourceType, dict[tuple[str, str], Obj]] = {}
        self._histories: dict[ResourceType, _History] = {}
        self._listeners: list[Listener] = []
        self._policies: dict[str, str] = {}  # uid -> propagation policy of a pending deletion
        self._logs: dict[tuple[str, str, str], str] = {}
        for rt in registry:
            self._objects[rt] = {}
            self._histories[rt] = _History()
        for namespace in namespaces:
            self.create(NAMESPACES, None, {"metadata": {"name": namespace}})

    # ----- notifications -------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    # ----- reads -----------------------------------------------------------------------------

    @property
    def resource_version(self) -> int:
        with self._lock:
            return self._rv

    def find(self, rt: ResourceType, namespace: str | None, name: str) -> Obj | None:
        with self._lock:
            obj = self._objects[rt].get(self._key(rt, namespace, name))
            return copy.deepcopy(obj) if obj is not None else None

    def get(self, rt: ResourceType, namespace: str | None, name: str) -> Obj:
        obj = self.find(rt, namespace, name)
        if obj is None:
            raise errors.not_found(rt, name)
        return obj

    def list(self, rt: ResourceType, namespace: str | None = None) -> tuple[list[Obj], int]:
        """Objects sorted by namespace and name (like etcd keys), and the current version."""
        with self._lock:
            items = [
                copy.deepcopy(obj)
                for (ns, _), obj in sorted(self._objects[rt].items())
                if namespace is None or not rt.namespaced or ns == namespace
            ]
            return items, self._rv

    def events_since(self, rt: ResourceType, rv: int) -> builtins.list[StoredEvent]:
        """Events newer than ``rv``; raise :class:`Expired` if some were already dropped."""
        with self._lock:
            history = self._histories[rt]
            if rv < history.compacted_rv:
                raise Expired(rv, history.compacted_rv)
            return [event for event in history.events if event.rv > rv]

    # ----- API writes ------------------------------------------------------------------------

    def create(self, rt: ResourceType, namespace: str | None, body: Any) -> Obj:
        obj = self._checked_body(rt, body)
        meta = obj["metadata"]
        if rt.namespaced:
            if meta.get("namespace") and namespace and meta["namespace"] != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match "
                    "the namespace sent on the request"
                )
            namespace = namespace or meta.get("namespace") or None
        validation.validate_name(rt, meta.get("name"))
        with self._lock:
            if rt.namespaced:
                self._check_namespace_open(rt, meta["name"], namespace)
            key = self._key(rt, namespace, meta["name"])
            if key in self._objects[rt]:
                raise errors.already_exists(rt, meta["name"])
            if meta.get("resourceVersion"):  # what etcd3 storage answers, as a 500
                raise errors.ApiError(
                    500, "", "resourceVersion should not be set on objects to be created"
                )
            for field in SYSTEM_FIELDS:
                meta.pop(field, None)
            self._fill_identity(rt, obj, namespace)
            validation.apply_create_defaults(rt, obj)
            return self._insert(rt, key, obj)

    def update(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        body: Any,
        *,
        subresource: str | None = None,
    ) -> Obj:
        """PUT: replace the object (or only its status for ``subresource='status'``)."""
        obj = self._checked_body(rt, body)
        meta = obj["metadata"]
        meta.setdefault("name", name)
        if meta["name"] != name:
            raise errors.bad_request(
                f"the name of the object ({meta['name']}) does not match "
                f"the name on the URL ({name})"
            )
        if rt.namespaced and meta.get("namespace") and meta["namespace"] != namespace:
            raise errors.bad_request(
                f"the namespace of the object ({meta['namespace']}) does "
                f"not match the namespace on the request ({namespace})"
            )
        with self._lock:
            current = self._current(rt, namespace, name)
            if not meta.get("resourceVersion") and rt.custom:
                raise errors.invalid(
                    rt,
                    name,
                    "metadata.resourceVersion",
                    "FieldValueInvalid",
                    "Invalid value: 0x0: must be specified for an update",
                )
            return self._api_update(rt, current, obj, subresource)

    def patch(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        content_type: str,
        body: Any,
        *,
        subresource: str | None = None,
    ) -> Obj:
        """PATCH with a merge, strategic-merge or JSON patch (given by its content type)."""
        with self._lock:
            current = self._current(rt, namespace, name)
            patched = self._apply_patch(rt, current, content_type, body)
            meta = patched.get("metadata") if isinstance(patched, dict) else None
            if not isinstance(meta, dict):
                raise errors.bad_request("the patched object has no valid metadata")
            if meta.get("name") != name:
                raise errors.bad_request(
                    f"the name of the object ({meta.get('name')}) does not "
                    f"match the name on the URL ({name})"
                )
            return self._api_update(rt, current, patched, subresource)

    def delete(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        *,
        propagation: str | None = None,
        preconditions: dict[str, Any] | None = None,
    ) -> tuple[Obj, bool]:
        """Delete or start deleting; return the object and whether it is gone already."""
        with self._lock:
            current = self._current(rt, namespace, name)
            self._check_preconditions(rt, current, preconditions or {})
            return self._delete(rt, current, propagation or rt.default_propagation)

    def delete_collection(
        self, rt: ResourceType, namespace: str | None, matches: Callable[[Obj], bool]
    ) -> builtins.list[Obj]:
        with self._lock:
            results = []
            for key in sorted(self._objects[rt]):
                obj = self._objects[rt].get(key)  # a cascade may have removed it meanwhile
                if obj is not None and (namespace is None or key[0] == namespace) and matches(obj):
                    results.append(self._delete(rt, obj, rt.default_propagation)[0])
            return results

    # ----- direct writes (for tests and controller stand-ins) --------------------------------

    def put(self, rt: ResourceType, obj: Obj) -> Obj:
        """Create or replace an object as given (status included), keeping its identity."""
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        with self._lock:
            current = self.find(rt, meta.get("namespace"), meta["name"])
            if current is None:
                key = self._key(rt, meta.get("namespace"), meta["name"])
                for field in ("uid", "resourceVersion", "creationTimestamp", "generation"):
                    meta.pop(field, None)
                self._fill_identity(rt, obj, meta.get("namespace"))
                validation.normalize(rt, obj)
                return self._insert(rt, key, obj)
            for field in ("uid", "creationTimestamp"):
                meta[field] = current["metadata"][field]
            meta.pop("generation", None)
            return self._commit_update(rt, current, obj)

    def mutate(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        change: Callable[[Obj], Obj | None],
    ) -> Obj:
        """Atomically read, change (in place or by returning a new dict) and write an object."""
        with self._lock:
            current = self._current(rt, namespace, name)
            draft = copy.deepcopy(current)
            changed = change(draft)
            return self.put(rt, changed if changed is not None else draft)

    def remove(self, rt: ResourceType, namespace: str | None, name: str) -> Obj:
        """Delete at once, ignoring finalizers."""
        with self._lock:
            return self._remove(self._current(rt, namespace, name), rt, rt.default_propagation)

    def set_pod_log(self, namespace: str, pod: str, container: str, text: str) -> None:
        with self._lock:
            self._logs[namespace, pod, container] = text

    def pod_log(self, namespace: str, pod: str, container: str) -> str:
        with self._lock:
            return self._logs.get((namespace, pod, container), "")

    # ----- internals -------------------------------------------------------------------------

    @staticmethod
    def _key(rt: ResourceType, namespace: str | None, name: str) -> tuple[str, str]:
        return (namespace or "") if rt.namespaced else "", name

    def _current(self, rt: ResourceType, namespace: str | None, name: str) -> Obj:
        obj = self._objects[rt].get(self._key(rt, namespace, name))
        if obj is None:
            raise errors.not_found(rt, name)
        return obj

    @staticmethod
    def _checked_body(rt: ResourceType, body: Any) -> Obj:
        if not isinstance(body, dict):
            raise errors.bad_request("the request body is not a JSON object")
        obj = copy.deepcopy(body)
        if obj.get("kind") not in (None, "", rt.kind):
            raise errors.bad_request(
                f"the kind in the data ({obj['kind']}) does not match the expected kind ({rt.kind})"
            )
        if obj.get("apiVersion") not in (None, "", rt.api_version):
            raise errors.bad_request(
                f"the API version in the data ({obj['apiVersion']}) does "
                f"not match the expected API version ({rt.api_version})"
            )
        if not isinstance(obj.setdefault("metadata", {}), dict):
            raise errors.bad_request("metadata must be an object")
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        return obj

    def _fill_identity(self, rt: ResourceType, obj: Obj, namespace: str | None) -> None:
        meta = obj["metadata"]
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        if rt.namespaced:
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339()
        if rt.tracks_generation:
            meta["generation"] = 1

    def _check_namespace_open(self, rt: ResourceType, name: str, namespace: str | None) -> None:
        ns_obj = self._objects.get(NAMESPACES, {}).get(("", namespace or ""))
        if ns_obj is None:
            if self.strict_namespaces:
                raise errors.namespace_not_found(namespace or "")
        elif ns_obj["metadata"].get("deletionTimestamp"):
            raise errors.namespace_terminating(rt, name, namespace or "")

    def _check_preconditions(self, rt: ResourceType, current: Obj, pre: dict[str, Any]) -> None:
        meta = current["metadata"]
        for field, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
            if pre.get(field) and pre[field] != meta.get(field):
                raise errors.conflict(
                    rt,
                    meta["name"],
                    f"Precondition failed: {label} in precondition: "
                    f"{pre[field]}, {label} in object meta: {meta.get(field)}",
                )

    def _apply_patch(self, rt: ResourceType, current: Obj, content_type: str, body: Any) -> Any:
        try:
            if content_type == MERGE_PATCH:
                if not isinstance(body, dict):
                    raise errors.bad_request("a merge patch must be a JSON object")
                return patching.merge_patch(current, body)
            if content_type == STRATEGIC_PATCH and not rt.custom:
                if not isinstance(body, dict):
                    raise errors.bad_request("a strategic merge patch must be a JSON object")
                return patching.strategic_merge_patch(current, body)
            if content_type == JSON_PATCH:
                return patching.json_patch(current, body)
        except patching.PatchError as exc:
            raise errors.ApiError(422, "Invalid", str(exc)) from exc
        accepted = [JSON_PATCH, MERGE_PATCH] + ([] if rt.custom else [STRATEGIC_PATCH])
        raise errors.unsupported_media_type(content_type, accepted)

    def _api_update(
        self, rt: ResourceType, current: Obj, body: Obj, subresource: str | None
    ) -> Obj:
        """Shared tail of PUT and PATCH: precondition, status isolation, system fields."""
        requested = body.get("metadata") or {}
        name, uid = current["metadata"]["name"], current["metadata"]["uid"]
        if requested.get("uid") and requested["uid"] != uid:
            raise errors.conflict(
                rt,
                name,
                f"Precondition failed: UID in precondition: {uid}, "
                f"UID in object meta: {requested['uid']}",
            )
        if requested.get("resourceVersion") not in (
            None,
            "",
            current["metadata"]["resourceVersion"],
        ):
            raise errors.conflict(rt, name)
        if subresource == "status":
            new = copy.deepcopy(current)
            if "status" in body:
                new["status"] = copy.deepcopy(body["status"])
            else:
                new.pop("status", None)
        else:
            new = copy.deepcopy(body)
            new["apiVersion"], new["kind"] = rt.api_version, rt.kind
            meta = new.setdefault("metadata", {})
            for field in (
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
                "name",
                "namespace",
            ):
                if field in current["metadata"]:
                    meta[field] = current["metadata"][field]
                else:
                    meta.pop(field, None)
            if rt.has_status:
                if "status" in current:
                    new["status"] = copy.deepcopy(current["status"])
                else:
                    new.pop("status", None)
            validation.normalize(rt, new)
            validation.check_update(rt, current, new)
        self._check_finalizers(rt, current, new)
        return self._commit_update(rt, current, new)

    def _check_finalizers(self, rt: ResourceType, current: Obj, new: Obj) -> None:
        if not current["metadata"].get("deletionTimestamp"):
            return
        old = current["metadata"].get("finalizers") or []
        added = [f for f in new["metadata"].get("finalizers") or [] if f not in old]
        if added:
            listed = ", ".join(f'"{f}"' for f in added)
            raise errors.invalid(
                rt,
                current["metadata"]["name"],
                "metadata.finalizers",
                "FieldValueForbidden",
                "Forbidden: no new finalizers can be added if the object is "
                f"being deleted, found new finalizers []string{{{listed}}}",
            )

    def _commit_update(self, rt: ResourceType, current: Obj, new: Obj) -> Obj:
        """Store ``new`` over ``current`` unless nothing changed; finish a pending deletion."""
        meta = new["metadata"]
        current_meta = current["metadata"]
        if rt.tracks_generation:
            generation = current_meta.get("generation", 1)
            meta["generation"] = generation + (spec_part(new) != spec_part(current))
        meta["resourceVersion"] = current_meta["resourceVersion"]
        if new == current:
            return copy.deepcopy(current)  # a no-op write: no new version, no event
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            return self._remove(new, rt, None)
        key = self._key(rt, meta.get("namespace"), meta["name"])
        meta["resourceVersion"] = str(self._next_rv())
        self._objects[rt][key] = new
        self._record(rt, "MODIFIED", new, current)
        return copy.deepcopy(new)

    def _insert(self, rt: ResourceType, key: tuple[str, str], obj: Obj) -> Obj:
        obj["metadata"]["resourceVersion"] = str(self._next_rv())
        self._objects[rt][key] = obj
        self._record(rt, "ADDED", obj, None)
        return copy.deepcopy(obj)

    def _delete(self, rt: ResourceType, current: Obj, policy: str) -> tuple[Obj, bool]:
        meta = current["metadata"]
        if rt == NAMESPACES:
            return self._delete_namespace(current)
        if not meta.get("finalizers"):
            return self._remove(current, rt, policy), True
        if meta.get("deletionTimestamp"):
            return copy.deepcopy(current), False
        self._policies[meta["uid"]] = policy
        return self._mark_deleting(rt, current), False

    def _mark_deleting(self, rt: ResourceType, current: Obj, **extra: Any) -> Obj:
        new = copy.deepcopy(current)
        meta = new["metadata"]
        meta["deletionTimestamp"] = now_rfc3339()
        meta["deletionGracePeriodSeconds"] = 0
        if "generation" in meta:
            meta["generation"] += 1
        new.update(extra)
        meta["resourceVersion"] = str(self._next_rv())
        self._objects[rt][self._key(rt, meta.get("namespace"), meta["name"])] = new
        self._record(rt, "MODIFIED", new, current)
        return copy.deepcopy(new)

    def _delete_namespace(self, current: Obj) -> tuple[Obj, bool]:
        name = current["metadata"]["name"]
        if not current["metadata"].get("deletionTimestamp"):
            status = {**current.get("status", {}), "phase": "Terminating"}
            current = self._mark_deleting(NAMESPACES, current, status=status)
        for rt, objects in self._objects.items():
            for key in [key for key in objects if rt.namespaced and key[0] == name]:
                if key in objects:  # cascades may have removed it already
                    self._delete(rt, objects[key], "Background")
        self._finish_namespace(name)
        return copy.deepcopy(current), False

    def _finish_namespace(self, namespace: str) -> None:
        ns_obj = self._objects[NAMESPACES].get(("", namespace))
        if ns_obj is None or not ns_obj["metadata"].get("deletionTimestamp"):
            return
        if ns_obj["metadata"].get("finalizers"):
            return
        if any(
            key[0] == namespace
            for rt, objs in self._objects.items()
            if rt.namespaced
            for key in objs
        ):
            return
        self._remove(ns_obj, NAMESPACES, "Background")

    def _remove(self, obj: Obj, rt: ResourceType, policy: str | None) -> Obj:
        meta = obj["metadata"]
        key = self._key(rt, meta.get("namespace"), meta["name"])
        previous = self._objects[rt].pop(key)
        final = copy.deepcopy(obj)
        final["metadata"]["resourceVersion"] = str(self._next_rv())
        self._record(rt, "DELETED", final, previous)
        policy = policy or self._policies.pop(meta["uid"], rt.default_propagation)
        if policy != "Orphan":
            self._delete_dependents(meta["uid"])
        if rt.namespaced and meta.get("namespace"):
            self._finish_namespace(meta["namespace"])
        return copy.deepcopy(final)

    def _delete_dependents(self, owner_uid: str) -> None:
        for rt, objects in self._objects.items():
            for obj in list(objects.values()):
                owners = obj["metadata"].get("ownerReferences") or []
                if any(ref.get("uid") == owner_uid for ref in owners):
                    key = self._key(rt, obj["metadata"].get("namespace"), obj["metadata"]["name"])
                    if key in objects:
                        self._delete(rt, objects[key], "Background")

    def _next_rv(self) -> int:
        self._rv += 1
        return self._rv

    def _record(self, rt: ResourceType, kind: str, obj: Obj, prev: Obj | None) -> None:
        event = StoredEvent(
            int(obj["metadata"]["resourceVersion"]),
            kind,
            copy.deepcopy(obj),
            copy.deepcopy(prev) if prev else None,
        )
        history = self._histories[rt]
        history.events.append(event)
        while len(history.events) > self.history_size:
            history.compacted_rv = history.events.popleft().rv
        for listener in list(self._listeners):
            listener(rt, event)
