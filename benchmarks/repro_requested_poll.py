"""Regression check: does a requested poll (``werf.io/reconcile-at``) see a tag pushed
just before the request?

Two bundles follow one repository (poll 5m). At 100 s bundle A's poll is requested
(the shared answer is refreshed then); at 150 s 1.1.0 is pushed; at 160 s bundle B's
poll is requested. Until 2026-11-26 B took the 60-second-old shared answer (its window
was "fresher than 0.9 x the time since my last poll", 144 s): the status said the
request was handled, with 1.0.0, and the push was seen ~5 minutes later
(docs/benchmarks.md, P1). The tree now asks the registry for a requested poll
(``observe._snapshot``: ``max_age = 0``), so both rows show 1.1.0 (A is woken by B's
change). Runs the real runtime in-process (``inprocess.py``).

Usage: .venv/bin/python benchmarks/repro_requested_poll.py
"""

from __future__ import annotations

from datetime import timedelta

from common import header, table
from inprocess import InProcess


def main() -> None:
    header("Requested poll after a push: which tag does it see?")
    world = InProcess(2, 1)
    start = world.start

    def request(name: str, value: str) -> None:
        world.cluster.patch(
            "WerfBundle",
            "default",
            name,
            {"metadata": {"annotations": {"werf.io/reconcile-at": value}}},
        )

    world.run_until(start + timedelta(seconds=100))
    request("app-0000", "a")
    world.run_until(start + timedelta(seconds=101))
    world.clock.set(start + timedelta(seconds=150))
    world.registry.inner.push("ghcr.io/acme/app-00", "1.1.0")
    world.run_until(start + timedelta(seconds=160))
    request("app-0001", "b")
    world.run_until(start + timedelta(seconds=161))
    rows = []
    for name, when in (("app-0000", "100 s (before the push)"), ("app-0001", "160 s (after)")):
        status = world.cluster.get("WerfBundle", "default", name)["status"]
        rows.append(
            (
                name,
                when,
                status.get("lastPollTime"),
                status.get("desiredTag"),
                status.get("lastHandledReconcileAt"),
                status.get("nextPollTime"),
            )
        )
    print("1.1.0 pushed at 00:02:30")
    print(
        table(
            ("bundle", "poll requested at", "lastPollTime", "desiredTag", "handled", "next"), rows
        )
    )


if __name__ == "__main__":
    main()
