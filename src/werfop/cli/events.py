"""core/v1 Events about a WerfBundle: which instant each one stands for, and the newest.

Pure; ``bundles`` reads them, ``explain`` prints them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Obj = dict[str, Any]


def event_time(event: Obj) -> str:
    """The instant an Event last happened, as the API server wrote it (RFC 3339 in UTC,
    so the text sorts in time order): ``lastTimestamp``, else the series' last
    observation, ``eventTime``, ``firstTimestamp``, the object's creation."""
    return str(
        event.get("lastTimestamp")
        or (event.get("series") or {}).get("lastObservedTime")
        or event.get("eventTime")
        or event.get("firstTimestamp")
        or (event.get("metadata") or {}).get("creationTimestamp")
        or ""
    )


def newest(events: Iterable[Obj], count: int) -> list[Obj]:
    """The ``count`` newest Events, oldest first."""
    ordered = sorted(events, key=lambda e: event_time(e)[:19])  # to the second: formats vary
    return ordered[-count:] if count > 0 else []
