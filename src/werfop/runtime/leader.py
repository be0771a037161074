"""Leader election on a ``coordination.k8s.io/v1`` Lease, with client-go's timing.

Role: try to acquire or renew the Lease every ``retry_period``; lead while renewals
succeed within ``renew_deadline``; consider another holder's lease expired only after
``lease_duration`` has passed since *we observed* it change (clocks of different nodes
are never compared); release the Lease on shutdown so a standby takes over at once.
Must not: reconcile. Neighbours: ``werfop.operator`` starts workers when leading; the
Kubernetes adapter provides ``get_lease``/``create_lease``/``replace_lease``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from werfop.core.errors import AlreadyExistsError, ConflictError, WerfopError

log = logging.getLogger("werfop.leader")


class LeasePort(Protocol):
    def get_lease(self, namespace: str, name: str) -> dict[str, Any] | None: ...
    def create_lease(self, lease: dict[str, Any]) -> dict[str, Any]: ...
    def replace_lease(self, lease: dict[str, Any]) -> dict[str, Any]: ...


def _micro(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    def __init__(
        self,
        api: LeasePort,
        namespace: str,
        name: str,
        identity: str,
        *,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        on_started: Callable[[], None] = lambda: None,
        on_stopped: Callable[[], None] = lambda: None,
    ):
        self.api = api
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.on_started = on_started
        self.on_stopped = on_stopped
        self.leading = threading.Event()
        self.healthy = True
        self._observed: tuple[str, str] | None = None  # (holder, renewTime) last seen
        self._observed_at = 0.0  # monotonic time when it last changed
        self._last_renew = 0.0

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                ok = self._try_acquire_or_renew()
                self.healthy = True
            except WerfopError as error:
                ok = False
                self.healthy = False
                log.warning("lease call failed", extra={"error": str(error)})
            now = time.monotonic()
            if ok:
                self._last_renew = now
                if not self.leading.is_set():
                    self.leading.set()
                    log.info("became leader", extra={"identity": self.identity})
                    self.on_started()
            elif self.leading.is_set() and now - self._last_renew > self.renew_deadline:
                self.leading.clear()
                log.error("lost leadership", extra={"identity": self.identity})
                self.on_stopped()
            stop.wait(self.retry_period)
        if self.leading.is_set():
            self.release()

    def _try_acquire_or_renew(self) -> bool:
        now = datetime.now(UTC)
        lease = self.api.get_lease(self.namespace, self.name)
        spec_new = {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": int(self.lease_duration),
            "renewTime": _micro(now),
        }
        if lease is None:
            try:
                self.api.create_lease(
                    {
                        "apiVersion": "coordination.k8s.io/v1",
                        "kind": "Lease",
                        "metadata": {"name": self.name, "namespace": self.namespace},
                        "spec": {**spec_new, "acquireTime": _micro(now), "leaseTransitions": 0},
                    }
                )
            except (AlreadyExistsError, ConflictError):
                return False
            return True
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        observed = (holder, str(spec.get("renewTime")))
        if observed != self._observed:
            self._observed = observed
            self._observed_at = time.monotonic()
        duration = float(spec.get("leaseDurationSeconds") or self.lease_duration)
        expired = time.monotonic() - self._observed_at > duration
        if holder and holder != self.identity and not expired:
            return False
        transitions = int(spec.get("leaseTransitions") or 0)
        if holder != self.identity:
            spec_new["acquireTime"] = _micro(now)
            transitions += 1
        else:
            spec_new["acquireTime"] = spec.get("acquireTime") or _micro(now)
        lease["spec"] = {**spec, **spec_new, "leaseTransitions": transitions}
        try:
            self.api.replace_lease(lease)
        except ConflictError:
            return False
        return True

    def release(self) -> None:
        """Give the Lease up (holder emptied, 1 s duration) so a standby takes over now."""
        try:
            lease = self.api.get_lease(self.namespace, self.name)
            if lease is None or (lease.get("spec") or {}).get("holderIdentity") != self.identity:
                return
            lease["spec"].update(
                holderIdentity="", leaseDurationSeconds=1, renewTime=_micro(datetime.now(UTC))
            )
            self.api.replace_lease(lease)
            log.info("released the lease", extra={"identity": self.identity})
        except WerfopError as error:
            log.warning("could not release the lease", extra={"error": str(error)})
        finally:
            self.leading.clear()
