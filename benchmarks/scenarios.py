"""Generated bundles and scenarios shared by the simulator benchmarks.

Role: build N WerfBundles over R repositories and a registry script (a first release at
the start, then a new release per repository every ``push_every``, staggered so the
repositories do not all change at once), as plain objects and a ``Scenario`` for
``werfop.simulate.simulate``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from werfop.adapters.scripted_registry import Push
from werfop.simulate import JobRule, Scenario

START = datetime(2026, 1, 1, tzinfo=UTC)


def repository(index: int) -> str:
    return f"ghcr.io/acme/app-{index:02d}"


def bundles(count: int, repos: int, interval: str = "5m") -> list[dict[str, Any]]:
    """``count`` WerfBundles in namespace ``default``, bundle i following repository
    i mod ``repos`` (highest release, no constraint)."""
    return [
        {
            "apiVersion": "werf.io/v1alpha1",
            "kind": "WerfBundle",
            "metadata": {"name": f"app-{i:04d}", "namespace": "default"},
            "spec": {"registry": {"url": repository(i % repos), "pollInterval": interval}},
        }
        for i in range(count)
    ]


def pushes(repos: int, until: timedelta, every: timedelta) -> list[tuple[str, datetime, Push]]:
    """1.0.0 everywhere at the start; then 1.0.k on repository r at
    ``every * k + r * every / repos`` (staggered)."""
    events = []
    for r in range(repos):
        events.append((repository(r), START, Push(tag="1.0.0")))
        k = 1
        offset = every * r / repos
        while (at := every * k + offset) < until:
            events.append((repository(r), START + at, Push(tag=f"1.0.{k}")))
            k += 1
    return events


def scenario(repos: int, until: timedelta, every: timedelta) -> Scenario:
    return Scenario(
        start=START,
        until=until,
        registry_events=tuple(pushes(repos, until, every)),
        default_job=JobRule(result="succeeded", after=timedelta(minutes=1)),
    )


def parse_span(text: str) -> timedelta:
    """``90s``, ``5m``, ``12h``, ``7d`` -> timedelta."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    return timedelta(seconds=float(text[:-1]) * units[text[-1]])
