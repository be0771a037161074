"""A manual ``SleepingClock`` for registry tests: time moves only when told (or slept).

Must not: read the wall clock. Neighbours: ``fixtures`` (the ``manual_clock`` fixture),
``ScriptedRegistry`` and ``RegistryEconomy`` tests.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

EPOCH = datetime(2025, 1, 1, tzinfo=UTC)


class ManualClock:
    """``now()`` returns a settable time; ``sleep(d)`` advances it by ``d`` and records it.

    Thread-safe, so several threads sleeping on a token bucket each move time forward.
    """

    def __init__(self, start: datetime = EPOCH) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.sleeps: list[timedelta] = []

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now += delta
            return self._now

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._now = moment

    def sleep(self, delay: timedelta) -> None:
        with self._lock:
            self.sleeps.append(delay)
            if delay > timedelta(0):
                self._now += delay
