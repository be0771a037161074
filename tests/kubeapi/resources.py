"""Resource types served by the Kubernetes API test server and their per-type semantics.

Each :class:`ResourceType` carries what the real API server knows about a resource:
its group/version/plural/kind, scope, subresources, and the behaviours that differ per
type (generation tracking, status isolation, what a DELETE returns, custom-resource rules).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from werfop.api.codec import validate_spec

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
COMMON_FIELDS = frozenset({"metadata.name", "metadata.namespace"})
POD_FIELDS = frozenset(
    {
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    }
)
EVENT_FIELDS = frozenset(
    {
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    }
)
SUBRESOURCE_VERBS = {"status": ("get", "patch", "update"), "log": ("get",)}


@dataclasses.dataclass(frozen=True)
class ResourceType:
    """One served resource (e.g. ``batch/v1 jobs``) and the rules the real server applies to it."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    field_selectors: frozenset[str] = COMMON_FIELDS
    tracks_generation: bool = False  # metadata.generation is maintained (spec changes bump it)
    custom: bool = False  # CRD rules: no strategic merge patch, no unconditional PUT
    return_deleted_object: bool = False  # DELETE returns the object instead of a Status
    default_propagation: str = "Background"  # what a DELETE without propagationPolicy does
    # A CRD's structural defaults: the spec as stored, or None to store it as given.
    default_spec: Callable[[Any], Any | None] | None = None

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def qualified_resource(self) -> str:
        """The name used in error messages: ``configmaps`` or ``werfbundles.werf.io``."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def qualified_kind(self) -> str:
        """The name used in validation errors: ``ConfigMap`` or ``WerfBundle.werf.io``."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        """The URL path of the collection or of one object."""
        prefix = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        scope = f"/namespaces/{namespace}" if self.namespaced and namespace else ""
        suffix = f"/{name}" if name else ""
        return f"{prefix}{scope}/{self.plural}{suffix}"


NAMESPACES = ResourceType(
    "",
    "v1",
    "namespaces",
    "Namespace",
    False,
    ("ns",),
    ("status",),
    field_selectors=COMMON_FIELDS | {"status.phase"},
)
CONFIGMAPS = ResourceType("", "v1", "configmaps", "ConfigMap", True, ("cm",))
SECRETS = ResourceType(
    "", "v1", "secrets", "Secret", True, field_selectors=COMMON_FIELDS | {"type"}
)
SERVICEACCOUNTS = ResourceType(
    "", "v1", "serviceaccounts", "ServiceAccount", True, ("sa",), return_deleted_object=True
)
PODS = ResourceType(
    "",
    "v1",
    "pods",
    "Pod",
    True,
    ("po",),
    ("status", "log"),
    field_selectors=COMMON_FIELDS | POD_FIELDS,
    tracks_generation=True,
    return_deleted_object=True,
)
EVENTS = ResourceType(
    "", "v1", "events", "Event", True, ("ev",), field_selectors=COMMON_FIELDS | EVENT_FIELDS
)
JOBS = ResourceType(
    "batch",
    "v1",
    "jobs",
    "Job",
    True,
    (),
    ("status",),
    field_selectors=COMMON_FIELDS | {"status.successful"},
    tracks_generation=True,
    default_propagation="Orphan",
)
LEASES = ResourceType("coordination.k8s.io", "v1", "leases", "Lease", True)
EVENTS_V1 = ResourceType("events.k8s.io", "v1", "events", "Event", True, ("ev",))
WERFBUNDLES = ResourceType(
    "werf.io",
    "v1alpha1",
    "werfbundles",
    "WerfBundle",
    True,
    ("wb",),
    ("status",),
    tracks_generation=True,
    custom=True,
    default_spec=lambda spec: _werfbundle_defaults(spec),
)


def _werfbundle_defaults(spec: Any) -> Any | None:
    """The spec with the CRD's defaults (the CRD is rendered from the same schema); None
    for a spec with problems (the real server would have rejected it; kept as given)."""
    if not isinstance(spec, dict):
        return None
    defaulted, problems = validate_spec(spec)
    return None if problems else defaulted


DEFAULT_RESOURCES: tuple[ResourceType, ...] = (
    NAMESPACES,
    CONFIGMAPS,
    SECRETS,
    SERVICEACCOUNTS,
    PODS,
    EVENTS,
    JOBS,
    LEASES,
    EVENTS_V1,
    WERFBUNDLES,
)


class ResourceRegistry:
    """Looks resource types up by URL parts or by a short human spelling."""

    def __init__(self, resources: Iterable[ResourceType] = DEFAULT_RESOURCES) -> None:
        self._types = tuple(resources)
        self._by_url = {(rt.group, rt.version, rt.plural): rt for rt in self._types}

    def __iter__(self) -> Iterator[ResourceType]:
        return iter(self._types)

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_url.get((group, version, plural))

    def resolve(self, spec: str | ResourceType) -> ResourceType:
        """Find a type by ``plural``, ``plural.group``, ``group/version/plural`` or ``v1/plural``.

        A bare plural that two groups share (``events``) resolves to the core group.
        """
        if isinstance(spec, ResourceType):
            return spec
        candidates = [rt for rt in self._types if _spec_matches(rt, spec)]
        if len(candidates) > 1:
            candidates = [rt for rt in candidates if rt.group == ""] or candidates
        if len(candidates) != 1:
            raise KeyError(f"unknown or ambiguous resource: {spec!r}")
        return candidates[0]


def _spec_matches(rt: ResourceType, spec: str) -> bool:
    spellings = {
        rt.plural,
        rt.qualified_resource,
        f"{rt.api_version}/{rt.plural}",
        f"{rt.plural}.{rt.version}.{rt.group}" if rt.group else f"{rt.plural}.{rt.version}",
    }
    return spec in spellings
