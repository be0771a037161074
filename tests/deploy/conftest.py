"""Shared checks for the deploy tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def no_leftover_threads() -> Iterator[None]:
    """Every informer, elector and controller thread a test started has ended after it."""
    yield
    leftovers = [
        t.name for t in threading.enumerate() if t.name.startswith(("deploy-test-", "kubeapi-job"))
    ]
    assert [] == leftovers
