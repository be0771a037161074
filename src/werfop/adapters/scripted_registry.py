"""``ScriptedRegistry``: the in-memory twin of ``HttpxRegistry`` for the simulator and tests.

Role: a registry whose history is a script of timed events (pushes, deletes, outages),
answered from the state at ``clock.now()``. It fails exactly as the real adapter does for
the same condition (an outage with 503 gives the reason, status and retry-after a real
503 gives; a timeout, a 429, an unknown repository, a missing tag likewise), because it
words failures with the real adapter's ``failure_for_status``/``unavailable``. It sends
ETags like a registry that supports them and counts every request it answers.
Must not: perform I/O, sleep or read ambient time (only the injected clock), or drift
from ``HttpxRegistry``'s behaviour: ``tests/contract/test_registry_contract.py`` runs one
behavioural suite against both.
Neighbours: ``werfop.adapters.registry`` (the failure vocabulary), ``werfop.core.ports``
(the port), ``werfop.runtime.registry_economy`` (wraps either adapter).

An event scheduled for a repository URL without a ``/`` (a bare host) applies to every
repository on that host: an ``Outage`` of a whole registry.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import json
import threading
from collections import Counter
from datetime import datetime, timedelta
from typing import Literal

import attrs

from werfop.adapters.registry import (
    Failure,
    failure_for_status,
    failure_for_timeout,
    unavailable,
)
from werfop.core.model import RegistryUnavailable
from werfop.core.ports import Clock, Credentials, DigestAnswer, Repository, TagListing


@attrs.frozen(kw_only=True)
class Push:
    """``tag`` now points at ``digest`` (derived from repository, tag, time and order
    when ``None``). Creates the repository if needed."""

    tag: str
    digest: str | None = None


@attrs.frozen(kw_only=True)
class Delete:
    """``tag`` disappears (a no-op when absent); the repository stays, maybe empty."""

    tag: str


@attrs.frozen(kw_only=True)
class Outage:
    """From the event's time until ``until``, requests fail with ``status`` (an HTTP
    status such as 503 or 429) or time out (``"timeout"``)."""

    until: datetime
    status: int | Literal["timeout"] = 503
    retry_after: timedelta | None = None


Event = Push | Delete | Outage


@attrs.define
class _Repo:
    tags: dict[str, str] = attrs.Factory(dict)
    exists: bool = False


class ScriptedRegistry:
    """A ``RegistryPort`` answered from a script of events on an injected clock.

    Thread-safe. Events apply in (time, scheduling order) once ``clock.now()`` reaches
    their time; time is expected to move forward only.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._queue: list[tuple[datetime, int, str, Event]] = []
        self._order = itertools.count()
        self._repos: dict[str, _Repo] = {}
        self._outages: dict[str, list[tuple[datetime, Outage]]] = {}
        self._required: dict[str, str] = {}
        self._requests: Counter[str] = Counter()

    # -- scripting ---------------------------------------------------------------------

    def schedule(self, repository_url: str, at: datetime, event: Event) -> None:
        """Make ``event`` happen to ``repository_url`` (or a whole host) at ``at``."""
        with self._lock:
            heapq.heappush(self._queue, (at, next(self._order), repository_url, event))

    def push(self, repository_url: str, tag: str, digest: str | None = None) -> str:
        """Push ``tag`` now; returns its digest."""
        self.schedule(repository_url, self._clock.now(), Push(tag=tag, digest=digest))
        with self._lock:
            self._apply_due()
            return self._repos[repository_url].tags[tag]

    def delete(self, repository_url: str, tag: str) -> None:
        """Delete ``tag`` now."""
        self.schedule(repository_url, self._clock.now(), Delete(tag=tag))
        with self._lock:
            self._apply_due()

    def create(self, repository_url: str) -> None:
        """Make an empty repository exist now: it lists no tags instead of answering
        ``RepositoryNotFound`` (a real registry has such a repository once every tag of
        it was deleted; one never pushed to answers 404)."""
        with self._lock:
            self._apply_due()
            self._repos.setdefault(repository_url, _Repo()).exists = True

    def require_credentials(self, repository_url: str, credentials: Credentials) -> None:
        """From now on, ``repository_url`` answers 401 unless asked with ``credentials``."""
        with self._lock:
            self._required[repository_url] = _credential_key(credentials)

    # -- counting ----------------------------------------------------------------------

    def requests(self, repository_url: str) -> int:
        """How many requests were answered for ``repository_url``."""
        with self._lock:
            return self._requests[repository_url]

    def total_requests(self) -> int:
        with self._lock:
            return sum(self._requests.values())

    def tags(self, repository_url: str) -> tuple[str, ...]:
        """The current tags (for assertions); does not count as a request."""
        with self._lock:
            self._apply_due()
            repo = self._repos.get(repository_url)
            return tuple(sorted(repo.tags)) if repo else ()

    # -- the port ----------------------------------------------------------------------

    def list_tags(
        self, repository: Repository, etag: str | None = None
    ) -> TagListing | RegistryUnavailable:
        """The tags at ``clock.now()`` in lexical order, with an ETag (a hash of the list);
        ``not_modified`` when ``etag`` matches. Fails like ``HttpxRegistry``."""
        with self._lock:
            now = self._clock.now()
            failure = self._answerable(repository, now)
            if failure is not None:
                return unavailable(repository, failure, at=now)
            repo = self._repos.get(repository.url)
            if repo is None or not repo.exists:
                return unavailable(repository, failure_for_status(repository, 404), at=now)
            tags = tuple(sorted(repo.tags))
            current = _etag(tags)
            if etag is not None and etag == current:
                return TagListing(etag=current, not_modified=True)
            return TagListing(tags=tags, etag=current)

    def resolve_digest(
        self, repository: Repository, tag: str
    ) -> DigestAnswer | RegistryUnavailable:
        """The digest ``tag`` points at, at ``clock.now()``; ``TagNotFound`` for a missing
        tag or repository (a real HEAD cannot tell them apart either)."""
        with self._lock:
            now = self._clock.now()
            failure = self._answerable(repository, now)
            if failure is not None:
                return unavailable(repository, failure, at=now, tag=tag)
            repo = self._repos.get(repository.url)
            digest = repo.tags.get(tag) if repo else None
            if digest is None:
                missing = failure_for_status(repository, 404, tag=tag)
                return unavailable(repository, missing, at=now, tag=tag)
            return DigestAnswer(digest=digest)

    # -- internals (hold the lock) -----------------------------------------------------

    def _answerable(self, repository: Repository, now: datetime) -> Failure | None:
        """Count the request, bring the state to ``now``, and say why it fails, if so."""
        self._requests[repository.url] += 1
        self._apply_due()
        for key in (repository.url, repository.host):
            for start, outage in self._outages.get(key, ()):
                if start <= now < outage.until:
                    return _outage_failure(repository, outage)
        required = self._required.get(repository.url)
        if required is not None and (
            repository.credentials is None or _credential_key(repository.credentials) != required
        ):
            return failure_for_status(repository, 401)
        return None

    def _apply_due(self) -> None:
        now = self._clock.now()
        while self._queue and self._queue[0][0] <= now:
            at, order, url, event = heapq.heappop(self._queue)
            if isinstance(event, Outage):
                self._outages.setdefault(url, []).append((at, event))
                continue
            repo = self._repos.setdefault(url, _Repo())
            if isinstance(event, Push):
                repo.exists = True
                repo.tags[event.tag] = event.digest or _derived_digest(url, event.tag, at, order)
            else:
                repo.tags.pop(event.tag, None)


def _outage_failure(repository: Repository, outage: Outage) -> Failure:
    if outage.status == "timeout":
        return failure_for_timeout(repository.host)
    return failure_for_status(repository, outage.status, retry_after=outage.retry_after)


def _derived_digest(url: str, tag: str, at: datetime, order: int) -> str:
    seed = f"{url}\n{tag}\n{at.isoformat()}\n{order}".encode()
    return "sha256:" + hashlib.sha256(seed).hexdigest()


def _etag(tags: tuple[str, ...]) -> str:
    return '"' + hashlib.sha256(json.dumps(tags).encode()).hexdigest()[:32] + '"'


def _credential_key(credentials: Credentials) -> str:
    secret = credentials.password or credentials.identity_token
    value = secret.value if secret is not None else ""
    return credentials.identity + "#" + hashlib.sha256(value.encode()).hexdigest()
