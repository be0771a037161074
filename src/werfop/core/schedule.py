"""When to poll and when to retry: intervals, backoff and deterministic jitter.

Role: pure arithmetic on ``timedelta``. Jitter is derived from a hash of the bundle's
uid and a counter, so a simulation is reproducible bit for bit and bundles created
together still spread out. Must not: read time or randomness.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

JITTER = 0.10
REGISTRY_BACKOFF_BASE = timedelta(seconds=30)
REGISTRY_BACKOFF_CAP = timedelta(minutes=8)
JOB_BACKOFF_BASE = timedelta(minutes=1)
JOB_BACKOFF_CAP = timedelta(hours=1)
FAILURES_BEFORE_FAILED = 5
_MILLISECOND = timedelta(milliseconds=1)
_UNIT = float(1 << 64)


def jitter_fraction(seed: str, counter: int) -> float:
    """A number in [-JITTER, +JITTER], a pure function of (seed, counter)."""
    digest = hashlib.sha256(f"{seed}:{counter}".encode()).digest()
    unit = int.from_bytes(digest[:8], "big") / _UNIT  # [0, 1)
    return (unit * 2.0 - 1.0) * JITTER


def jittered(base: timedelta, seed: str, counter: int) -> timedelta:
    """``base`` scaled by 1 + jitter_fraction, rounded to the millisecond."""
    millis = round(base / _MILLISECOND * (1.0 + jitter_fraction(seed, counter)))
    return _MILLISECOND * millis  # == timedelta(milliseconds=millis), a third of the cost


def exponential(base: timedelta, cap: timedelta, n: int) -> timedelta:
    """base * 2**(n-1) for n >= 1, never above ``cap``; monotone in ``n``."""
    if n <= 1:
        return min(base, cap)
    if n > 40:  # 2**40 * 30s is beyond any cap we use; avoid huge integers
        return cap
    scaled: timedelta = base * (2 ** (n - 1))
    return min(scaled, cap)


def registry_backoff(failures: int) -> timedelta:
    """Delay before the next poll after ``failures`` consecutive failed polls (>= 1):
    30s, 1m, 2m, 4m, 8m, then 8m."""
    return exponential(REGISTRY_BACKOFF_BASE, REGISTRY_BACKOFF_CAP, failures)


def job_backoff(failed_attempts: int) -> timedelta:
    """Delay before retrying a version after ``failed_attempts`` failed Jobs (>= 1):
    1m, 2m, 4m, ... capped at 1h."""
    return exponential(JOB_BACKOFF_BASE, JOB_BACKOFF_CAP, failed_attempts)
