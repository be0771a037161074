"""``RegistryEconomy``: shared cache, single-flight, conditional requests, token bucket,
host cooldown and counters, over hand-written ports and the ``ScriptedRegistry`` twin."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta

import pytest

from support.registry.clock import EPOCH, ManualClock
from werfop.adapters.scripted_registry import ScriptedRegistry
from werfop.core.model import RegistryUnavailable, Sensitive
from werfop.core.ports import Credentials, DigestAnswer, Repository, TagListing
from werfop.runtime.registry_economy import RegistryEconomy, RequestBudget

URL = "registry.test/team/app"
REPO = Repository(url=URL)
DIGEST = "sha256:" + "34" * 32


class RecordingPort:
    """A ``RegistryPort`` whose answers come from ``answer(kind, repository, arg)``."""

    def __init__(
        self, answer: Callable[[str, Repository, str | None], object] | None = None
    ) -> None:
        self.calls: list[tuple[str, str, str | None]] = []
        self._answer = answer or (lambda kind, repo, arg: _ok(kind))
        self._lock = threading.Lock()

    def list_tags(self, repository: Repository, etag: str | None = None):
        with self._lock:
            self.calls.append(("tags", repository.url, etag))
        return self._answer("tags", repository, etag)

    def resolve_digest(self, repository: Repository, tag: str):
        with self._lock:
            self.calls.append(("digest", repository.url, tag))
        return self._answer("digest", repository, tag)


def _ok(kind: str) -> object:
    if kind == "tags":
        return TagListing(tags=("1.0.0",), etag='"e1"')
    return DigestAnswer(digest=DIGEST)


def unavailable(
    reason: str, status: int, retry_after: timedelta | None = None
) -> RegistryUnavailable:
    return RegistryUnavailable(
        repository=URL,
        reason=reason,
        message="m",
        status_code=status,
        retry_after=retry_after,
        at=EPOCH,
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def economy(port, clock: ManualClock, **kwargs) -> RegistryEconomy:
    return RegistryEconomy(port, clock, max_age=timedelta(seconds=30), **kwargs)


def test_bundles_following_one_repository_share_one_request(clock: ManualClock) -> None:
    port = RecordingPort()
    layer = economy(port, clock)

    first = layer.list_tags(REPO)
    second = layer.list_tags(REPO)

    assert TagListing(tags=("1.0.0",), etag='"e1"', requests=1) == first
    assert TagListing(tags=("1.0.0",), etag='"e1"', requests=0) == second
    assert (1, 1, 1) == (len(port.calls), layer.requests(URL), layer.cache_hits())


def test_stale_entry_is_refreshed_with_if_none_match_and_not_modified_serves_the_cache(
    clock: ManualClock,
) -> None:
    scripted = ScriptedRegistry(clock)
    scripted.push(URL, "1.0.0")
    layer = economy(scripted, clock)
    first = layer.list_tags(REPO)
    assert isinstance(first, TagListing)

    clock.advance(timedelta(seconds=31))
    refreshed = layer.list_tags(REPO)
    asked_again = layer.list_tags(REPO, etag=first.etag, max_age=timedelta(0))

    assert TagListing(tags=("1.0.0",), etag=first.etag, requests=1) == refreshed
    assert (
        TagListing(tags=("1.0.0",), etag=first.etag, not_modified=True, requests=1) == asked_again
    )
    assert 3 == scripted.requests(URL) == layer.requests(URL)


def test_if_none_match_is_sent_only_when_a_body_is_cached(clock: ManualClock) -> None:
    port = RecordingPort()
    layer = economy(port, clock)

    layer.list_tags(REPO, etag='"callers-own"')
    layer.list_tags(REPO, max_age=timedelta(0))

    assert [("tags", URL, None), ("tags", URL, '"e1"')] == port.calls


def test_not_modified_answer_keeps_all_tags_and_reports_the_callers_etag_match(
    clock: ManualClock,
) -> None:
    answers = iter(
        [TagListing(tags=("a", "b"), etag='"e"'), TagListing(etag='"e"', not_modified=True)]
    )
    layer = economy(RecordingPort(lambda *_: next(answers)), clock)
    layer.list_tags(REPO)

    fresh = layer.list_tags(REPO, etag='"old"', max_age=timedelta(0))

    assert TagListing(tags=("a", "b"), etag='"e"', not_modified=False, requests=1) == fresh


def test_caller_etag_matching_the_cached_listing_reads_not_modified(clock: ManualClock) -> None:
    layer = economy(RecordingPort(), clock)
    layer.list_tags(REPO)

    answer = layer.list_tags(REPO, etag='"e1"')

    assert TagListing(tags=("1.0.0",), etag='"e1"', not_modified=True, requests=0) == answer


def test_different_credentials_do_not_share_a_cache_entry(clock: ManualClock) -> None:
    port = RecordingPort()
    layer = economy(port, clock)
    alice = Repository(url=URL, credentials=Credentials(username="alice", password=Sensitive("p")))

    layer.list_tags(REPO)
    layer.list_tags(alice)
    layer.list_tags(alice)

    assert 2 == len(port.calls)


def test_digests_are_cached_per_tag(clock: ManualClock) -> None:
    port = RecordingPort()
    layer = economy(port, clock)

    answers = [layer.resolve_digest(REPO, tag) for tag in ("1", "2", "1")]

    assert [("digest", URL, "1"), ("digest", URL, "2")] == port.calls
    assert [1, 1, 0] == [a.requests for a in answers]  # type: ignore[union-attr]


def test_failures_are_shared_within_the_window_too(clock: ManualClock) -> None:
    port = RecordingPort(lambda *_: unavailable("ServerError", 500))
    layer = economy(port, clock)

    answers = [layer.list_tags(REPO) for _ in range(3)]

    assert 1 == len(port.calls)
    assert {"ServerError"} == {a.reason for a in answers}  # type: ignore[union-attr]


def test_invalidate_makes_the_next_call_ask_again(clock: ManualClock) -> None:
    port = RecordingPort()
    layer = economy(port, clock)
    layer.list_tags(REPO)
    layer.resolve_digest(REPO, "1")

    layer.invalidate(URL)
    layer.list_tags(REPO)
    layer.resolve_digest(REPO, "1")

    assert 4 == len(port.calls)


def test_concurrent_callers_wait_for_the_one_request_in_flight(clock: ManualClock) -> None:
    release = threading.Event()

    def slow(kind: str, repository: Repository, arg: str | None) -> object:
        release.wait(5)
        return _ok(kind)

    port = RecordingPort(slow)
    layer = economy(port, clock)
    results: list[object] = []
    threads = [
        threading.Thread(target=lambda: results.append(layer.list_tags(REPO))) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 5
    while layer.stats().joined < 7 and time.monotonic() < deadline:
        time.sleep(0.005)
    release.set()
    for thread in threads:
        thread.join(5)

    assert 1 == len(port.calls)
    assert 8 == len(results)
    assert {("1.0.0",)} == {r.tags for r in results}  # type: ignore[attr-defined]
    assert (7, 1) == (layer.stats().joined, layer.requests(URL))


def test_an_exception_from_the_wrapped_port_reaches_the_caller_and_is_not_cached(
    clock: ManualClock,
) -> None:
    calls = iter([RuntimeError("boom"), _ok("tags")])

    def flaky(*_: object) -> object:
        answer = next(calls)
        if isinstance(answer, Exception):
            raise answer
        return answer

    layer = economy(RecordingPort(flaky), clock)

    with pytest.raises(RuntimeError):
        layer.list_tags(REPO)
    assert isinstance(layer.list_tags(REPO), TagListing)


def test_token_bucket_spaces_requests_to_one_host_on_the_clock(clock: ManualClock) -> None:
    layer = economy(RecordingPort(), clock, budget=RequestBudget(rate=2, burst=2))

    for n in range(6):
        layer.list_tags(Repository(url=f"registry.test/app{n}"))

    assert [timedelta(seconds=0.5)] * 4 == clock.sleeps
    assert EPOCH + timedelta(seconds=2) == clock.now()
    assert timedelta(seconds=2) == layer.stats().budget_wait


def test_each_host_has_its_own_budget(clock: ManualClock) -> None:
    layer = economy(
        RecordingPort(),
        clock,
        budget=RequestBudget(rate=1, burst=1),
        host_budgets={"fast.test": RequestBudget(rate=100, burst=100)},
    )

    for n in range(3):
        layer.list_tags(Repository(url=f"fast.test/app{n}"))
    layer.list_tags(Repository(url="slow.test/app"))

    assert [] == clock.sleeps


def test_calls_that_cost_several_requests_are_charged_in_full(clock: ManualClock) -> None:
    port = RecordingPort(lambda *_: TagListing(tags=("a",), requests=5))
    layer = economy(port, clock, budget=RequestBudget(rate=1, burst=5))

    layer.list_tags(Repository(url="registry.test/a"))
    layer.list_tags(Repository(url="registry.test/b"))

    assert [timedelta(seconds=1)] == clock.sleeps
    assert 10 == layer.stats().total_requests


def test_rate_limited_host_is_left_alone_until_retry_after(clock: ManualClock) -> None:
    answers = iter([unavailable("RateLimited", 429, timedelta(seconds=30)), _ok("tags")])
    port = RecordingPort(lambda *_: next(answers))
    layer = economy(port, clock)
    layer.list_tags(Repository(url="registry.test/a"))

    clock.advance(timedelta(seconds=10))
    suppressed = layer.list_tags(Repository(url="registry.test/b"))
    clock.advance(timedelta(seconds=20))
    asked = layer.list_tags(Repository(url="registry.test/b"))

    assert isinstance(suppressed, RegistryUnavailable)
    assert ("RateLimited", 429, timedelta(seconds=20), "registry.test/b") == (
        suppressed.reason,
        suppressed.status_code,
        suppressed.retry_after,
        suppressed.repository,
    )
    assert isinstance(asked, TagListing)
    assert (2, 1) == (len(port.calls), layer.stats().suppressed)


def test_economy_over_the_twin_counts_what_the_twin_answered(clock: ManualClock) -> None:
    scripted = ScriptedRegistry(clock)
    scripted.push(URL, "1.0.0")
    layer = economy(scripted, clock)

    for _ in range(100):
        layer.list_tags(REPO)
        layer.resolve_digest(REPO, "1.0.0")

    assert (2, 2, 198) == (scripted.total_requests(), layer.requests(URL), layer.cache_hits())


def test_not_modified_without_a_cached_body_is_a_malformed_answer(clock: ManualClock) -> None:
    layer = economy(RecordingPort(lambda *_: TagListing(not_modified=True)), clock)

    answer = layer.list_tags(REPO)

    assert isinstance(answer, RegistryUnavailable)
    assert ("MalformedResponse", URL) == (answer.reason, answer.repository)


def test_an_answer_is_dated_when_its_request_was_sent_not_when_it_returned(
    clock: ManualClock,
) -> None:
    def slow(kind: str, repository: Repository, arg: str | None) -> object:
        clock.advance(timedelta(seconds=10))  # the registry takes ten seconds to answer
        return _ok(kind)

    port = RecordingPort(slow)
    layer = economy(port, clock)
    layer.list_tags(REPO)  # sent at 0 s, back at 10 s

    clock.set(EPOCH + timedelta(seconds=29))
    layer.list_tags(REPO)
    clock.set(EPOCH + timedelta(seconds=31))
    layer.list_tags(REPO)

    assert 2 == len(port.calls)


def test_a_cache_hit_answers_with_the_cached_entry_at_no_cost(clock: ManualClock) -> None:
    answers = iter([TagListing(tags=("1.0.0",), etag='"e1"'), TagListing(tags=("2.0.0",))])
    port = RecordingPort(lambda kind, repo, arg: next(answers))
    economy = RegistryEconomy(port, clock, max_age=timedelta(seconds=30))
    first = economy.list_tags(REPO)
    hit = economy.list_tags(REPO, etag='"e1"')
    economy.invalidate(URL)
    fresh = economy.list_tags(REPO)
    again = economy.list_tags(REPO)
    assert [(("1.0.0",), 1, False), (("1.0.0",), 0, True)] == [
        (a.tags, a.requests, a.not_modified) for a in (first, hit)
    ]
    assert [(("2.0.0",), 1), (("2.0.0",), 0)] == [(a.tags, a.requests) for a in (fresh, again)]
