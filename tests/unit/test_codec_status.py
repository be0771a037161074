"""The status codec: a round trip is lossless, and what callers receive is theirs."""

from __future__ import annotations

from datetime import timedelta, timezone

import pytest

from support.statuses import sample_status
from support.world import T0
from werfop.api.codec import decode_status, encode_status, format_time, parse_time
from werfop.core.model import BundleStatus


def status() -> BundleStatus:
    return sample_status(polls=5, entries=3)


def test_a_status_survives_a_round_trip_every_time() -> None:
    assert status() == decode_status(encode_status(status()))


def test_the_encoding_is_camel_case_with_rfc3339_times_and_no_unset_fields() -> None:
    encoded = encode_status(status())
    assert "2026-01-01T00:05:00Z" == encoded["lastPollTime"]
    assert "W/1" == encoded["lastETag"]
    assert {
        "tag": "1.0.0",
        "digest": "sha256:0",
        "valuesHash": "v",
        "jobName": "job-0",
        "attempt": 1,
        "startedAt": "2026-01-01T00:00:00Z",
        "finishedAt": "2026-01-01T00:01:00Z",
        "result": "Succeeded",
    } == encoded["versionHistory"][0]
    assert "nextPollTime" not in encoded


def test_each_encoding_is_a_new_document_the_caller_may_change() -> None:
    first = encode_status(status())
    first["versionHistory"][0]["tag"] = "changed"
    first["conditions"][0]["status"] = "False"
    second = encode_status(status())
    assert "1.0.0" == second["versionHistory"][0]["tag"]
    assert "True" == second["conditions"][0]["status"]


@pytest.mark.parametrize(
    ("attempt", "expected"),
    [
        pytest.param(2, 2, id="integer"),
        pytest.param("3", 3, id="string"),
        pytest.param(True, 1, id="boolean-as-before"),
    ],
)
def test_history_entries_decode_alike_whatever_was_seen_before(attempt, expected) -> None:
    encoded = encode_status(status())
    decode_status(encoded)
    encoded["versionHistory"][0]["attempt"] = attempt
    assert expected == decode_status(encoded).version_history[0].attempt


def test_a_damaged_entry_drops_its_field_every_time() -> None:
    encoded = encode_status(status())
    del encoded["versionHistory"][1]["startedAt"]
    for _ in range(2):
        assert () == decode_status(encoded).version_history


def test_times_format_alike_in_any_time_zone() -> None:
    moment = T0 + timedelta(seconds=1, milliseconds=500)
    east = moment.astimezone(timezone(timedelta(hours=3)))
    assert "2026-01-01T00:00:01.500Z" == format_time(moment)
    assert format_time(moment) == format_time(east)
    assert moment == parse_time("2026-01-01T00:00:01.500Z")
    assert parse_time("2026-01-01T00:00:01.500") == parse_time("2026-01-01T00:00:01.500Z")
    assert parse_time("not a time") is None
