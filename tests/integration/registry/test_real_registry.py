"""``HttpxRegistry`` against the real distribution registry: auth flows, TLS, token cache.

The registries are started by session fixtures (``support.registry.fixtures``); each test
uses its own repository name. What the contract suite covers (listing, digests, deletes)
is not repeated here.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from support.registry.clock import ManualClock
from support.registry.fixtures import CANARIES, FAST_LIMITS, READER
from support.registry.process import RunningRegistry, free_port
from support.registry.token_server import PUSHER
from werfop.adapters.registry import HttpxRegistry
from werfop.core.model import RegistryUnavailable, Sensitive
from werfop.core.ports import Credentials, DigestAnswer, Repository, TagListing

pytestmark = pytest.mark.integration


@pytest.fixture
def clocked_registry(manual_clock: ManualClock):
    registry = HttpxRegistry(clock=manual_clock, limits=FAST_LIMITS, trust_env=False)
    yield registry
    registry.close()


def wrong_password(user: str = READER) -> Credentials:
    return Credentials(username=user, password=Sensitive(CANARIES["wrong_password"]))


# --- plain ------------------------------------------------------------------------------


def test_plain_registry_lists_tags_with_one_request(
    plain_registry: RunningRegistry, httpx_registry: HttpxRegistry, repo_name: str
) -> None:
    plain_registry.pusher.push_chart(repo_name, "1.0.0")

    answer = httpx_registry.list_tags(plain_registry.repository(repo_name))

    assert TagListing(tags=("1.0.0",), requests=1) == answer


def test_closed_port_is_connection_refused(httpx_registry: HttpxRegistry) -> None:
    repository = Repository(url=f"127.0.0.1:{free_port()}/team/app", insecure=True)

    answer = httpx_registry.list_tags(repository)

    assert isinstance(answer, RegistryUnavailable)
    assert ("ConnectionRefused", None) == (answer.reason, answer.status_code)
    assert repository.url in answer.message


def test_https_to_a_plain_http_registry_is_a_tls_error_suggesting_insecure(
    plain_registry: RunningRegistry, httpx_registry: HttpxRegistry, repo_name: str
) -> None:
    answer = httpx_registry.list_tags(plain_registry.repository(repo_name, insecure=False))

    assert isinstance(answer, RegistryUnavailable)
    assert "TlsError" == answer.reason
    assert "spec.registry.insecure" in answer.message


# --- basic auth -------------------------------------------------------------------------


def test_basic_auth_takes_one_challenge_then_sends_credentials_at_once(
    basic_registry: RunningRegistry, httpx_registry: HttpxRegistry, repo_name: str
) -> None:
    basic_registry.pusher.push_chart(repo_name, "1.0.0")
    repository = basic_registry.repository(
        repo_name, credentials=basic_registry.credentials(READER)
    )

    first = httpx_registry.list_tags(repository)
    second = httpx_registry.list_tags(repository)
    digest = httpx_registry.resolve_digest(repository, "1.0.0")

    assert TagListing(tags=("1.0.0",), requests=2) == first
    assert TagListing(tags=("1.0.0",), requests=1) == second
    assert isinstance(digest, DigestAnswer) and 1 == digest.requests


def test_basic_auth_without_credentials_is_unauthorized_and_names_secret_ref(
    basic_registry: RunningRegistry, httpx_registry: HttpxRegistry, repo_name: str
) -> None:
    answer = httpx_registry.list_tags(basic_registry.repository(repo_name))

    assert isinstance(answer, RegistryUnavailable)
    assert ("Unauthorized", 401) == (answer.reason, answer.status_code)
    assert "spec.registry.secretRef" in answer.message
    assert basic_registry.host in answer.message and repo_name in answer.message


def test_basic_auth_with_a_wrong_password_is_unauthorized(
    basic_registry: RunningRegistry, httpx_registry: HttpxRegistry, repo_name: str
) -> None:
    answer = httpx_registry.list_tags(
        basic_registry.repository(repo_name, credentials=wrong_password())
    )

    assert isinstance(answer, RegistryUnavailable)
    assert ("Unauthorized", 401) == (answer.reason, answer.status_code)
    assert "rejected the credentials" in answer.message


def test_identity_token_on_a_basic_auth_registry_is_unauthorized(
    basic_registry: RunningRegistry, httpx_registry: HttpxRegistry, repo_name: str
) -> None:
    credentials = Credentials(identity_token=Sensitive(CANARIES["identity_token"]))

    answer = httpx_registry.list_tags(basic_registry.repository(repo_name, credentials=credentials))

    assert isinstance(answer, RegistryUnavailable)
    assert ("Unauthorized", 401) == (answer.reason, answer.status_code)


# --- bearer tokens ----------------------------------------------------------------------


def test_token_auth_fetches_one_token_and_reuses_it(
    token_registry: RunningRegistry, httpx_registry: HttpxRegistry, repo_name: str
) -> None:
    token_registry.pusher.push_chart(repo_name, "1.0.0")
    repository = token_registry.repository(
        repo_name, credentials=token_registry.credentials(READER)
    )
    assert token_registry.token_server is not None
    before = token_registry.token_server.token_requests()

    first = httpx_registry.list_tags(repository)
    second = httpx_registry.list_tags(repository)
    digest = httpx_registry.resolve_digest(repository, "1.0.0")

    assert TagListing(tags=("1.0.0",), requests=3) == first  # 401, token, retry
    assert TagListing(tags=("1.0.0",), requests=1) == second
    assert isinstance(digest, DigestAnswer) and 1 == digest.requests
    assert 1 == token_registry.token_server.token_requests() - before
    last = token_registry.token_server.requests[-1]
    assert (READER, (f"repository:{repo_name}:pull",)) == (last.username, last.scopes)


def test_token_is_fetched_again_once_expires_in_has_passed_on_the_clock(
    token_registry: RunningRegistry,
    clocked_registry: HttpxRegistry,
    manual_clock: ManualClock,
    repo_name: str,
) -> None:
    token_registry.pusher.push_chart(repo_name, "1.0.0")
    repository = token_registry.repository(
        repo_name, credentials=token_registry.credentials(READER)
    )
    server = token_registry.token_server
    assert server is not None and 300 == server.expires_in
    clocked_registry.list_tags(repository)
    before = server.token_requests()

    manual_clock.advance(timedelta(seconds=200))
    still_cached = clocked_registry.list_tags(repository)
    manual_clock.advance(timedelta(seconds=100))
    refreshed = clocked_registry.list_tags(repository)

    assert isinstance(still_cached, TagListing) and 1 == still_cached.requests
    assert isinstance(refreshed, TagListing) and 2 == refreshed.requests  # token, list
    assert 1 == server.token_requests() - before


def test_anonymous_client_gets_an_anonymous_token_for_a_public_repository(
    token_registry: RunningRegistry, httpx_registry: HttpxRegistry, repo_name: str
) -> None:
    name = f"public/{repo_name.rsplit('/', 1)[-1]}"
    token_registry.pusher.push_chart(name, "1.0.0")

    answer = httpx_registry.list_tags(token_registry.repository(name))

    assert TagListing(tags=("1.0.0",), requests=3) == answer
    assert token_registry.token_server is not None
    assert None is token_registry.token_server.requests[-1].username


def test_anonymous_client_on_a_private_repository_is_unauthorized(
    token_registry: RunningRegistry, httpx_registry: HttpxRegistry, repo_name: str
) -> None:
    token_registry.pusher.push_chart(repo_name, "1.0.0")

    answer = httpx_registry.list_tags(token_registry.repository(repo_name))

    assert isinstance(answer, RegistryUnavailable)
    assert ("Unauthorized", 401) == (answer.reason, answer.status_code)
    assert "requires credentials" in answer.message


def test_wrong_password_is_rejected_by_the_token_service(
    token_registry: RunningRegistry, httpx_registry: HttpxRegistry, repo_name: str
) -> None:
    answer = httpx_registry.list_tags(
        token_registry.repository(repo_name, credentials=wrong_password())
    )

    assert isinstance(answer, RegistryUnavailable)
    assert ("Unauthorized", 401) == (answer.reason, answer.status_code)
    assert "token service" in answer.message and "spec.registry.secretRef" in answer.message


def test_identity_token_is_exchanged_with_a_refresh_token_grant(
    token_registry: RunningRegistry, httpx_registry: HttpxRegistry, repo_name: str
) -> None:
    token_registry.pusher.push_chart(repo_name, "1.0.0")
    credentials = Credentials(identity_token=Sensitive(CANARIES["identity_token"]))

    answer = httpx_registry.list_tags(token_registry.repository(repo_name, credentials=credentials))

    assert TagListing(tags=("1.0.0",), requests=3) == answer
    assert token_registry.token_server is not None
    last = token_registry.token_server.requests[-1]
    assert ("POST", "refresh_token", READER) == (last.method, last.grant_type, last.username)


def test_tokens_are_not_shared_between_different_credentials(
    token_registry: RunningRegistry, httpx_registry: HttpxRegistry, repo_name: str
) -> None:
    token_registry.pusher.push_chart(repo_name, "1.0.0")
    server = token_registry.token_server
    assert server is not None
    before = server.token_requests()

    for user in (READER, PUSHER, READER, PUSHER):
        repository = token_registry.repository(
            repo_name, credentials=token_registry.credentials(user)
        )
        assert isinstance(httpx_registry.list_tags(repository), TagListing)

    assert [READER, PUSHER] == [r.username for r in server.requests[before:]]


# --- TLS --------------------------------------------------------------------------------


def test_tls_registry_with_its_ca_lists_tags(
    tls_registry: RunningRegistry, httpx_registry: HttpxRegistry, repo_name: str
) -> None:
    tls_registry.pusher.push_chart(repo_name, "1.0.0")

    answer = httpx_registry.list_tags(tls_registry.repository(repo_name))

    assert TagListing(tags=("1.0.0",), requests=1) == answer


def test_tls_registry_without_its_ca_is_an_untrusted_certificate(
    tls_registry: RunningRegistry, httpx_registry: HttpxRegistry, repo_name: str
) -> None:
    answer = httpx_registry.list_tags(tls_registry.repository(repo_name, with_ca=False))

    assert isinstance(answer, RegistryUnavailable)
    assert ("TlsError", None) == (answer.reason, answer.status_code)
    assert "spec.registry.caSecretRef" in answer.message
    assert tls_registry.host in answer.message


def test_plain_http_to_a_tls_registry_is_a_protocol_mismatch(
    tls_registry: RunningRegistry, httpx_registry: HttpxRegistry, repo_name: str
) -> None:
    answer = httpx_registry.list_tags(tls_registry.repository(repo_name, insecure=True))

    assert isinstance(answer, RegistryUnavailable)
    assert ("ProtocolMismatch", 400) == (answer.reason, answer.status_code)
    assert "unset spec.registry.insecure" in answer.message


def test_invalid_ca_certificate_is_reported_as_such(
    tls_registry: RunningRegistry, httpx_registry: HttpxRegistry, repo_name: str
) -> None:
    repository = Repository(
        url=f"{tls_registry.host}/{repo_name}", ca_cert=Sensitive("not a certificate")
    )

    answer = httpx_registry.list_tags(repository)

    assert isinstance(answer, RegistryUnavailable)
    assert "InvalidCaCertificate" == answer.reason


def test_repositories_with_the_same_ca_share_one_connection_pool(
    tls_registry: RunningRegistry, plain_registry: RunningRegistry, httpx_registry: HttpxRegistry
) -> None:
    for name in ("a/one", "a/two"):
        httpx_registry.list_tags(tls_registry.repository(name))
    httpx_registry.list_tags(plain_registry.repository("a/three"))

    assert 2 == len(httpx_registry._clients)  # (https, test CA) and (http, system)


# --- bundle shapes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("push", "layer"),
    [
        pytest.param(
            "push_chart", "application/vnd.cncf.helm.chart.content.v1.tar+gzip", id="helm"
        ),
        pytest.param("push_werf_bundle", "application/tar+gzip", id="werf-bundle-publish"),
    ],
)
@pytest.mark.parametrize("mode", ["plain", "token"])
def test_both_bundle_shapes_werf_pulls_are_listed_and_resolved(
    request: pytest.FixtureRequest,
    httpx_registry: HttpxRegistry,
    repo_name: str,
    mode: str,
    push: str,
    layer: str,
) -> None:
    running: RunningRegistry = request.getfixturevalue(f"{mode}_registry")
    pushed = getattr(running.pusher, push)(repo_name, "1.0.0")
    credentials = running.credentials("reader") if mode == "token" else None
    repository = running.repository(repo_name, credentials=credentials)

    listing = httpx_registry.list_tags(repository)
    digest = httpx_registry.resolve_digest(repository, "1.0.0")

    assert isinstance(listing, TagListing) and ("1.0.0",) == listing.tags
    assert isinstance(digest, DigestAnswer) and pushed == digest.digest
    stored = running.pusher.get_manifest(repo_name, pushed)
    assert [layer] == [entry["mediaType"] for entry in stored["layers"]]
    assert "application/vnd.cncf.helm.config.v1+json" == stored["config"]["mediaType"]
