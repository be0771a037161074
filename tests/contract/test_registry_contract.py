"""The ``RegistryPort`` contract, run against the twin AND the real adapter.

Every behavioural test here runs on ``ScriptedRegistry`` and on ``HttpxRegistry`` pointed
at the real distribution registry (plain HTTP, TLS with a test CA, bearer tokens), so
the simulator's registry cannot drift from the operator's. The failure-parity tests at
the end compare the twin's scripted outages with what the real adapter makes of the same
HTTP answers from a scripted server.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta
from typing import Protocol

import pytest
from werkzeug import Response

from support.registry.clock import ManualClock
from support.registry.fixtures import (  # noqa: F401  (fixtures register by import)
    httpx_registry_fixture,
    plain_registry_fixture,
    raw_server_fixture,
    repo_name_fixture,
    tls_registry_fixture,
    token_registry_fixture,
)
from support.registry.process import RunningRegistry
from support.registry.raw_server import RawHttpServer
from werfop.adapters.registry import HttpxRegistry, RegistryLimits
from werfop.adapters.scripted_registry import Outage, ScriptedRegistry
from werfop.core.model import RegistryUnavailable
from werfop.core.ports import DigestAnswer, RegistryPort, Repository, TagListing

_revisions = itertools.count(1)


class World(Protocol):
    """A registry under test plus the means to change what it holds."""

    registry: RegistryPort

    def repository(self, name: str) -> Repository: ...
    def push(self, name: str, tag: str) -> str: ...
    def delete(self, name: str, tag: str) -> None: ...


class ScriptedWorld:
    def __init__(self) -> None:
        self.clock = ManualClock()
        self.registry = ScriptedRegistry(self.clock)

    def repository(self, name: str) -> Repository:
        return Repository(url=f"registry.test/{name}")

    def push(self, name: str, tag: str) -> str:
        self.clock.advance(timedelta(seconds=1))
        return self.registry.push(f"registry.test/{name}", tag)

    def delete(self, name: str, tag: str) -> None:
        self.clock.advance(timedelta(seconds=1))
        self.registry.delete(f"registry.test/{name}", tag)


class RealWorld:
    def __init__(self, running: RunningRegistry, registry: HttpxRegistry) -> None:
        self.running = running
        self.registry = registry
        self.digests: dict[tuple[str, str], str] = {}

    def repository(self, name: str) -> Repository:
        credentials = self.running.credentials("reader") if self.running.mode == "token" else None
        return self.running.repository(name, credentials=credentials)

    def push(self, name: str, tag: str) -> str:
        # A new revision each time, so a re-push is new content with a new digest.
        digest = self.running.pusher.push_chart(name, tag, revision=next(_revisions))
        self.digests[(name, tag)] = digest
        return digest

    def delete(self, name: str, tag: str) -> None:
        self.running.pusher.delete_manifest(name, self.digests.pop((name, tag)))


@pytest.fixture(params=["scripted", "httpx-plain", "httpx-tls", "httpx-token"])
def world(request: pytest.FixtureRequest, httpx_registry: HttpxRegistry) -> World:
    if request.param == "scripted":
        return ScriptedWorld()
    mode = request.param.removeprefix("httpx-")
    running = request.getfixturevalue(f"{mode}_registry")
    return RealWorld(running, httpx_registry)


def listed(world: World, name: str) -> TagListing:
    answer = world.registry.list_tags(world.repository(name))
    assert isinstance(answer, TagListing), answer
    return answer


def test_listing_shows_every_pushed_tag(world: World, repo_name: str) -> None:
    tags = ["1.0.0", "1.1.0", "2.0.0-rc.1", "latest", "v3"]
    for tag in tags:
        world.push(repo_name, tag)

    assert sorted(tags) == sorted(listed(world, repo_name).tags)


def test_listing_counts_at_least_one_request(world: World, repo_name: str) -> None:
    world.push(repo_name, "1.0.0")

    assert listed(world, repo_name).requests >= 1


def test_listing_a_repository_with_many_tags_returns_them_all(world: World, repo_name: str) -> None:
    tags = [f"1.{minor}.0" for minor in range(25)]
    for tag in tags:
        world.push(repo_name, tag)

    assert sorted(tags) == sorted(listed(world, repo_name).tags)


def test_unknown_repository_is_repository_not_found(world: World, repo_name: str) -> None:
    answer = world.registry.list_tags(world.repository(repo_name))

    assert isinstance(answer, RegistryUnavailable)
    assert ("RepositoryNotFound", 404) == (answer.reason, answer.status_code)
    assert world.repository(repo_name).url == answer.repository


def test_repository_whose_tags_were_all_deleted_lists_no_tags(world: World, repo_name: str) -> None:
    world.push(repo_name, "1.0.0")
    world.delete(repo_name, "1.0.0")

    assert () == listed(world, repo_name).tags


def test_digest_of_a_tag_is_the_pushed_manifest_digest(world: World, repo_name: str) -> None:
    digest = world.push(repo_name, "1.0.0")
    world.push(repo_name, "1.1.0")

    answer = world.registry.resolve_digest(world.repository(repo_name), "1.0.0")

    assert isinstance(answer, DigestAnswer), answer
    assert digest == answer.digest
    assert answer.digest.startswith("sha256:") and 71 == len(answer.digest)


def test_repushed_tag_resolves_to_a_new_digest(world: World, repo_name: str) -> None:
    first = world.push(repo_name, "1.0.0")
    second = world.push(repo_name, "1.0.0")

    answer = world.registry.resolve_digest(world.repository(repo_name), "1.0.0")

    assert first != second
    assert DigestAnswer(digest=second, requests=answer.requests) == answer
    assert ["1.0.0"] == list(listed(world, repo_name).tags)


def test_deleted_tag_disappears_and_no_longer_resolves(world: World, repo_name: str) -> None:
    world.push(repo_name, "1.0.0")
    world.push(repo_name, "1.1.0")
    world.delete(repo_name, "1.1.0")

    answer = world.registry.resolve_digest(world.repository(repo_name), "1.1.0")

    assert ["1.0.0"] == list(listed(world, repo_name).tags)
    assert isinstance(answer, RegistryUnavailable)
    assert ("TagNotFound", 404) == (answer.reason, answer.status_code)


def test_unknown_tag_is_tag_not_found(world: World, repo_name: str) -> None:
    world.push(repo_name, "1.0.0")

    answer = world.registry.resolve_digest(world.repository(repo_name), "9.9.9")

    assert isinstance(answer, RegistryUnavailable)
    assert ("TagNotFound", 404) == (answer.reason, answer.status_code)
    assert "9.9.9" in answer.message and world.repository(repo_name).url in answer.message


def test_tag_in_unknown_repository_is_tag_not_found(world: World, repo_name: str) -> None:
    answer = world.registry.resolve_digest(world.repository(repo_name), "1.0.0")

    assert isinstance(answer, RegistryUnavailable)
    assert ("TagNotFound", 404) == (answer.reason, answer.status_code)


def test_listing_again_with_the_etag_gives_the_same_tags_or_not_modified(
    world: World, repo_name: str
) -> None:
    world.push(repo_name, "1.0.0")
    first = listed(world, repo_name)

    again = world.registry.list_tags(world.repository(repo_name), first.etag)

    assert isinstance(again, TagListing)
    assert again.not_modified or first.tags == again.tags


def test_listing_after_a_push_with_an_old_etag_shows_the_new_tag(
    world: World, repo_name: str
) -> None:
    world.push(repo_name, "1.0.0")
    first = listed(world, repo_name)
    world.push(repo_name, "1.1.0")

    again = world.registry.list_tags(world.repository(repo_name), first.etag)

    assert isinstance(again, TagListing)
    assert (False, ["1.0.0", "1.1.0"]) == (again.not_modified, sorted(again.tags))


# --- failure parity: the twin's outages read like the real adapter's HTTP failures ------


def _parity(answer: RegistryUnavailable) -> tuple[str, int | None, timedelta | None]:
    return (answer.reason, answer.status_code, answer.retry_after)


@pytest.mark.parametrize(
    ("status", "retry_after"),
    [
        pytest.param(503, timedelta(seconds=30), id="503-retry-after"),
        pytest.param(503, None, id="503"),
        pytest.param(429, timedelta(seconds=7), id="429-retry-after"),
        pytest.param(500, None, id="500"),
        pytest.param(502, None, id="502"),
        pytest.param(403, None, id="403"),
    ],
)
def test_scripted_outage_fails_like_the_real_adapter_on_that_status(
    httpserver, httpx_registry: HttpxRegistry, status: int, retry_after: timedelta | None
) -> None:
    headers = {"Retry-After": str(int(retry_after.total_seconds()))} if retry_after else {}
    httpserver.expect_request("/v2/team/app/tags/list").respond_with_response(
        Response(b'{"errors":[]}', status=status, headers=headers)
    )
    httpserver.expect_request("/v2/team/app/manifests/1.0.0").respond_with_response(
        Response(b"", status=status, headers=headers)
    )
    real_repository = Repository(url=f"127.0.0.1:{httpserver.port}/team/app", insecure=True)
    clock = ManualClock()
    scripted = ScriptedRegistry(clock)
    scripted_repository = Repository(url="registry.test/team/app")
    scripted.push(scripted_repository.url, "1.0.0")
    scripted.schedule(
        "registry.test",
        clock.now(),
        Outage(until=clock.now() + timedelta(hours=1), status=status, retry_after=retry_after),
    )

    real_list = httpx_registry.list_tags(real_repository)
    real_digest = httpx_registry.resolve_digest(real_repository, "1.0.0")
    twin_list = scripted.list_tags(scripted_repository)
    twin_digest = scripted.resolve_digest(scripted_repository, "1.0.0")

    assert isinstance(real_list, RegistryUnavailable) and isinstance(twin_list, RegistryUnavailable)
    assert isinstance(real_digest, RegistryUnavailable)
    assert isinstance(twin_digest, RegistryUnavailable)
    assert _parity(real_list) == _parity(twin_list)
    assert _parity(real_digest) == _parity(twin_digest)


@pytest.fixture
def impatient_registry() -> Iterator[HttpxRegistry]:
    limits = RegistryLimits(read_timeout=timedelta(seconds=0.3), deadline=timedelta(seconds=2))
    registry = HttpxRegistry(limits=limits, trust_env=False)
    yield registry
    registry.close()


def test_scripted_timeout_fails_like_a_real_timeout(
    raw_server: RawHttpServer, impatient_registry: HttpxRegistry
) -> None:
    raw_server.play(lambda _head: [5.0])
    real = impatient_registry.list_tags(
        Repository(url=f"{raw_server.host}/team/app", insecure=True)
    )
    clock = ManualClock()
    scripted = ScriptedRegistry(clock)
    scripted.push("registry.test/team/app", "1.0.0")
    scripted.schedule(
        "registry.test/team/app",
        clock.now(),
        Outage(until=clock.now() + timedelta(minutes=1), status="timeout"),
    )

    twin = scripted.list_tags(Repository(url="registry.test/team/app"))

    assert isinstance(real, RegistryUnavailable) and isinstance(twin, RegistryUnavailable)
    assert _parity(real) == _parity(twin)
