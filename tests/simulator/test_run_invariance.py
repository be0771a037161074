"""A simulation depends on what it is given, not how: the order of the files on the
command line changes nothing (uids follow each object's identity), and ``--start`` moves
the whole scenario (every ``at:`` counts from it). Both were verified against main
first: swapping shop.yaml and edge.yaml changed Job names and poll times, and
``--start 2030-06-01T00:00:00Z`` applied every event at the start."""

from __future__ import annotations

import json
from contextlib import redirect_stdout
from datetime import datetime
from io import StringIO
from pathlib import Path

from werfop.main import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def simulate(*argv: str) -> dict:
    out = StringIO()
    with redirect_stdout(out):
        assert 0 == main(["simulate", *argv, "--output", "json"])
    return json.loads(out.getvalue())


def test_the_order_of_the_files_changes_nothing():
    scenario = str(EXAMPLES / "scenario.yaml")
    shop, edge = str(EXAMPLES / "shop.yaml"), str(EXAMPLES / "edge.yaml")

    assert simulate(shop, edge, "--scenario", scenario) == simulate(
        edge, shop, "--scenario", scenario
    )


def _moments(document: dict, event_type: str) -> list[datetime]:
    return [
        datetime.fromisoformat(e["time"].replace("Z", "+00:00"))
        for e in document["events"]
        if e["type"] == event_type
    ]


def test_start_moves_every_event_of_the_scenario():
    scenario = str(EXAMPLES / "scenario.yaml")
    paths = [str(p) for p in sorted(EXAMPLES.glob("*.yaml")) if p.name != "scenario.yaml"]

    own = simulate(*paths, "--scenario", scenario)
    moved = simulate(*paths, "--scenario", scenario, "--start", "2030-06-01T00:00:00Z")

    shift = datetime.fromisoformat("2030-06-01T00:00:00+00:00") - _moments(own, "Polled")[0]
    for kind in ("Polled", "RegistryUnavailable", "JobCreated"):
        assert _moments(own, kind), kind  # the scenario has them: the check below can fail
        assert [t + shift for t in _moments(own, kind)] == _moments(moved, kind), kind
