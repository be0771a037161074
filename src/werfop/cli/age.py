"""Ages and instants as kubectl prints them.

Role: ``format_age`` is kubectl's ``HumanDuration`` (``k8s.io/apimachinery/pkg/util/
duration``), so ``werfop get`` and ``kubectl get wb`` show the same AGE; ``parse_time``
reads the RFC 3339 instants of an object. Pure: the caller passes ``now``.
"""

from __future__ import annotations

from datetime import datetime, timedelta


def parse_time(text: object) -> datetime | None:
    """An RFC 3339 instant from an object (``...Z`` or an offset); None when absent or
    not an instant."""
    if not isinstance(text, str) or not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def format_age(delta: timedelta) -> str:
    """``delta`` as kubectl's AGE column: ``45s``, ``5m30s``, ``17m``, ``3h20m``,
    ``13h``, ``3d4h``, ``45d``, ``2y30d``; ``0s`` for up to a second in the future
    (clock skew), ``<invalid>`` beyond."""
    seconds = int(delta.total_seconds())
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        rest = seconds % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        rest = hours % 24
        return f"{days}d{rest}h" if rest else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    years = days // 365
    if days < 365 * 8:
        rest = days % 365
        return f"{years}y{rest}d" if rest else f"{years}y"
    return f"{years}y"


def age_since(then: object, now: datetime) -> str:
    """The age of an RFC 3339 instant at ``now``; ``<unknown>`` when it is absent."""
    moment = parse_time(then)
    return "<unknown>" if moment is None else format_age(now - moment)
