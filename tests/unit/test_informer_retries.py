"""How an informer retries a failed list or watch: one backoff for every failure, so a
refusal that lasts a moment (a restarting API server answers 403 until its RBAC caches
are filled) costs a moment, and a lasting one is tried every 30 s at most."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from werfop.adapters.kubernetes import Cache, Informer
from werfop.core.errors import TerminalError, TransientError, WerfopError


class RecordingStop(threading.Event):
    """A stop event that records each wait instead of sleeping."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(float(timeout or 0))
        return self.is_set()


class RefusingApi:
    """Fails the first ``failures`` lists, then lists one bundle; its watch ends the run."""

    def __init__(self, stop: threading.Event, failures: list[WerfopError]) -> None:
        self.stop = stop
        self.failures = failures
        self.lists = 0

    def request(self, method: str, path: str, **_: Any) -> dict[str, Any]:
        self.lists += 1
        if self.failures:
            raise self.failures.pop(0)
        return {
            "metadata": {"resourceVersion": "5"},
            "items": [{"metadata": {"namespace": "apps", "name": "shop", "resourceVersion": "5"}}],
        }

    def stream(self, path: str, query: dict[str, Any]) -> Iterator[dict[str, Any]]:
        self.stop.set()
        return iter(())


def run_informer(failures: list[WerfopError]) -> tuple[list[float], Cache, int]:
    stop = RecordingStop()
    api = RefusingApi(stop, failures)
    cache = Cache()
    informer = Informer(api, "WerfBundle", "/x", "", cache, lambda kind, event: None, stop)  # type: ignore[arg-type]
    informer.run()
    return stop.waits, cache, api.lists


FORBIDDEN = TerminalError("list WerfBundle: HTTP 403 Forbidden")
UNREACHABLE = TransientError("list WerfBundle: the API server is unreachable")


@pytest.mark.parametrize(
    ("failures", "waits"),
    [
        pytest.param([FORBIDDEN], [0.5], id="one 403 (regression: waited 30 s)"),
        pytest.param([UNREACHABLE], [0.5], id="one connection failure"),
        pytest.param([UNREACHABLE, FORBIDDEN, UNREACHABLE], [0.5, 1.0, 2.0], id="mixed"),
        pytest.param(
            [FORBIDDEN] * 9, [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0], id="lasting 403"
        ),
    ],
)
def test_an_informer_retries_every_failure_with_one_capped_backoff(failures, waits):
    count = len(failures)

    actual_waits, cache, lists = run_informer(list(failures))

    assert waits == actual_waits
    assert count + 1 == lists
    assert cache.get("apps", "shop") is not None
