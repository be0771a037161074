"""``ScriptedRegistry``: what only the twin has (a schedule, outages, counters); the
behaviour it shares with the real adapter is in ``tests/contract``."""

from __future__ import annotations

from datetime import timedelta

import pytest

from support.registry.clock import EPOCH, ManualClock
from werfop.adapters.scripted_registry import Delete, Outage, Push, ScriptedRegistry
from werfop.core.model import RegistryUnavailable, Sensitive
from werfop.core.ports import Credentials, DigestAnswer, Repository, TagListing

URL = "registry.test/team/app"
REPO = Repository(url=URL)
DIGEST = "sha256:" + "12" * 32


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def registry(clock: ManualClock) -> ScriptedRegistry:
    return ScriptedRegistry(clock)


def at(seconds: int):
    return EPOCH + timedelta(seconds=seconds)


def test_scheduled_events_apply_when_the_clock_reaches_them(
    registry: ScriptedRegistry, clock: ManualClock
) -> None:
    registry.schedule(URL, at(10), Push(tag="1.0.0", digest=DIGEST))
    registry.schedule(URL, at(20), Push(tag="1.1.0"))
    registry.schedule(URL, at(30), Delete(tag="1.0.0"))

    before = registry.list_tags(REPO)
    clock.set(at(10))
    first = registry.list_tags(REPO)
    clock.set(at(25))
    second = registry.list_tags(REPO)
    clock.set(at(30))
    third = registry.list_tags(REPO)

    assert isinstance(before, RegistryUnavailable) and "RepositoryNotFound" == before.reason
    assert ("1.0.0",) == first.tags  # type: ignore[union-attr]
    assert ("1.0.0", "1.1.0") == second.tags  # type: ignore[union-attr]
    assert ("1.1.0",) == third.tags  # type: ignore[union-attr]


def test_events_at_the_same_time_apply_in_scheduling_order(registry: ScriptedRegistry) -> None:
    registry.schedule(URL, at(0), Push(tag="a", digest=DIGEST))
    registry.schedule(URL, at(0), Delete(tag="a"))
    registry.schedule(URL, at(0), Push(tag="b"))

    assert ("b",) == registry.tags(URL)


def test_derived_digests_are_deterministic_and_differ_per_push() -> None:
    def run() -> tuple[str, str, str]:
        registry = ScriptedRegistry(ManualClock())
        return (registry.push(URL, "a"), registry.push(URL, "a"), registry.push(URL, "b"))

    first, again, other = run()

    assert run() == (first, again, other)
    assert 3 == len({first, again, other})
    assert all(d.startswith("sha256:") and 71 == len(d) for d in (first, again, other))


def test_given_digest_is_used(registry: ScriptedRegistry) -> None:
    registry.push(URL, "1.0.0", DIGEST)

    assert DigestAnswer(digest=DIGEST) == registry.resolve_digest(REPO, "1.0.0")


def test_outage_fails_requests_until_it_ends(
    registry: ScriptedRegistry, clock: ManualClock
) -> None:
    registry.push(URL, "1.0.0")
    registry.schedule(
        URL, at(0), Outage(until=at(60), status=503, retry_after=timedelta(seconds=30))
    )

    during = registry.list_tags(REPO)
    clock.set(at(60))
    after = registry.list_tags(REPO)

    assert isinstance(during, RegistryUnavailable)
    assert ("ServiceUnavailable", 503, timedelta(seconds=30), at(0)) == (
        during.reason,
        during.status_code,
        during.retry_after,
        during.at,
    )
    assert URL in during.message
    assert isinstance(after, TagListing)


def test_outage_of_a_host_affects_every_repository_on_it(registry: ScriptedRegistry) -> None:
    registry.push(URL, "1")
    registry.push("registry.test/other", "1")
    registry.push("elsewhere.test/app", "1")
    registry.schedule("registry.test", at(0), Outage(until=at(60), status="timeout"))

    reasons = [
        getattr(registry.list_tags(Repository(url=url)), "reason", "ok")
        for url in (URL, "registry.test/other", "elsewhere.test/app")
    ]

    assert ["Timeout", "Timeout", "ok"] == reasons


def test_etag_matches_until_the_tags_change(registry: ScriptedRegistry) -> None:
    registry.push(URL, "1")
    first = registry.list_tags(REPO)
    assert isinstance(first, TagListing) and first.etag is not None

    same = registry.list_tags(REPO, first.etag)
    registry.push(URL, "2")
    changed = registry.list_tags(REPO, first.etag)

    assert TagListing(etag=first.etag, not_modified=True) == same
    assert isinstance(changed, TagListing)
    assert (False, ("1", "2")) == (changed.not_modified, changed.tags)
    assert first.etag != changed.etag


def test_every_answered_request_is_counted_per_repository(registry: ScriptedRegistry) -> None:
    registry.push(URL, "1")
    registry.schedule(URL, at(0), Outage(until=at(1), status=429))
    registry.list_tags(REPO)
    registry.resolve_digest(REPO, "1")
    registry.list_tags(Repository(url="registry.test/missing"))

    assert (2, 1, 3) == (
        registry.requests(URL),
        registry.requests("registry.test/missing"),
        registry.total_requests(),
    )


def test_required_credentials_make_other_callers_unauthorized(registry: ScriptedRegistry) -> None:
    good = Credentials(username="u", password=Sensitive("p"))
    registry.push(URL, "1")
    registry.require_credentials(URL, good)

    anonymous = registry.list_tags(REPO)
    wrong = registry.list_tags(
        Repository(url=URL, credentials=Credentials(username="u", password=Sensitive("x")))
    )
    right = registry.list_tags(Repository(url=URL, credentials=good))

    assert isinstance(anonymous, RegistryUnavailable) and "Unauthorized" == anonymous.reason
    assert "spec.registry.secretRef" in anonymous.message
    assert isinstance(wrong, RegistryUnavailable) and "rejected" in wrong.message
    assert isinstance(right, TagListing)


def test_a_created_repository_lists_no_tags_instead_of_not_found(
    registry: ScriptedRegistry,
) -> None:
    registry.create(URL)

    answer = registry.list_tags(REPO)

    assert isinstance(answer, TagListing)
    assert ((), 1) == (answer.tags, registry.requests(URL))
