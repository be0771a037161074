"""Pacing of scheduled polls: no second holds more than 1.5x the mean poll rate.

Role: per-bundle jitter spreads polls only statistically, and not at all when many
bundles are due together (1,000 bundles created at once, or overdue after the operator
was down). ``PollPacer`` hands each *scheduled* poll a one-second slot: the current
second when it has room, else the first later second that has. A second's room is
``max(MINIMUM, floor(FACTOR x sum(1 / interval)))`` over the bundles it has seen, so
1,000 bundles at 5 minutes get at most 5 polls a second (3.33/s mean), and a herd of
1,000 drains in ~200 s, spread as the steady state will be. Below ``MINIMUM`` (5/s) a
herd is harmless (the registry answers are shared; 5 status writes a second), so a
small or slow-polling installation is never held back: 1,000 bundles at a 24-hour
interval, created together, still all poll within 200 s.
A successful poll books its successor at once (``book``): the first second from the
core's ``nextPollTime`` that has room, so that the next poll is not deferred when it
comes (a deferral costs a pass and a status write: one poll in five at 1,000 bundles
before booking). ``admit`` remains for polls nobody booked: the first ones after a
start, and overdue ones after downtime.
Polls somebody asked for (a new generation, ``werf.io/reconcile-at``, a registry
notification, news from another bundle of the same repository) are never paced: they
are not called through here. Nor is a poll less than half an interval after the key's
last admitted one: that is a retry (a failed write left the poll due), which the
queue's backoff paces, not the schedule.
Must not: read the clock (callers pass ``now``) or know about bundles beyond their key
and interval. Thread-safe (the operator's workers share one pacer).
"""

from __future__ import annotations

import math
import threading
from datetime import UTC, datetime, timedelta

FACTOR = 1.5
MINIMUM = 5


class PollPacer:
    def __init__(self, factor: float = FACTOR, minimum: int = MINIMUM) -> None:
        self.factor = factor
        self.minimum = minimum
        self._lock = threading.Lock()
        self._rates: dict[str, float] = {}  # key -> polls per second (1 / interval)
        self._rate = 0.0
        self._used: dict[int, int] = {}  # epoch second -> polls admitted or booked in it
        self._held: dict[str, int] = {}  # key -> the second it was given or booked
        self._last: dict[str, int] = {}  # key -> the second it was last admitted
        self._pruned = 0
        self.deferred = 0

    def capacity(self) -> int:
        """Polls admitted per second at most."""
        with self._lock:
            return self._capacity()

    def admit(self, key: str, now: datetime, interval: timedelta) -> datetime | None:
        """May ``key`` poll at ``now``? None when it may; otherwise the start of the
        second it was given (the caller comes back then, and is admitted then)."""
        second = math.floor(now.timestamp())
        with self._lock:
            self._learn(key, interval)
            self._prune(second)
            held = self._held.get(key)
            if held is not None:
                if held <= second:
                    del self._held[key]
                    self._last[key] = second
                    return None
                return _start(held)  # woken early (a Job event): the slot stands
            last = self._last.get(key)
            if last is not None and second - last < interval.total_seconds() / 2:
                return None  # a retry, not a scheduled poll
            slot = self._take(second)
            if slot == second:
                self._last[key] = second
                return None
            self._held[key] = slot
            self.deferred += 1
            return _start(slot)

    def book(self, key: str, due: datetime, interval: timedelta, now: datetime) -> datetime:
        """Reserve the slot of ``key``'s next scheduled poll, due at ``due``: the first
        second from ``due`` with room (replacing any slot the key held). Returns ``due``
        when that is its own second, else the start of the later second given; ``admit``
        admits the key in that second."""
        second = math.floor(due.timestamp())
        with self._lock:
            self._learn(key, interval)
            self._prune(math.floor(now.timestamp()))
            self._release(key)
            slot = self._take(second)
            self._held[key] = slot
        return due if slot == second else _start(slot)

    def learn(self, key: str, interval: timedelta) -> None:
        """Count ``key``'s poll rate (every pass, so the capacity is right before the
        first due poll after a restart)."""
        with self._lock:
            self._learn(key, interval)

    def forget(self, key: str) -> None:
        """The bundle is gone: give its slot back and stop counting its rate."""
        with self._lock:
            self._rate -= self._rates.pop(key, 0.0)
            self._last.pop(key, None)
            self._release(key)

    def cancel(self, key: str) -> None:
        """Give back the slot ``key`` was booked or given (its pass failed)."""
        with self._lock:
            self._release(key)

    def _take(self, second: int) -> int:
        """Count one poll in the first second from ``second`` with room; that second."""
        room = self._capacity()
        while self._used.get(second, 0) >= room:
            second += 1
        self._used[second] = self._used.get(second, 0) + 1
        return second

    def _release(self, key: str) -> None:
        held = self._held.pop(key, None)
        if held is not None and self._used.get(held, 0) > 0:
            self._used[held] -= 1

    def _learn(self, key: str, interval: timedelta) -> None:
        rate = 1.0 / max(interval.total_seconds(), 1.0)
        if self._rates.get(key) == rate:
            return  # known (every pass): the running sum would not move
        self._rate += rate - self._rates.get(key, 0.0)
        self._rates[key] = rate

    def _capacity(self) -> int:
        # the epsilon absorbs float error in the running sum (1,000 x 1/300 x 1.5 = 5)
        return max(self.minimum, math.floor(self.factor * self._rate + 1e-9))

    def _prune(self, second: int) -> None:
        """Forget the seconds before ``second``. Bookings reach an interval ahead, so
        ``_used`` holds hundreds of seconds: step over the gap, not over all of them."""
        if second <= self._pruned:
            return
        if second - self._pruned < len(self._used):
            for old in range(self._pruned, second):
                self._used.pop(old, None)
        else:
            for old in [s for s in self._used if s < second]:
                del self._used[old]
        self._pruned = second


def _start(second: int) -> datetime:
    return datetime.fromtimestamp(second, UTC)
