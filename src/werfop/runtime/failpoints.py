"""Failpoints: ways for the integration tests to kill the operator at a chosen moment.

Role: set through ``WERFOP_FAILPOINT`` by the tests that prove a restart neither
duplicates Jobs nor loses history: ``registry`` dies in the middle of a registry call
(a ``RegistryPort`` wrapper), ``after:<Action>`` right after the first such action (the
executor's action hook). Unset, nothing here runs.
Must not: be used for anything but those tests.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

log = logging.getLogger("werfop.failpoints")


class DieDuringCalls:
    """Failpoint ``registry``: the process dies in the middle of a registry call."""

    def __init__(self, inner: object) -> None:
        self.inner = inner

    def list_tags(self, repository, etag=None):  # type: ignore[no-untyped-def]
        log.warning("failpoint: dying during a registry call")
        os._exit(137)

    resolve_digest = list_tags


def after_action(spec: str) -> Callable[[object], None] | None:
    """Failpoint ``after:<Action>``: die (like kill -9) right after the first such action.

    Set through ``WERFOP_FAILPOINT`` by the integration tests that prove a restart
    neither duplicates Jobs nor loses history; unset, it costs nothing.
    """
    if not spec.startswith("after:"):
        return None
    name = spec.removeprefix("after:")

    def hook(action: object) -> None:
        if type(action).__name__ == name:
            log.warning("failpoint: dying after an action", extra={"action": name})
            logging.shutdown()
            os._exit(137)

    return hook
