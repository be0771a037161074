"""Durations as users write them (``30s``, ``15m``, ``1h30m``; ``7d`` where days are
allowed), parsed to ``timedelta`` and printed back in the shortest exact form.

Pure; ``None`` means "not a duration", never an exception.
"""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {
    "ms": timedelta(milliseconds=1),
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
}
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)")
_MAX = timedelta(days=3650)


def parse_duration(text: str, *, allow_days: bool = False) -> timedelta | None:
    """``1h30m`` -> 90 minutes. Units ms, s, m, h (and d with ``allow_days``)."""
    if not isinstance(text, str) or not text or len(text) > 64:
        return None
    total = timedelta(0)
    position = 0
    for match in _PART.finditer(text):
        if match.start() != position:
            return None
        number, unit = match.groups()
        if unit == "d" and not allow_days:
            return None
        total += float(number) * _UNITS[unit]
        if total > _MAX:
            return None
        position = match.end()
    if position != len(text):
        return None
    return total


def format_duration(delta: timedelta) -> str:
    """90 minutes -> ``1h30m``; zero -> ``0s``."""
    millis = int(delta / timedelta(milliseconds=1))
    if millis == 0:
        return "0s"
    sign = "-" if millis < 0 else ""
    millis = abs(millis)
    out = []
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        count, millis = divmod(millis, size)
        if count:
            out.append(f"{count}{unit}")
    return sign + "".join(out)
