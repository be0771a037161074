"""What the test servers' child processes share: dying with the test process.

Neighbours: ``support.registry.process`` and ``support.controlplane`` pass
``die_with_parent`` as ``preexec_fn``.
"""

from __future__ import annotations

import ctypes
import signal

PR_SET_PDEATHSIG = 1


def die_with_parent(signum: int = signal.SIGTERM) -> None:
    """In the child: ask Linux to send it ``signum`` when the test process dies, so even
    a killed pytest leaves no server behind (teardown covers every other exit)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signum)
    except (OSError, AttributeError):
        pass
