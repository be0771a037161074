"""Worker threads over the work queue, for the operator (the simulator is single threaded).

Role: ``LockedQueue`` makes ``WorkQueue`` safe for several threads and wakes sleeping
workers when a key becomes due earlier; ``Workers`` runs N threads that take due keys
and hand them to the controller, one worker per key at a time (the queue guarantees it).
Must not: decide requeue timing (``queue.next_step`` does) or swallow a pass's error
silently (the controller turns errors into outcomes; anything else is logged as a bug).
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from werfop.core.ports import Clock
from werfop.runtime.queue import WorkQueue

log = logging.getLogger("werfop.workers")


class LockedQueue(WorkQueue):
    """``WorkQueue`` behind a condition variable."""

    def __init__(self) -> None:
        super().__init__()
        self.cond = threading.Condition()

    def add(self, key: str, at: datetime) -> None:
        with self.cond:
            super().add(key, at)
            self.cond.notify()

    def pop(self, now: datetime) -> str | None:
        with self.cond:
            return super().pop(now)

    def done(self, key: str) -> None:
        with self.cond:
            super().done(key)
            self.cond.notify()

    def next_due(self) -> datetime | None:
        with self.cond:
            return super().next_due()

    def forget(self, key: str) -> None:
        with self.cond:
            super().forget(key)

    def failed(self, key: str) -> int:
        with self.cond:
            return super().failed(key)

    def remove(self, key: str) -> None:
        with self.cond:
            super().remove(key)

    def wait_for_work(self, clock: Clock, stop: threading.Event, limit: float = 1.0) -> None:
        """Sleep until a key may be due (or ``limit`` seconds, or a notification)."""
        with self.cond:
            if stop.is_set():
                return
            due = super().next_due()
            timeout = limit
            if due is not None:
                timeout = max(0.0, min(limit, (due - clock.now()).total_seconds()))
            if timeout > 0:
                self.cond.wait(timeout)


class Workers:
    def __init__(self, controller, queue: LockedQueue, clock: Clock, count: int):  # type: ignore[no-untyped-def]
        self.controller = controller
        self.queue = queue
        self.clock = clock
        self.count = count
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        self.busy = 0
        self._lock = threading.Lock()

    def start(self) -> None:
        for index in range(self.count):
            thread = threading.Thread(target=self._loop, name=f"werfop-worker-{index}", daemon=True)
            thread.start()
            self.threads.append(thread)

    def _loop(self) -> None:
        while not self.stop.is_set():
            key = self.queue.pop(self.clock.now())
            if key is None:
                self.queue.wait_for_work(self.clock, self.stop)
                continue
            with self._lock:
                self.busy += 1
            try:
                self.controller.run_one(key)
            except Exception:  # a bug: keep the worker alive, retry the key later
                log.exception("pass crashed", extra={"bundle": key})
            finally:
                with self._lock:
                    self.busy -= 1

    def shutdown(self, timeout: float) -> bool:
        """Stop taking work; wait up to ``timeout`` for in-flight passes. True if idle."""
        self.stop.set()
        with self.queue.cond:
            self.queue.cond.notify_all()
        for thread in self.threads:
            thread.join(timeout)
        return not any(t.is_alive() for t in self.threads)
