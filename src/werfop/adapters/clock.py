"""The real clock: ``SystemClock`` (UTC wall time, real sleeping)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, delay: timedelta) -> None:
        if delay > timedelta(0):
            time.sleep(delay.total_seconds())
