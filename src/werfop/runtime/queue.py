"""A keyed work queue: de-duplicated keys, delayed adds, one worker per key, retry backoff.

Role: hold bundle keys until they are due. A key is at most once in the queue (adding
it again keeps the earlier due time), is never handed to two workers at once (a key
added while it is being processed comes back when the worker is done), and carries a
per-key failure count for rate-limited retries. ``next_step`` is the one function that
maps a pass's outcome to a queue operation.
Must not: sleep or read time itself; callers pass ``now``. It is not thread-safe on its
own: ``runtime.workers`` wraps it in a lock for the operator; the simulator is single
threaded.
"""

from __future__ import annotations

import heapq
import itertools
from datetime import datetime, timedelta

import attrs

from werfop.core.schedule import exponential

RETRY_BASE = timedelta(seconds=1)
RETRY_CAP = timedelta(minutes=5)
CONFLICT_DELAY = timedelta(milliseconds=50)


@attrs.define
class WorkQueue:
    _heap: list[tuple[datetime, int, str]] = attrs.field(factory=list)
    _due: dict[str, datetime] = attrs.field(factory=dict)
    _active: set[str] = attrs.field(factory=set)
    _again: dict[str, datetime] = attrs.field(factory=dict)
    _failures: dict[str, int] = attrs.field(factory=dict)
    _order: itertools.count[int] = attrs.field(factory=itertools.count)
    retries: int = 0

    def add(self, key: str, at: datetime) -> None:
        """Make ``key`` due at ``at`` (or earlier, if it is already due earlier)."""
        if key in self._active:
            current = self._again.get(key)
            if current is None or at < current:
                self._again[key] = at
            return
        current = self._due.get(key)
        if current is not None and current <= at:
            return
        self._due[key] = at
        heapq.heappush(self._heap, (at, next(self._order), key))

    def pop(self, now: datetime) -> str | None:
        """The earliest key due at or before ``now``, now marked active; None if none."""
        while self._heap:
            at, _, key = self._heap[0]
            if self._due.get(key) != at:
                heapq.heappop(self._heap)  # superseded by an earlier add
                continue
            if at > now:
                return None
            heapq.heappop(self._heap)
            del self._due[key]
            self._active.add(key)
            return key
        return None

    def done(self, key: str) -> None:
        """The worker finished ``key``; re-queue it if it was added meanwhile."""
        self._active.discard(key)
        again = self._again.pop(key, None)
        if again is not None:
            self.add(key, again)

    def next_due(self) -> datetime | None:
        while self._heap:
            at, _, key = self._heap[0]
            if self._due.get(key) == at:
                return at
            heapq.heappop(self._heap)
        return None

    def forget(self, key: str) -> None:
        """Drop the key's failure count (after a success)."""
        self._failures.pop(key, None)

    def failed(self, key: str) -> int:
        """Count a failure; returns the key's consecutive failures."""
        self._failures[key] = self._failures.get(key, 0) + 1
        self.retries += 1
        return self._failures[key]

    def remove(self, key: str) -> None:
        self._due.pop(key, None)
        self._again.pop(key, None)
        self._failures.pop(key, None)

    def due(self, key: str) -> datetime | None:
        """When ``key`` is due (None: not queued, or being processed)."""
        return self._due.get(key)

    def __len__(self) -> int:
        return len(self._due)

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(self._due)


@attrs.frozen
class Success:
    requeue_after: timedelta | None = None


@attrs.frozen
class Conflict:
    message: str = ""


@attrs.frozen
class Transient:
    message: str = ""
    retry_after: timedelta | None = None


@attrs.frozen
class Terminal:
    message: str = ""


Outcome = Success | Conflict | Transient | Terminal


def next_step(queue: WorkQueue, key: str, outcome: Outcome, now: datetime) -> datetime | None:
    """The one place that turns an outcome into a queue operation; returns the due time.

    Success: forget failures, come back after ``requeue_after`` (or only on events).
    Conflict: re-read and decide again almost at once (the object moved under us).
    Transient: per-key exponential backoff 1s..5m, or the server's Retry-After.
    Terminal: nothing will help by retrying; wait for an event (a spec change).
    """
    at: datetime | None
    if isinstance(outcome, Success):
        queue.forget(key)
        at = None if outcome.requeue_after is None else now + outcome.requeue_after
    elif isinstance(outcome, Conflict):
        count = queue.failed(key)
        at = now + (CONFLICT_DELAY if count <= 5 else exponential(RETRY_BASE, RETRY_CAP, count - 5))
    elif isinstance(outcome, Transient):
        delay = exponential(RETRY_BASE, RETRY_CAP, queue.failed(key))
        if outcome.retry_after is not None:
            delay = max(delay, outcome.retry_after)
        at = now + delay
    else:
        queue.forget(key)
        at = None
    if at is not None:
        queue.add(key, at)
    return at
