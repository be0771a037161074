"""``--wait``: read a WerfBundle until the operator has handled a change and settled.

Role: poll the bundle (one GET a second, as ``flux reconcile`` polls) until
``handled(bundle)`` and ``levers.is_settled(bundle)`` both hold, or the timeout passes;
report each new phase/message on the way (not the settled one: the caller
tells the outcome). The API server being briefly unreachable is
waited out within the same timeout; a bundle deleted meanwhile ends the wait
(``BundleNotFound``). Must not: decide what "handled" means (``levers`` does).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from werfop.cli.levers import Handled, is_settled, summary
from werfop.core.errors import TransientError

Obj = dict[str, Any]
POLL_INTERVAL = 1.0


def wait_for(
    read: Callable[[], Obj],
    handled: Handled,
    timeout: timedelta,
    *,
    report: Callable[[str], None] = lambda line: None,
    interval: float = POLL_INTERVAL,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[bool, Obj | None]:
    """(True, the settled bundle), or (False, the last bundle read) at the timeout."""
    deadline = monotonic() + timeout.total_seconds()
    last: Obj | None = None
    told = ""
    while True:
        try:
            last = read()
        except TransientError as error:
            report(f"  (retrying: {error})")
        else:
            if handled(last):
                if is_settled(last):
                    return True, last
                line = summary(last)
                if line != told:  # the way there; the caller tells the outcome
                    report(f"  {line}")
                    told = line
        if monotonic() >= deadline:
            return False, last
        sleep(min(interval, max(0.0, deadline - monotonic())))
