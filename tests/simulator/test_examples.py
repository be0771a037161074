"""The simulator on the shipped examples, against expectations written out by hand.

The expected timeline below was derived from examples/scenario.yaml by reading it, not
captured from a run: which versions each bundle must deploy, which Job fails, when the
registry outage makes the shop Failed, and how each bundle ends.
"""

import json
import subprocess
import sys
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from werfop.core.semver import parse_constraint, parse_version

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def _simulate(*extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "werfop.main",
            "simulate",
            str(EXAMPLES),
            "--scenario",
            str(EXAMPLES / "scenario.yaml"),
            *extra,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.fixture(scope="module")
def run():
    done = _simulate("--output", "json")
    assert 0 == done.returncode, done.stderr
    return done.stdout, json.loads(done.stdout)


def _events(document, type_):
    return [e for e in document["events"] if e["type"] == type_]


def test_jobs_created_are_exactly_the_expected_versions(run):
    _, document = run
    created = [(e["bundle"], e["tag"], e["attempt"]) for e in _events(document, "JobCreated")]
    expected = [
        # shop (>=1.0.0 <2.0.0): 1.0.0 at start; 1.1.0 fails once then succeeds; 2.0.0 and
        # 1.2.0-rc.1 never; 1.2.0 at 9h; 1.2.0 again when its values change at 10h.
        ("default/shop", "1.0.0", 1),
        ("default/shop", "1.1.0", 1),
        ("default/shop", "1.1.0", 2),
        ("default/shop", "1.2.0", 1),
        ("default/shop", "1.2.0", 1),
        # edge follows `main`: pushed at 0h, re-pushed at 4h and 12h; suspended at 14h.
        ("default/edge", "main", 1),
        ("default/edge", "main", 1),
        ("default/edge", "main", 1),
        # billing (~2.3): 2.3.0, then 2.3.1; 2.4.0 is outside the constraint.
        ("platform/billing", "2.3.0", 1),
        ("platform/billing", "2.3.1", 1),
    ]
    assert sorted(expected) == sorted(created)


def test_the_failed_deploy_is_the_first_attempt_of_1_1_0(run):
    _, document = run
    assert [("default/shop", "1.1.0")] == [
        (e["bundle"], e["tag"]) for e in _events(document, "JobFailed")
    ]


def test_final_statuses(run):
    _, document = run
    summary = {
        key: (b["status"]["phase"], b["status"].get("lastAppliedTag"))
        for key, b in document["bundles"].items()
    }
    assert {
        "default/shop": ("Synced", "1.2.0"),
        "default/edge": ("Suspended", "main"),
        "platform/billing": ("Synced", "2.3.1"),
    } == summary


def test_the_outage_fails_the_shop_and_it_recovers(run):
    _, document = run
    shop = [
        e
        for e in document["events"]
        if e["type"].startswith("Phase") and e["bundle"] == "default/shop"
    ]
    transitions = [(e["from"], e["to"]) for e in shop]
    assert ("Synced", "Failed") in transitions
    failed_at = next(e["time"] for e in shop if e["to"] == "Failed")
    # the outage starts at 05:00 and lasts 40 minutes; five failures take ~15 minutes
    assert "2026-01-01T05:" == failed_at[:14]
    recovered = [e for e in shop if e["from"] == "Failed"]
    assert recovered and "2026-01-01T05:4" <= recovered[0]["time"] < "2026-01-01T06:"
    assert {503} == {e["status"] for e in _events(document, "RegistryUnavailable")}


def test_no_two_jobs_of_a_bundle_overlap(run):
    _, document = run
    running = defaultdict(set)
    for event in document["events"]:
        if event["type"] == "JobCreated":
            assert not running[event["bundle"]], f"overlap at {event['time']}"
            running[event["bundle"]].add(event["job"])
        elif event["type"] in ("JobSucceeded", "JobFailed"):
            running[event["bundle"]].discard(event["job"])


def test_every_deployed_tag_satisfies_its_constraint(run):
    _, document = run
    constraints = {"default/shop": ">=1.0.0 <2.0.0", "platform/billing": "~2.3"}
    for event in _events(document, "JobCreated"):
        if event["bundle"] in constraints:
            assert parse_constraint(constraints[event["bundle"]]).allows(
                parse_version(event["tag"])
            )


def test_polling_continues_after_synced_and_after_failed(run):
    _, document = run
    polls = defaultdict(list)
    for event in document["events"]:
        if event["type"] in ("Polled", "RegistryUnavailable"):
            polls[event["bundle"]].append(event["time"])
    # shop polls every 5 minutes (+-10%) for 24h: about 288 polls, and it keeps polling
    # through and after the Failed phase (05:14-05:46).
    assert 250 <= len(polls["default/shop"]) <= 330
    assert any(t > "2026-01-01T23:00" for t in polls["default/shop"])
    assert any("2026-01-01T05:20" < t < "2026-01-01T05:45" for t in polls["default/shop"])
    # edge is suspended at 14:00 and never polls again
    assert all(t <= "2026-01-01T14:00" for t in polls["default/edge"])


def test_registry_requests_match_the_polls(run):
    _, document = run
    expected = defaultdict(int)
    repositories = {
        "default/shop": "ghcr.io/acme/shop",
        "default/edge": "registry.example.com/acme/edge",
        "platform/billing": "ghcr.io/acme/billing",
    }
    mutable = {"registry.example.com/acme/edge"}  # follows spec.registry.tag: main
    checked: dict[str, datetime] = {}
    tag_counts: dict[str, int] = {}
    for event in document["events"]:
        repo = repositories[event["bundle"]]
        if event["type"] == "Polled":
            expected[repo] += 1  # the tag list
            at = datetime.fromisoformat(event["time"].replace("Z", "+00:00"))
            # a HEAD for the selected tag's digest: always for a mutable tag; for a
            # version tag when the list changed (the scenarios only add tags) or the
            # known digest is an hour old
            if event["selected"] and (
                repo in mutable
                or tag_counts.get(repo) != event["tags"]
                or at - checked[repo] >= timedelta(hours=1)
            ):
                expected[repo] += 1
                checked[repo] = at
            tag_counts[repo] = event["tags"]
        elif event["type"] == "RegistryUnavailable":
            expected[repo] += 1
    actual = {repo: data["requests"] for repo, data in document["registry"].items()}
    assert dict(expected) == actual


def test_output_is_byte_identical_across_runs(run):
    text, _ = run
    assert text == _simulate("--output", "json").stdout


def test_text_output_has_a_summary_table():
    done = _simulate()
    assert 0 == done.returncode
    assert "BUNDLE" in done.stdout and "default/shop" in done.stdout
    assert "JobFailed" in done.stdout


def test_statuses_are_what_the_operator_would_write(run):
    _, document = run
    status = document["bundles"]["default/shop"]["status"]
    assert {"Ready": "True", "RegistryReachable": "True", "Released": "True"} == {
        c["type"]: c["status"] for c in status["conditions"]
    }
    assert 10 >= len(status["versionHistory"])
    assert status["observedGeneration"] == 1


def test_the_streamed_json_report_is_the_whole_documents_encoding(run):
    # The CLI writes the report event by event (JsonReport); it must be the bytes
    # json.dumps(indent=2) gives for the whole document.
    text, document = run
    assert json.dumps(document, indent=2) + "\n" == text
