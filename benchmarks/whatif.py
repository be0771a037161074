"""What-if patches: fixes proposed in docs/benchmarks.md, applied in-process only.

Role: let a benchmark measure how much a proposed fix would buy, without editing
``src/``. Nothing here is used unless a script is asked to (``--what-if-schedule``);
every figure produced with it is labelled.

- ``install_schedule_fix``: the core schedule rule proposed for figure 6 (used only by
  ``bench_jitter.py --what-if-schedule``).
"""

from __future__ import annotations

import contextvars
import hashlib
import importlib
from datetime import timedelta
from typing import Any

_LATE: contextvars.ContextVar[tuple[bool, Any]] = contextvars.ContextVar(
    "late", default=(False, None)
)


def install_schedule_fix() -> None:
    """The proposed core schedule rule, patched in: after a first poll, or a poll late
    by more than the jitter (10 % of the interval: a restart after downtime, a backlog),
    the next poll is ``interval * (0.5 + u)`` away, ``u`` in [0, 1) from a hash of the
    bundle uid and poll count, instead of ``interval * (1 +- 0.1)``. A herd of polls is
    thereby spread over a whole interval one cycle later; on-time polls are unchanged."""
    reconcile = importlib.import_module("werfop.core.reconcile")  # the package re-exports
    schedule = importlib.import_module("werfop.core.schedule")  # functions of these names
    observe = reconcile._Pass._observe
    jittered = schedule.jittered

    def _observe(self, spec, status, snapshot):  # type: ignore[no-untyped-def]
        interval = spec.registry.poll_interval
        late = status.next_poll_time is None or self.now - status.next_poll_time > interval / 10
        token = _LATE.set((late, interval))
        try:
            return observe(self, spec, status, snapshot)
        finally:
            _LATE.reset(token)

    def spread(base, seed, counter):  # type: ignore[no-untyped-def]
        late, interval = _LATE.get()
        if late and base == interval:
            digest = hashlib.sha256(f"{seed}:{counter}:phase".encode()).digest()
            unit = int.from_bytes(digest[:8], "big") / float(1 << 64)
            return timedelta(milliseconds=round(base / timedelta(milliseconds=1) * (0.5 + unit)))
        return jittered(base, seed, counter)

    reconcile._Pass._observe = _observe  # type: ignore[method-assign]
    schedule.jittered = spread  # type: ignore[assignment]
