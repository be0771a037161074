"""A pass reuses the status this process wrote instead of decoding it, only when the
object read is the one that write produced (same uid and resourceVersion) and the
status survives encoding unchanged; anything else is decoded."""

from __future__ import annotations

from datetime import timedelta, timezone
from typing import Any

import attrs
import pytest

from support.statuses import sample_status as status
from support.world import T0
from werfop.adapters.memory import ManualClock
from werfop.adapters.scripted_registry import ScriptedRegistry
from werfop.api.codec import encode_status, round_trips
from werfop.core.model import BundleStatus, Rejection, Soak
from werfop.runtime.observe import Observer
from werfop.runtime.registry_economy import RegistryEconomy


class NoJobs:
    def list_jobs(self, label_selector: str) -> list[dict[str, Any]]:
        return []

    def get_job(self, namespace: str, name: str) -> dict[str, Any] | None:
        return None


def observer() -> Observer:
    clock = ManualClock(T0)
    return Observer(NoJobs(), RegistryEconomy(ScriptedRegistry(clock), clock), clock)  # type: ignore[arg-type]


def stored(status_json: dict[str, Any], version: str, *, uid: str = "uid-1") -> dict[str, Any]:
    """A bundle as the API returns it (no spec: the observer stops after the Jobs)."""
    return {
        "apiVersion": "werf.io/v1alpha1",
        "kind": "WerfBundle",
        "metadata": {
            "namespace": "default",
            "name": "shop",
            "uid": uid,
            "resourceVersion": version,
        },
        "status": status_json,
    }


def observed_status(watcher: Observer, raw: dict[str, Any]) -> BundleStatus:
    bundle = watcher.observe(raw, T0).bundle
    assert bundle is not None
    return bundle.status


def test_the_object_our_write_produced_reuses_the_status_written() -> None:
    watcher = observer()
    written = status()
    sent = encode_status(written)
    response = stored(encode_status(written), version="5")
    watcher.status_written(written, sent, response)
    assert written is observed_status(watcher, stored(encode_status(written), version="5"))


def test_a_status_someone_else_wrote_at_a_new_version_is_decoded() -> None:
    watcher = observer()
    written = status(1)
    watcher.status_written(written, encode_status(written), stored(encode_status(written), "5"))
    theirs = attrs.evolve(status(1), phase="Failed", poll_count=9)
    assert theirs == observed_status(watcher, stored(encode_status(theirs), version="6"))


def test_another_object_of_the_same_name_is_decoded() -> None:
    watcher = observer()
    written = status(1)
    watcher.status_written(written, encode_status(written), stored(encode_status(written), "5"))
    other = status(3)
    assert other == observed_status(watcher, stored(encode_status(other), "5", uid="uid-2"))


def test_a_response_that_differs_from_what_was_sent_is_not_remembered() -> None:
    watcher = observer()
    written = status(1)
    answered = encode_status(written) | {"phase": "Failed"}  # e.g. a field pruned/defaulted
    watcher.status_written(written, encode_status(written), stored(answered, version="5"))
    assert "Failed" == observed_status(watcher, stored(answered, version="5")).phase


def test_a_later_write_that_does_not_round_trip_forgets_the_earlier_one() -> None:
    watcher = observer()
    first = status(1)
    watcher.status_written(first, encode_status(first), stored(encode_status(first), "5"))
    lossy = attrs.evolve(first, last_poll_time=T0 + timedelta(microseconds=1500))
    watcher.status_written(lossy, encode_status(lossy), stored(encode_status(lossy), "6"))
    decoded = observed_status(watcher, stored(encode_status(lossy), "6"))
    assert T0 + timedelta(milliseconds=1) == decoded.last_poll_time


def test_a_deleted_bundle_is_forgotten() -> None:
    watcher = observer()
    written = status(1)
    watcher.status_written(written, encode_status(written), stored(encode_status(written), "5"))
    watcher.forget("default/shop")
    assert {} == watcher._written


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param({}, True, id="as-written"),
        pytest.param({"last_poll_time": T0 + timedelta(microseconds=1)}, False, id="microseconds"),
        pytest.param(
            {"last_poll_time": T0.astimezone(timezone(timedelta(hours=2)))}, False, id="not-utc"
        ),
        pytest.param({"poll_count": True}, False, id="bool-as-int"),
        pytest.param({"phase": None}, False, id="none-with-a-default"),
        pytest.param({"last_etag": None}, True, id="none-by-default"),
        pytest.param({"conditions": []}, False, id="list-not-tuple"),
        pytest.param(
            {"version_history": (attrs.evolve(status().version_history[0], attempt="1"),)},
            False,
            id="history-attempt-as-text",
        ),
        pytest.param(
            {
                "version_history": (
                    attrs.evolve(
                        status().version_history[0], started_at=T0 + timedelta(microseconds=1)
                    ),
                )
            },
            False,
            id="history-time-in-microseconds",
        ),
        pytest.param(
            {"conditions": (attrs.evolve(status().conditions[0], observed_generation="1"),)},
            False,
            id="condition-generation-as-text",
        ),
        pytest.param(
            {
                "selection": attrs.evolve(
                    status().selection, rejected=(Rejection(tag="2", reason=1),)
                )
            },
            False,
            id="rejection-reason-not-text",
        ),
        pytest.param(
            {"selection": attrs.evolve(status().selection, rejected=[])},
            False,
            id="rejections-list-not-tuple",
        ),
        pytest.param({"soak": Soak(tag="1.0.0", digest="sha256:0", since=T0)}, True, id="soak"),
        pytest.param(
            {"soak": Soak(tag="1.0.0", digest="sha256:0", since=T0 + timedelta(microseconds=1))},
            False,
            id="soak-since-in-microseconds",
        ),
    ],
)
def test_round_trips_says_whether_decoding_gives_the_status_back(change, expected) -> None:
    assert expected == round_trips(attrs.evolve(status(), **change))


def test_round_trips_trusts_field_objects_of_a_trusted_status_only() -> None:
    trusted = attrs.evolve(status(), last_poll_time=T0 + timedelta(microseconds=1))
    assert round_trips(attrs.evolve(trusted, poll_count=2), trusted)
    assert not round_trips(attrs.evolve(trusted, poll_count=2))
