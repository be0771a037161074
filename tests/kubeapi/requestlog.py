"""The request log: what each API call was, in the terms that RBAC rules are written in."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator


@dataclasses.dataclass
class RequestRecord:
    """One HTTP request to the test server; ``status`` is filled in once it is answered."""

    method: str
    path: str
    query: dict[str, str]
    verb: str  # RBAC verb: get, list, watch, create, update, patch, delete, deletecollection
    group: str | None = None  # None for non-resource URLs (discovery, /version, ...)
    version: str | None = None
    resource: str | None = None  # plural, e.g. "werfbundles"
    subresource: str | None = None  # e.g. "status", "log"
    namespace: str | None = None
    name: str | None = None
    content_type: str | None = None
    status: int | None = None
    injected: bool = False  # answered by fault injection

    @property
    def rbac_resource(self) -> str | None:
        """``werfbundles/status`` style, as written in a Role's ``resources:`` list."""
        if self.resource is None:
            return None
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource

    @property
    def permission(self) -> tuple[str, str, str] | None:
        """``(apiGroup, resource[/subresource], verb)``, or None for non-resource URLs."""
        if self.resource is None or self.group is None:
            return None
        return self.group, self.rbac_resource or "", self.verb


class RequestLog:
    """A thread-safe, append-only list of :class:`RequestRecord`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []

    def append(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def __iter__(self) -> Iterator[RequestRecord]:
        with self._lock:
            return iter(list(self._records))

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def filter(
        self,
        *,
        verb: str | None = None,
        resource: str | None = None,
        namespace: str | None = None,
        name: str | None = None,
        subresource: str | None = None,
    ) -> list[RequestRecord]:
        """Records matching all the given fields; ``resource`` may be ``plural/subresource``."""
        return [
            r
            for r in self
            if (verb is None or r.verb == verb)
            and (resource is None or resource in (r.resource, r.rbac_resource))
            and (namespace is None or r.namespace == namespace)
            and (name is None or r.name == name)
            and (subresource is None or r.subresource == subresource)
        ]

    def permissions(self) -> set[tuple[str, str, str]]:
        """Every ``(apiGroup, resource, verb)`` that was used, e.g. to compare with RBAC rules."""
        return {r.permission for r in self if r.permission is not None}
