"""Fault injection: failing the next N matching requests, and stalling watch streams."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable

from kubeapi.requestlog import RequestRecord


@dataclasses.dataclass
class FailureRule:
    """Fail ``remaining`` more requests that match all the non-None criteria."""

    status: int
    remaining: int
    verb: str | None = None
    resource: str | None = None  # plural, or plural/subresource
    namespace: str | None = None
    name: str | None = None
    reason: str | None = None
    message: str | None = None

    def matches(self, record: RequestRecord) -> bool:
        return (
            (self.verb is None or self.verb == record.verb)
            and (self.resource is None or self.resource == record.rbac_resource)
            and (self.namespace is None or self.namespace == record.namespace)
            and (self.name is None or self.name == record.name)
        )


class Faults:
    """Thread-safe fault switches, consulted by the server for every request and watch."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FailureRule] = []
        self._stalled: set[str | None] = set()  # resource plurals; None stalls all watches
        self._on_change: list[Callable[[], None]] = []

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 500,
        verb: str | None = None,
        resource: str | None = None,
        namespace: str | None = None,
        name: str | None = None,
        reason: str | None = None,
        message: str | None = None,
    ) -> FailureRule:
        """Make the next ``count`` matching requests fail with ``status`` (a Status body).

        ``resource="werfbundles"`` matches the main resource only;
        ``resource="werfbundles/status"`` matches the status subresource.
        """
        rule = FailureRule(status, count, verb, resource, namespace, name, reason, message)
        with self._lock:
            self._rules.append(rule)
        return rule

    def take_failure(self, record: RequestRecord) -> FailureRule | None:
        """Consume one failure from the first rule matching the request, if any."""
        with self._lock:
            for rule in self._rules:
                if rule.remaining > 0 and rule.matches(record):
                    rule.remaining -= 1
                    return rule
        return None

    def stall_watches(self, resource: str | None = None) -> None:
        """Watch streams (of one resource, or all) stay open but send nothing until resumed."""
        with self._lock:
            self._stalled.add(resource)
        self._changed()

    def resume_watches(self) -> None:
        with self._lock:
            self._stalled.clear()
        self._changed()

    def is_stalled(self, resource: str) -> bool:
        with self._lock:
            return None in self._stalled or resource in self._stalled

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._stalled.clear()
        self._changed()

    def on_change(self, callback: Callable[[], None]) -> None:
        with self._lock:
            self._on_change.append(callback)

    def _changed(self) -> None:
        with self._lock:
            callbacks = list(self._on_change)
        for callback in callbacks:
            callback()
