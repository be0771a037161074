"""The error vocabulary used at the edges.

Adapters translate library exceptions into these at the boundary; one function in the
runtime maps them to queue operations. Messages name the object (``namespace/name``)
and never contain credentials, tokens or Secret data. An exception raised *inside* the
core is a bug, not a member of this tree.
"""

from __future__ import annotations

from datetime import timedelta


class WerfopError(Exception):
    """Base of every error werfop raises on purpose."""


class TransientError(WerfopError):
    """Retry with backoff (network trouble, 5xx, timeouts)."""

    def __init__(self, message: str, retry_after: timedelta | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ConflictError(WerfopError):
    """The object changed under us: re-read and decide again, now."""


class NotFoundError(WerfopError):
    """The object does not exist."""


class AlreadyExistsError(WerfopError):
    """Creating an object whose name is taken (for deterministic names: success)."""


class TerminalError(WerfopError):
    """Retrying will not help (forbidden, invalid); surface it in status."""
