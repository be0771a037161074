"""The reports read the timeline as the core writes it (phase entries named after the
Event reasons, ``RegistryUnavailable``), with or without the optional fields (a phase
entry's ``message``, ``JobCreated``'s ``cause``), and show what is there."""

from __future__ import annotations

import io
import json
import re

import pytest

from werfop.report_html import render_html
from werfop.report_text import TextReport
from werfop.report_timeline import format_seconds, lanes, phase_after
from werfop.simulate import Result

T0 = "2026-01-01T00:00:00Z"


def _document(events, bundles=None, registry=None):
    return {
        "events": events,
        "bundles": bundles or {"default/shop": {"repository": "r.io/a/shop", "status": {}}},
        "registry": registry or {"r.io/a/shop": {"requests": 4}},
        "run": {"start": T0, "end": "2026-01-02T00:00:00Z"},
    }


TODAY = [
    {
        "time": T0,
        "bundle": "default/shop",
        "type": "JobCreated",
        "job": "shop-1",
        "tag": "1.0.0",
        "digest": "sha256:" + "a" * 64,
        "attempt": 1,
    },
    {
        "time": T0,
        "bundle": "default/shop",
        "type": "PhaseSyncing",
        "from": "Pending",
        "to": "Syncing",
    },
    {
        "time": "2026-01-01T00:02:00Z",
        "bundle": "default/shop",
        "type": "JobFailed",
        "job": "shop-1",
        "tag": "1.0.0",
        "reason": "BackoffLimitExceeded",
    },
    {
        "time": "2026-01-01T00:05:00.250Z",
        "bundle": "default/shop",
        "type": "JobCreated",
        "job": "shop-2",
        "tag": "1.0.0",
        "attempt": 2,
    },
    {
        "time": "2026-01-01T03:00:00Z",
        "bundle": "default/shop",
        "type": "RegistryUnavailable",
        "status": 503,
        "retryIn": 30.65,
    },
]
# The redesign: Event reasons as types, a cause on JobCreated, a message on phase entries.
REDESIGNED = [
    {
        "time": T0,
        "bundle": "default/shop",
        "type": "JobCreated",
        "job": "shop-1",
        "tag": "1.0.0",
        "cause": "NewVersion",
        "attempt": 1,
    },
    {
        "time": "2026-01-01T00:02:00Z",
        "bundle": "default/shop",
        "type": "JobSucceeded",
        "job": "shop-1",
        "tag": "1.0.0",
    },
    {
        "time": "2026-01-01T05:00:00Z",
        "bundle": "default/shop",
        "type": "PhaseFailed",
        "message": "registry r.io/a/shop: 503 Service Unavailable",
    },
    {
        "time": "2026-01-01T06:00:00Z",
        "bundle": "default/shop",
        "type": "JobCreated",
        "job": "shop-2",
        "tag": "1.0.0",
        "cause": "Retry",
        "attempt": 2,
    },
]


@pytest.mark.parametrize(
    ("event", "phase"),
    [
        pytest.param(
            {"type": "PhaseChanged", "from": "Synced", "to": "Failed"}, "Failed", id="today"
        ),
        pytest.param({"type": "PhaseSuspended", "message": "suspended"}, "Suspended", id="reason"),
        pytest.param({"type": "JobCreated", "job": "j"}, "Syncing", id="told-by-job-created"),
        pytest.param({"type": "JobSucceeded", "job": "j"}, "Synced", id="told-by-job-succeeded"),
        pytest.param({"type": "JobFailed", "job": "j"}, None, id="job-failed-tells-nothing"),
        pytest.param({"type": "PhaseOfTheMoon"}, None, id="not-a-phase"),
    ],
)
def test_phase_after(event, phase):
    assert phase == phase_after(event)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.5, "0.5s"),
        (9.25, "9.25s"),
        (30.65, "31s"),
        (490.779, "8m11s"),
        (3600, "1h0m0s"),
        (3725, "1h2m5s"),
    ],
)
def test_format_seconds(seconds, text):
    assert text == format_seconds(seconds)


def test_lanes_without_the_optional_fields():
    [lane] = lanes(_document(TODAY))

    # a phase that lasted no time (Pending, left at once) has no span
    assert [("Syncing", 86400)] == [
        (s.phase, int((s.end - s.start).total_seconds())) for s in lane.spans
    ]
    assert [("shop-1", "failed", "BackoffLimitExceeded"), ("shop-2", "running", None)] == [
        (j.name, j.result, j.reason) for j in lane.jobs
    ]
    assert ["RegistryUnavailable"] == [m["type"] for m in lane.markers]


def test_lanes_redesigned_carry_cause_and_message():
    [lane] = lanes(_document(REDESIGNED))

    assert ["NewVersion", "Retry"] == [j.cause for j in lane.jobs]
    assert ["Syncing", "Synced", "Failed", "Syncing"] == [s.phase for s in lane.spans]
    failed = next(s for s in lane.spans if s.phase == "Failed")
    assert "registry r.io/a/shop: 503 Service Unavailable" == failed.message


def test_a_deleted_bundle_ends_its_lane_deleted():
    bundles = {"default/shop": {"status": {"phase": "Synced"}, "deletedAt": "2026-01-01T01:00:00Z"}}

    [lane] = lanes(_document(TODAY[:3], bundles=bundles))

    assert "Deleted" == lane.phase
    assert ("Deleted", "2026-01-01T01:00:00+00:00") == (
        lane.spans[-1].phase,
        lane.spans[-1].start.isoformat(),
    )


def _text(events, bundles=("default/shop",)):
    out = io.StringIO()
    report = TextReport(out, list(bundles))
    for event in events:
        report.event(event)
    return out.getvalue().splitlines()


def test_text_shows_cause_and_puts_message_last():
    lines = _text(
        [
            *REDESIGNED,
            {
                "time": T0,
                "bundle": "default/shop",
                "type": "DriftCorrectionFailedLater",
                "message": "gave up",
                "tag": "1.0.0",
                "requeueIn": 90,
            },
        ]
    )

    assert lines[0].endswith("job=shop-1 tag=1.0.0 cause=NewVersion attempt=1")
    assert lines[2].endswith(
        "PhaseFailed            message=registry r.io/a/shop: 503 Service Unavailable"
    )
    # an entry name longer than any known still leaves a space, and durations get units
    assert lines[4].endswith(
        "DriftCorrectionFailedLater  tag=1.0.0 requeueIn=1m30s message=gave up"
    )


def test_text_aligns_times_with_and_without_milliseconds():
    lines = _text(TODAY)

    assert {"default/shop"} == {line[26:38] for line in lines}
    assert 1 == len({line.index("shop-") for line in lines if "shop-" in line})


def test_the_summary_counts_a_repository_once_for_its_bundles():
    result = Result(
        events=[],
        bundles={
            "default/a": {"status": {"phase": "Synced", "lastAppliedTag": "1.0.0"}},
            "default/b": {"status": {"phase": "Synced"}, "deletedAt": "2026-01-01T01:00:00Z"},
        },
        registry={"r.io/a/x": {"requests": 7, "pushes": [{"time": T0, "tag": "1.0.0"}]}},
        repositories={"default/a": "r.io/a/x", "default/b": "r.io/a/x"},
        jobs_run={"default/a": 1},
        passes=0,
    )
    out = io.StringIO()

    TextReport(out, ["default/a", "default/b"]).finish(result)

    assert [
        "BUNDLE     PHASE    APPLIED  JOBS  REPOSITORY",
        "default/a  Synced   1.0.0       1  r.io/a/x",
        "default/b  Deleted  -           0  r.io/a/x",
        "",
        "REPOSITORY  BUNDLES  REGISTRY REQUESTS  PUSHES  OUTAGES",
        "r.io/a/x          2                  7       1        0",
    ] == out.getvalue().splitlines()[3:]


def _data(page: str) -> dict:
    match = re.search(r'<script type="application/json" id="data">(.*?)</script>', page, re.S)
    assert match is not None
    return json.loads(match.group(1))


def test_the_html_page_is_self_contained():
    page = render_html(_document(TODAY))

    # nothing to fetch: no external script, style, font, image or frame
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//|@import|url\((?!#)""", page)
    assert "<script src" not in page and "<link" not in page


def test_the_html_page_carries_cause_message_outages_and_pushes():
    registry = {
        "r.io/a/shop": {
            "requests": 4,
            "pushes": [{"time": T0, "tag": "1.0.0"}],
            "outages": [
                {"from": "2026-01-01T05:00:00Z", "until": "2026-01-01T05:30:00Z", "status": 503}
            ],
        }
    }

    data = _data(render_html(_document(REDESIGNED, registry=registry)))

    [lane] = data["lanes"]
    assert ["NewVersion", "Retry"] == [job[5] for job in lane["j"]]
    assert "registry r.io/a/shop: 503 Service Unavailable" in [span[3] for span in lane["s"]]
    assert [[0, "1.0.0"]] == data["repos"]["r.io/a/shop"]["pushes"]
    assert [[18000, 19800, "503"]] == data["repos"]["r.io/a/shop"]["outages"]


def test_the_html_data_cannot_close_its_script_element():
    events = [dict(TODAY[0], tag="</script><script>alert(1)</script>")]

    page = render_html(_document(events))

    assert "</script><script>alert(1)" not in page
    assert "</script><script>alert(1)</script>" == _data(page)["lanes"][0]["j"][0][4]
