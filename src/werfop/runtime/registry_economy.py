"""``RegistryEconomy``: spend as few registry requests as possible, and never too fast.

Role: a ``RegistryPort`` that wraps any other (``HttpxRegistry`` in the operator,
``ScriptedRegistry`` in the simulator) and adds:

- a shared answer cache keyed by ``Repository.cache_key`` (URL + credential identity +
  CA/insecure): within a freshness window (``max_age`` per call, or the default) every
  bundle that follows the same repository shares one tag-list request; digests are cached
  per (cache key, tag) the same way;
- single-flight: concurrent callers (threads) of the same key wait for the one request in
  flight instead of sending their own;
- conditional requests: the last tag list is kept, and ``If-None-Match`` is sent (the
  wrapped port's ``etag``) only when there is such a body to serve on ``not_modified``;
- a per-registry-host token bucket (default 10 requests/s, burst 10) on an injected
  ``SleepingClock``, charged with the real number of requests each call made (pages and
  token fetches included), so a thousand bundles never hammer one registry;
- a host cooldown: after a 429/503 with ``Retry-After``, further misses for that host are
  answered with the same failure (and the remaining delay) without asking it;
- counters: requests per repository, cache hits, joined flights, suppressed requests.

Answers always carry the full tag list: ``not_modified`` is ``True`` when the caller's
``etag`` equals the listing's ETag, so callers may skip work, but need no cache of their
own. ``requests`` on an answer is what this call cost (0 for a cache hit or a join).
Must not: import adapters (it sees only the port), perform I/O itself, or sleep other
than through the clock. Thread-safe.
Neighbours: ``werfop.core.ports`` (the port, ``SleepingClock``); the runtime loop and the
simulator construct it; the registry webhook endpoint calls ``invalidate``.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Protocol, cast

import attrs

from werfop.core.model import RegistryUnavailable
from werfop.core.ports import (
    DigestAnswer,
    RegistryPort,
    Repository,
    SleepingClock,
    TagListing,
)

Answer = TagListing | DigestAnswer | RegistryUnavailable
_COOLDOWN_REASONS = frozenset({"RateLimited", "ServiceUnavailable"})


@attrs.frozen(kw_only=True)
class RequestBudget:
    """A token bucket's shape: ``rate`` requests per second, bursts of up to ``burst``."""

    rate: float = 10.0
    burst: float = 10.0

    def __attrs_post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError("a request budget needs rate > 0 and burst >= 1")


@attrs.frozen(kw_only=True)
class EconomyStats:
    """Counters since construction. ``requests`` are real registry requests per
    repository URL, as reported by the wrapped port (a failure counts as one)."""

    requests: tuple[tuple[str, int], ...]
    cache_hits: int
    joined: int
    suppressed: int
    budget_wait: timedelta

    @property
    def total_requests(self) -> int:
        return sum(count for _, count in self.requests)


class TokenBucket:
    """A reservation token bucket on external time: ``reserve`` takes one token now and
    says how long to wait for it (a deficit queues later callers behind earlier ones);
    ``charge`` takes more without waiting (the cost discovered after a call).
    Not thread-safe on its own: ``RegistryEconomy`` calls it under its lock."""

    def __init__(self, budget: RequestBudget, now: datetime) -> None:
        self._budget = budget
        self._tokens = float(budget.burst)
        self._at = now

    def _refill(self, now: datetime) -> None:
        if now > self._at:
            elapsed = (now - self._at).total_seconds()
            self._tokens = min(
                float(self._budget.burst), self._tokens + elapsed * self._budget.rate
            )
            self._at = now

    def reserve(self, now: datetime, cost: float = 1.0) -> timedelta:
        self._refill(now)
        self._tokens -= cost
        if self._tokens >= 0:
            return timedelta(0)
        return timedelta(seconds=-self._tokens / self._budget.rate)

    def charge(self, now: datetime, cost: float) -> None:
        if cost > 0:
            self._refill(now)
            self._tokens -= cost


@attrs.frozen
class _Entry:
    result: Answer
    at: datetime
    # ``_free(result)``, made once: every cache hit hands out this same (frozen) answer
    free: Answer = attrs.field(
        default=attrs.Factory(lambda self: _free(self.result), takes_self=True)
    )


class _Flight:
    """One request in progress that other callers of the same key wait for."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: Answer | None = None
        self.error: BaseException | None = None


_TagsKey = tuple[str, tuple[str, str, bool]]
_DigestKey = tuple[str, tuple[str, str, bool], str]


class SharedRegistry(Protocol):
    """What the observer needs of the registry: answers that may be shared between
    bundles up to ``max_age`` old, and a way to drop them (a push notification).
    ``RegistryEconomy`` is the implementation; tests may stand in for it."""

    def list_tags(
        self,
        repository: Repository,
        etag: str | None = None,
        max_age: timedelta | None = None,
    ) -> TagListing | RegistryUnavailable: ...

    def resolve_digest(
        self, repository: Repository, tag: str, max_age: timedelta | None = None
    ) -> DigestAnswer | RegistryUnavailable: ...

    def invalidate(self, repository_url: str) -> None: ...


class RegistryEconomy:
    """A caching, single-flight, rate-budgeted ``RegistryPort`` over ``registry``."""

    def __init__(
        self,
        registry: RegistryPort,
        clock: SleepingClock,
        *,
        max_age: timedelta = timedelta(seconds=30),
        budget: RequestBudget | None = None,
        host_budgets: Mapping[str, RequestBudget] | None = None,
        max_entries: int = 20_000,
    ) -> None:
        """``max_age`` is the default freshness window; ``budget`` applies per registry
        host unless ``host_budgets`` names the host; at most ``max_entries`` answers are
        kept (the oldest half is dropped beyond that)."""
        self._registry = registry
        self._clock = clock
        self._max_age = max_age
        self._budget = budget or RequestBudget()
        self._host_budgets = dict(host_budgets or {})
        self._max_entries = max_entries
        self._lock = threading.Lock()
        self._answers: dict[object, _Entry] = {}
        self._bodies: dict[_TagsKey, TagListing] = {}
        self._flights: dict[object, _Flight] = {}
        self._buckets: dict[str, TokenBucket] = {}
        self._cooldowns: dict[str, tuple[datetime, RegistryUnavailable]] = {}
        self._requests: Counter[str] = Counter()
        self._hits = 0
        self._joined = 0
        self._suppressed = 0
        self._waited = timedelta(0)

    # -- the port ----------------------------------------------------------------------

    def list_tags(
        self,
        repository: Repository,
        etag: str | None = None,
        max_age: timedelta | None = None,
    ) -> TagListing | RegistryUnavailable:
        """The repository's tags, from a cache entry younger than ``max_age`` (default:
        the economy's) or from one shared request. The answer always holds every tag;
        ``not_modified`` says whether they still match the caller's ``etag``."""
        key: _TagsKey = ("tags", repository.cache_key)

        def fetch() -> TagListing | RegistryUnavailable:
            with self._lock:
                body = self._bodies.get(key)
            upstream_etag = body.etag if body is not None else None
            result = self._registry.list_tags(repository, upstream_etag)
            if isinstance(result, TagListing) and result.not_modified and body is None:
                # "Not modified" to a request that carried no ETag: nothing to serve.
                return RegistryUnavailable(
                    repository=repository.url,
                    reason="MalformedResponse",
                    message=(
                        f"Cannot list the tags of {repository.url}: the registry answered "
                        "'not modified' to a request without If-None-Match"
                    ),
                    at=self._clock.now(),
                )
            if isinstance(result, TagListing):
                with self._lock:
                    if result.not_modified and body is not None:
                        result = attrs.evolve(
                            body,
                            etag=result.etag or body.etag,
                            not_modified=False,
                            requests=result.requests,
                        )
                    if not result.not_modified:
                        self._bodies[key] = attrs.evolve(result, requests=0)
            return result

        result = cast(
            TagListing | RegistryUnavailable, self._answer(key, repository, max_age, fetch)
        )
        if isinstance(result, TagListing):
            same = etag is not None and etag == result.etag
            return (
                result if result.not_modified == same else attrs.evolve(result, not_modified=same)
            )
        return result

    def resolve_digest(
        self, repository: Repository, tag: str, max_age: timedelta | None = None
    ) -> DigestAnswer | RegistryUnavailable:
        """The digest ``tag`` points at, cached per (repository cache key, tag) like tag
        lists, with the same single-flight and budget."""
        key: _DigestKey = ("digest", repository.cache_key, tag)
        answer = self._answer(
            key, repository, max_age, lambda: self._registry.resolve_digest(repository, tag)
        )
        return cast(DigestAnswer | RegistryUnavailable, answer)

    # -- control and counters --------------------------------------------------------

    def invalidate(self, repository_url: str) -> None:
        """Forget cached answers for ``repository_url`` (e.g. a registry webhook said a
        tag was pushed); the last tag list stays, for conditional requests."""
        with self._lock:
            for key in [k for k in self._answers if _url_of(k) == repository_url]:
                del self._answers[key]

    def requests(self, repository_url: str) -> int:
        """Real registry requests made for ``repository_url`` so far."""
        with self._lock:
            return self._requests[repository_url]

    def cache_hits(self) -> int:
        with self._lock:
            return self._hits

    def stats(self) -> EconomyStats:
        with self._lock:
            return EconomyStats(
                requests=tuple(sorted(self._requests.items())),
                cache_hits=self._hits,
                joined=self._joined,
                suppressed=self._suppressed,
                budget_wait=self._waited,
            )

    # -- the machinery -----------------------------------------------------------------

    def _answer(
        self,
        key: object,
        repository: Repository,
        max_age: timedelta | None,
        fetch: Callable[[], Answer],
    ) -> Answer:
        window = self._max_age if max_age is None else max_age
        with self._lock:
            now = self._clock.now()
            entry = self._answers.get(key)
            if entry is not None and timedelta(0) <= now - entry.at < window:
                self._hits += 1
                return entry.free
            suppressed = self._cooled_down(repository, now)
            if suppressed is not None:
                self._suppressed += 1
                return suppressed
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = _Flight()
                self._flights[key] = flight
            else:
                self._joined += 1
        if not leader:
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            assert flight.result is not None
            return _free(flight.result)
        try:
            result, sent_at = self._spend(repository, fetch)
        except BaseException as error:
            with self._lock:
                del self._flights[key]
            flight.error = error
            flight.done.set()
            raise
        with self._lock:
            self._remember(key, repository, result, sent_at)
            del self._flights[key]
        flight.result = result
        flight.done.set()
        return result

    def _spend(
        self, repository: Repository, fetch: Callable[[], Answer]
    ) -> tuple[Answer, datetime]:
        """Wait for the host's budget, make the call, charge what it really cost.

        Also returns when the call was made: the answer is dated then, the earliest
        moment it can describe, so it never passes for fresher than it is."""
        host = repository.host
        with self._lock:
            bucket = self._bucket(host)
            wait = bucket.reserve(self._clock.now())
            self._waited += wait
        if wait > timedelta(0):
            self._clock.sleep(wait)
        sent_at = self._clock.now()
        result = fetch()
        used = result.requests if isinstance(result, TagListing | DigestAnswer) else 1
        with self._lock:
            self._requests[repository.url] += used
            bucket.charge(self._clock.now(), used - 1)
        return result, sent_at

    def _remember(
        self,
        key: object,
        repository: Repository,
        result: TagListing | DigestAnswer | RegistryUnavailable,
        sent_at: datetime,
    ) -> None:
        now = self._clock.now()
        self._answers[key] = _Entry(result=result, at=sent_at)
        if len(self._answers) > self._max_entries:
            oldest = sorted(self._answers, key=lambda k: self._answers[k].at)
            for stale in oldest[: len(oldest) // 2]:
                del self._answers[stale]
        if (
            isinstance(result, RegistryUnavailable)
            and result.reason in _COOLDOWN_REASONS
            and result.retry_after is not None
            and result.retry_after > timedelta(0)
        ):
            until = now + result.retry_after
            current = self._cooldowns.get(repository.host)
            if current is None or current[0] < until:
                self._cooldowns[repository.host] = (until, result)

    def _cooled_down(self, repository: Repository, now: datetime) -> RegistryUnavailable | None:
        cooldown = self._cooldowns.get(repository.host)
        if cooldown is None:
            return None
        until, cause = cooldown
        if now >= until:
            del self._cooldowns[repository.host]
            return None
        remaining = until - now
        return attrs.evolve(
            cause,
            repository=repository.url,
            retry_after=remaining,
            at=now,
            message=(
                f"Not asking {repository.host} about {repository.url} for another "
                f"{remaining.total_seconds():g}s: it answered {cause.reason}"
                f"{f' (HTTP {cause.status_code})' if cause.status_code else ''} and asked "
                "werfop to wait"
            ),
        )

    def _bucket(self, host: str) -> TokenBucket:
        bucket = self._buckets.get(host)
        if bucket is None:
            budget = self._host_budgets.get(host, self._budget)
            bucket = TokenBucket(budget, self._clock.now())
            self._buckets[host] = bucket
        return bucket


def _free(result: Answer) -> Answer:
    """The answer as seen by a caller that caused no request."""
    if isinstance(result, TagListing | DigestAnswer):
        return attrs.evolve(result, requests=0)
    return result


def _url_of(key: object) -> str | None:
    if isinstance(key, tuple) and len(key) >= 2 and isinstance(key[1], tuple):
        url = key[1][0]
        return url if isinstance(url, str) else None
    return None
