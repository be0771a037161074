"""``HttpxRegistry`` over ``httpx.MockTransport``: exact requests, and failures a local
server cannot stage (DNS, TLS redirects, bugs inside the adapter)."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from datetime import timedelta

import httpx
import pytest

from support.registry.clock import ManualClock
from werfop.adapters.registry import HttpxRegistry
from werfop.core.model import RegistryUnavailable, Sensitive
from werfop.core.ports import Credentials, DigestAnswer, Repository, TagListing

Handler = Callable[[httpx.Request], httpx.Response]
DIGEST = "sha256:" + "cd" * 32
CHALLENGE = 'Bearer realm="https://auth.example.com/token",service="registry.example.com"'


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def seen() -> list[httpx.Request]:
    return []


@pytest.fixture
def adapter(
    clock: ManualClock, seen: list[httpx.Request]
) -> Iterator[Callable[[Handler], HttpxRegistry]]:
    made: list[HttpxRegistry] = []

    def make(handler: Handler) -> HttpxRegistry:
        def record(request: httpx.Request) -> httpx.Response:
            request.read()
            seen.append(request)
            return handler(request)

        registry = HttpxRegistry(clock=clock, transport=httpx.MockTransport(record))
        made.append(registry)
        return registry

    yield make
    for registry in made:
        registry.close()


def tags(*names: str) -> httpx.Response:
    return httpx.Response(200, json={"tags": list(names)})


def bearer_registry(token_handler: Handler, accept: str = "Bearer good") -> Handler:
    """A registry at registry.example.com that wants ``accept`` and a token service."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.example.com":
            return token_handler(request)
        if request.headers.get("Authorization") == accept:
            return tags("1.0.0")
        return httpx.Response(401, headers={"WWW-Authenticate": CHALLENGE})

    return handler


REPO = Repository(url="registry.example.com/team/app")


def failed(answer: object) -> RegistryUnavailable:
    assert isinstance(answer, RegistryUnavailable), answer
    return answer


def test_dns_failure_is_reported_as_such(adapter) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        try:
            raise socket.gaierror(-2, "Name or service not known")
        except socket.gaierror as error:
            raise httpx.ConnectError("dns", request=request) from error

    answer = failed(adapter(handler).list_tags(REPO))

    assert ("DnsFailure", None) == (answer.reason, answer.status_code)
    assert "registry.example.com" in answer.message


def test_a_bug_inside_the_adapter_is_internal_error_without_the_exception_text(
    adapter, clock: ManualClock
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("bug-canary-5d1e")

    answer = failed(adapter(handler).list_tags(REPO))

    assert ("InternalError", clock.now()) == (answer.reason, answer.at)
    assert "RuntimeError" in answer.message
    assert "bug-canary-5d1e" not in answer.message


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("registry.example.com/Team/App", id="upper-case-name"),
        pytest.param("registry.example.com", id="no-name"),
        pytest.param("user:pw@registry.example.com/team/app", id="userinfo"),
        pytest.param("registry.example.com/team/../app", id="dot-dot"),
    ],
)
def test_invalid_repository_urls_are_refused_without_a_request(
    adapter, seen: list[httpx.Request], url: str
) -> None:
    answer = failed(adapter(lambda r: tags()).list_tags(Repository(url=url)))

    assert "InvalidRepository" == answer.reason
    assert [] == seen


def test_invalid_tag_is_refused_without_a_request(adapter, seen: list[httpx.Request]) -> None:
    answer = failed(adapter(lambda r: tags()).resolve_digest(REPO, "../../blobs/x"))

    assert "InvalidTag" == answer.reason
    assert [] == seen


def test_docker_hub_names_go_to_the_api_host_with_the_library_prefix(
    adapter, seen: list[httpx.Request]
) -> None:
    adapter(lambda r: tags("1")).list_tags(Repository(url="docker.io/nginx"))

    assert "https://registry-1.docker.io/v2/library/nginx/tags/list" == str(seen[0].url)


def test_identity_token_uses_a_refresh_token_post(adapter, seen: list[httpx.Request]) -> None:
    registry = adapter(
        bearer_registry(lambda r: httpx.Response(200, json={"access_token": "good"}))
    )
    credentials = Credentials(identity_token=Sensitive("idt"))

    answer = registry.list_tags(Repository(url=REPO.url, credentials=credentials))

    form = dict(httpx.QueryParams(seen[1].content.decode()))
    assert TagListing(tags=("1.0.0",), requests=3) == answer
    assert "POST" == seen[1].method
    assert {
        "grant_type": "refresh_token",
        "refresh_token": "idt",
        "client_id": "werfop",
        "service": "registry.example.com",
        "scope": "repository:team/app:pull",
    } == form


@pytest.mark.parametrize("status", [400, 401, 404])
def test_identity_token_falls_back_to_get_as_werfs_registry_client_does(
    adapter, seen: list[httpx.Request], status: int
) -> None:
    # containerd v1.7.14 remotes/docker/authorizer.go:307-308 (werf's registry client):
    # GET with Basic and an empty username, whatever username the Secret had.
    def token_service(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(status)
        return httpx.Response(200, json={"token": "good"})

    registry = adapter(bearer_registry(token_service))
    credentials = Credentials(username="u", identity_token=Sensitive("idt"))

    answer = registry.list_tags(Repository(url=REPO.url, credentials=credentials))

    assert TagListing(tags=("1.0.0",), requests=4) == answer
    expected = httpx.BasicAuth("", "idt")._auth_header
    assert ("GET", expected) == (seen[2].method, seen[2].headers["Authorization"])


def test_identity_token_refused_with_405_fails_as_werfs_registry_client_does(
    adapter, seen: list[httpx.Request]
) -> None:
    registry = adapter(bearer_registry(lambda r: httpx.Response(405)))
    credentials = Credentials(identity_token=Sensitive("idt"))

    answer = failed(registry.list_tags(Repository(url=REPO.url, credentials=credentials)))

    assert 405 == answer.status_code
    assert ["GET", "POST"] == [r.method for r in seen]


def test_password_credentials_go_to_the_token_service_as_basic_auth(
    adapter, seen: list[httpx.Request]
) -> None:
    registry = adapter(bearer_registry(lambda r: httpx.Response(200, json={"token": "good"})))
    credentials = Credentials(username="u", password=Sensitive("p"))

    registry.list_tags(Repository(url=REPO.url, credentials=credentials))

    token_request = seen[1]
    assert httpx.BasicAuth("u", "p")._auth_header == token_request.headers["Authorization"]
    assert {
        "scope": "repository:team/app:pull",
        "service": "registry.example.com",
        "account": "u",
    } == dict(token_request.url.params)


def test_token_without_expires_in_lives_sixty_seconds_on_the_clock(
    adapter, clock: ManualClock, seen: list[httpx.Request]
) -> None:
    registry = adapter(bearer_registry(lambda r: httpx.Response(200, json={"token": "good"})))
    registry.list_tags(REPO)

    clock.advance(timedelta(seconds=50))
    cached = registry.list_tags(REPO)
    clock.advance(timedelta(seconds=10))
    renewed = registry.list_tags(REPO)

    assert (1, 2) == (cached.requests, renewed.requests)  # type: ignore[union-attr]
    assert 2 == sum(1 for r in seen if r.url.host == "auth.example.com")


def test_same_user_with_another_password_gets_its_own_token(
    adapter, seen: list[httpx.Request]
) -> None:
    registry = adapter(bearer_registry(lambda r: httpx.Response(200, json={"token": "good"})))
    for password in ("one", "two", "one"):
        credentials = Credentials(username="u", password=Sensitive(password))
        registry.list_tags(Repository(url=REPO.url, credentials=credentials))

    assert 2 == sum(1 for r in seen if r.url.host == "auth.example.com")


def test_credentials_are_not_sent_to_a_plain_http_token_realm(
    adapter, seen: list[httpx.Request]
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            401, headers={"WWW-Authenticate": 'Bearer realm="http://auth.example.com/t"'}
        )

    credentials = Credentials(username="u", password=Sensitive("p"))

    answer = failed(adapter(handler).list_tags(Repository(url=REPO.url, credentials=credentials)))

    assert "InsecureTokenRealm" == answer.reason
    assert 1 == len(seen)


def test_https_to_http_redirect_is_refused(adapter) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "http://registry.example.com/v2/x"})

    answer = failed(adapter(handler).list_tags(REPO))

    assert ("InsecureRedirect", 302) == (answer.reason, answer.status_code)


def test_basic_challenge_is_remembered_for_later_requests(
    adapter, seen: list[httpx.Request]
) -> None:
    auth = httpx.BasicAuth("u", "p")._auth_header

    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers.get("Authorization") == auth:
            if request.method == "HEAD":
                return httpx.Response(200, headers={"Docker-Content-Digest": DIGEST})
            return tags("1")
        return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="r"'})

    registry = adapter(handler)
    repository = Repository(
        url=REPO.url, credentials=Credentials(username="u", password=Sensitive("p"))
    )

    listing = registry.list_tags(repository)
    digest = registry.resolve_digest(repository, "1")

    assert (2, DigestAnswer(digest=DIGEST, requests=1)) == (listing.requests, digest)  # type: ignore[union-attr]


def test_closed_registry_reports_internal_error_instead_of_raising(adapter) -> None:
    registry = adapter(lambda r: tags())
    registry.close()

    assert "InternalError" == failed(registry.list_tags(REPO)).reason
