"""The ports: what the runtime needs from the world, as ``typing.Protocol``s.

Role: the contracts that real adapters (Kubernetes API, httpx registry, system clock)
and their in-memory twins implement, and that contract tests check on both.
Must not: implement anything. Cluster objects cross this boundary as raw Kubernetes
JSON (dicts); ``werfop.api.codec`` is the one place that turns them into the model.
Errors raised by ports come from ``werfop.core.errors``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

import attrs

from werfop.core.model import RegistryUnavailable, Sensitive

Obj = dict[str, Any]


class Clock(Protocol):
    def now(self) -> datetime:
        """The current tz-aware time."""
        ...


class SleepingClock(Clock, Protocol):
    def sleep(self, delay: timedelta) -> None:
        """Wait for ``delay`` (real or virtual time)."""
        ...


@attrs.frozen(kw_only=True)
class Credentials:
    """Registry credentials in plain values (read from a Secret by the runtime).

    Exactly one way is used: username+password or an identity (refresh) token, the two
    werf's registry client uses (``werfop.api.credentials``). Values are ``Sensitive`` so
    reprs never show them.
    """

    username: str | None = None
    password: Sensitive | None = None
    identity_token: Sensitive | None = None

    @property
    def identity(self) -> str:
        """A non-secret identity for cache keys: the username, or the kind of token."""
        if self.username:
            return f"user:{self.username}"
        if self.identity_token is not None:
            return "identity-token"
        return "anonymous"


@attrs.frozen(kw_only=True)
class Repository:
    """One OCI repository and how to reach it."""

    url: str  # host[:port]/path, no scheme, no tag
    insecure: bool = False
    ca_cert: Sensitive | None = None
    credentials: Credentials | None = None

    @property
    def host(self) -> str:
        return self.url.split("/", 1)[0]

    @property
    def path(self) -> str:
        return self.url.split("/", 1)[1] if "/" in self.url else ""

    @property
    def cache_key(self) -> tuple[str, str, bool]:
        creds = self.credentials.identity if self.credentials else "anonymous"
        ca = "ca" if self.ca_cert is not None else "system"
        return (self.url, f"{creds}/{ca}", self.insecure)


@attrs.frozen(kw_only=True)
class TagListing:
    """A tag list as the registry answered it; ``not_modified`` after a 304."""

    tags: tuple[str, ...] = ()
    etag: str | None = None
    not_modified: bool = False
    requests: int = 1


@attrs.frozen(kw_only=True)
class DigestAnswer:
    digest: str
    requests: int = 1


class RegistryPort(Protocol):
    def list_tags(
        self, repository: Repository, etag: str | None = None
    ) -> TagListing | RegistryUnavailable:
        """Every tag of the repository (all pages), or why it could not be read.

        With ``etag``, a registry that supports it may answer ``not_modified``.
        Never raises for registry or network trouble.
        """
        ...

    def resolve_digest(
        self, repository: Repository, tag: str
    ) -> DigestAnswer | RegistryUnavailable:
        """The manifest digest the tag points at now (a HEAD request)."""
        ...


WatchEventType = Literal["ADDED", "MODIFIED", "DELETED"]


@attrs.frozen(kw_only=True)
class WatchEvent:
    type: WatchEventType
    object: Obj = attrs.field(hash=False)


Listener = Callable[[str, WatchEvent], None]


class Watch(Protocol):
    """A running watch (``ClusterPort.watch``)."""

    def synced(self) -> bool:
        """Every kind was listed: from now on, each change reaches the listener."""
        ...

    def alive(self) -> bool:
        """What delivers the events still runs (for the health check)."""
        ...

    def stop(self, timeout: float = 10.0) -> None:
        """No more events; returns once delivery has ended (or ``timeout`` seconds)."""
        ...


class ClusterPort(Protocol):
    """The Kubernetes API as werfop uses it. Objects are raw JSON dicts."""

    def list_bundles(self) -> list[Obj]: ...
    def get_bundle(self, namespace: str, name: str) -> Obj: ...
    def patch_bundle_metadata(
        self, namespace: str, name: str, resource_version: str, finalizers: list[str]
    ) -> Obj: ...
    def replace_bundle_status(
        self, namespace: str, name: str, resource_version: str, status: Obj
    ) -> Obj: ...

    def list_jobs(self, label_selector: str) -> list[Obj]: ...
    def get_job(self, namespace: str, name: str) -> Obj | None: ...
    def create_job(self, job: Obj) -> Obj: ...
    def delete_job(self, namespace: str, name: str) -> None: ...

    def get_secret(self, namespace: str, name: str) -> Obj | None: ...
    def create_secret(self, secret: Obj) -> None: ...
    def get_config_map(self, namespace: str, name: str) -> Obj | None: ...
    def list_config_maps(self, namespace: str, label_selector: str) -> list[Obj]: ...
    def apply_config_map(self, config_map: Obj) -> None: ...
    def delete_config_map(self, namespace: str, name: str) -> None: ...
    def get_service_account(self, namespace: str, name: str) -> Obj | None: ...
    def get_namespace(self, name: str) -> Obj | None: ...
    def create_event(self, event: Obj) -> None: ...
    def read_job_log(self, namespace: str, job_name: str, tail_lines: int) -> str | None: ...
    def read_job_exit_code(self, namespace: str, job_name: str) -> int | None: ...

    def watch(self, listener: Listener, *, secrets: bool = False) -> Watch:
        """Start delivering changes to ``listener(kind, event)``: WerfBundles, werfop's
        Jobs, and the ConfigMaps (with ``secrets``, also Secrets) labelled
        ``werf.io/watch=true``. Events may come from other threads; each object's
        events come in order. The caller stops the watch when done."""
        ...
