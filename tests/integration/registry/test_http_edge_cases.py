"""``HttpxRegistry`` against scripted HTTP servers: what the 2.8 registry cannot produce.

Pagination with ``Link``, ETag/304, 429/503 with ``Retry-After``, broken bodies (garbage,
wrong content type, too large, cut short, dripping), redirect loops, and the bearer
token dance (``invalid_token`` on a cached token). ``httpserver`` is pytest-httpserver;
``raw_server`` writes raw bytes for what a proper HTTP server will not send.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from email.utils import format_datetime

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from support.registry.clock import ManualClock
from support.registry.fixtures import FAST_LIMITS
from support.registry.raw_server import RawHttpServer, http_response
from werfop.adapters.registry import MANIFEST_MEDIA_TYPES, HttpxRegistry, RegistryLimits
from werfop.adapters.registry_auth import basic_authorization
from werfop.core.model import RegistryUnavailable, Sensitive
from werfop.core.ports import Credentials, DigestAnswer, Repository, TagListing

pytestmark = pytest.mark.integration

TAGS_PATH = "/v2/team/app/tags/list"
MANIFEST_PATH = "/v2/team/app/manifests/1.0.0"
DIGEST = "sha256:" + "ab" * 32


def repo_at(server: HTTPServer | RawHttpServer, **kwargs: object) -> Repository:
    host = server.host if isinstance(server, RawHttpServer) else f"{server.host}:{server.port}"
    return Repository(url=f"{host}/team/app", insecure=True, **kwargs)  # type: ignore[arg-type]


def tag_page(*tags: str, **headers: str) -> Response:
    return Response(
        json.dumps({"name": "team/app", "tags": list(tags)}),
        content_type="application/json",
        headers=headers,
    )


def failed(answer: object) -> RegistryUnavailable:
    assert isinstance(answer, RegistryUnavailable), answer
    return answer


@pytest.fixture
def registry_with(manual_clock: ManualClock) -> Iterator[object]:
    made: list[HttpxRegistry] = []

    def make(**limits: object) -> HttpxRegistry:
        registry = HttpxRegistry(
            clock=manual_clock,
            limits=RegistryLimits(**{**_fast(), **limits}),  # type: ignore[arg-type]
            trust_env=False,
        )
        made.append(registry)
        return registry

    yield make
    for registry in made:
        registry.close()


def _fast() -> dict[str, object]:
    return {
        "connect_timeout": FAST_LIMITS.connect_timeout,
        "read_timeout": FAST_LIMITS.read_timeout,
        "deadline": FAST_LIMITS.deadline,
    }


# --- pagination -------------------------------------------------------------------------


def test_relative_next_links_are_followed_across_pages(
    httpserver: HTTPServer, httpx_registry: HttpxRegistry
) -> None:
    httpserver.expect_request(TAGS_PATH, query_string="n=2&last=b").respond_with_response(
        tag_page("c")
    )
    httpserver.expect_request(TAGS_PATH).respond_with_response(
        tag_page("a", "b", Link=f'<{TAGS_PATH}?n=2&last=b>; rel="next"')
    )

    answer = httpx_registry.list_tags(repo_at(httpserver))

    assert TagListing(tags=("a", "b", "c"), requests=2) == answer


def test_absolute_next_links_on_the_same_origin_are_followed(
    httpserver: HTTPServer, httpx_registry: HttpxRegistry
) -> None:
    httpserver.expect_request(TAGS_PATH, query_string="last=b").respond_with_response(
        tag_page("b", "c")  # a repeated boundary tag is listed once
    )
    httpserver.expect_request(TAGS_PATH).respond_with_response(
        tag_page("a", "b", Link=f'<{httpserver.url_for(TAGS_PATH)}?last=b>; rel="next"')
    )

    answer = httpx_registry.list_tags(repo_at(httpserver))

    assert TagListing(tags=("a", "b", "c"), requests=2) == answer


def test_next_link_to_another_host_is_refused(
    httpserver: HTTPServer, httpx_registry: HttpxRegistry
) -> None:
    httpserver.expect_request(TAGS_PATH).respond_with_response(
        tag_page("a", Link='<http://elsewhere.invalid/v2/team/app/tags/list?last=a>; rel="next"')
    )

    answer = failed(httpx_registry.list_tags(repo_at(httpserver)))

    assert "MalformedResponse" == answer.reason
    assert "another host" in answer.message


def test_next_links_that_go_in_a_circle_stop(
    httpserver: HTTPServer, httpx_registry: HttpxRegistry
) -> None:
    httpserver.expect_request(TAGS_PATH, query_string="last=a").respond_with_response(
        tag_page("b", Link=f'<{TAGS_PATH}?last=a>; rel="next"')
    )
    httpserver.expect_request(TAGS_PATH).respond_with_response(
        tag_page("a", Link=f'<{TAGS_PATH}?last=a>; rel="next"')
    )

    answer = failed(httpx_registry.list_tags(repo_at(httpserver)))

    assert "MalformedResponse" == answer.reason


def test_more_pages_than_the_bound_is_too_many_pages(httpserver: HTTPServer, registry_with) -> None:
    def endless(request: Request) -> Response:
        page = int(request.args.get("page", "0"))
        return tag_page(f"t{page}", Link=f'<{TAGS_PATH}?page={page + 1}>; rel="next"')

    httpserver.expect_request(TAGS_PATH).respond_with_handler(endless)

    answer = failed(registry_with(max_pages=3).list_tags(repo_at(httpserver)))

    assert "TooManyPages" == answer.reason
    assert 3 == len(httpserver.log)


# --- ETag -------------------------------------------------------------------------------


def test_etag_is_returned_and_a_matching_if_none_match_gives_not_modified(
    httpserver: HTTPServer, httpx_registry: HttpxRegistry
) -> None:
    httpserver.expect_request(TAGS_PATH, headers={"If-None-Match": '"v1"'}).respond_with_response(
        Response(status=304, headers={"ETag": '"v1"'})
    )
    httpserver.expect_request(TAGS_PATH).respond_with_response(tag_page("a", ETag='"v1"'))

    first = httpx_registry.list_tags(repo_at(httpserver))
    second = httpx_registry.list_tags(repo_at(httpserver), etag='"v1"')

    assert TagListing(tags=("a",), etag='"v1"', requests=1) == first
    assert TagListing(etag='"v1"', not_modified=True, requests=1) == second


def test_if_none_match_is_sent_only_on_the_tag_list_request_not_to_the_token_service(
    httpserver: HTTPServer, httpx_registry: HttpxRegistry
) -> None:
    realm = httpserver.url_for("/token")
    httpserver.expect_request("/token").respond_with_json({"token": "t1"})
    httpserver.expect_request(
        TAGS_PATH, headers={"Authorization": "Bearer t1"}
    ).respond_with_response(tag_page("a", ETag='"v2"'))
    httpserver.expect_request(TAGS_PATH).respond_with_response(
        Response(status=401, headers={"WWW-Authenticate": f'Bearer realm="{realm}",service="s"'})
    )

    answer = httpx_registry.list_tags(repo_at(httpserver), etag='"v1"')

    sent = [(r.path, r.headers.get("If-None-Match")) for r, _ in httpserver.log]
    assert TagListing(tags=("a",), etag='"v2"', requests=3) == answer
    assert [(TAGS_PATH, '"v1"'), ("/token", None), (TAGS_PATH, '"v1"')] == sent


# --- status codes -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        pytest.param(
            429, {"Retry-After": "7"}, ("RateLimited", 429, timedelta(seconds=7)), id="429-seconds"
        ),
        pytest.param(429, {}, ("RateLimited", 429, None), id="429-bare"),
        pytest.param(
            503, {"Retry-After": "30"}, ("ServiceUnavailable", 503, timedelta(seconds=30)), id="503"
        ),
        pytest.param(500, {}, ("ServerError", 500, None), id="500"),
        pytest.param(504, {}, ("ServerError", 504, None), id="504"),
        pytest.param(403, {}, ("Forbidden", 403, None), id="403"),
        pytest.param(404, {}, ("RepositoryNotFound", 404, None), id="404"),
        pytest.param(418, {}, ("UnexpectedStatus", 418, None), id="418"),
        pytest.param(401, {}, ("Unauthorized", 401, None), id="401-without-challenge"),
    ],
)
def test_status_codes_become_stable_reasons(
    httpserver: HTTPServer,
    httpx_registry: HttpxRegistry,
    status: int,
    headers: dict[str, str],
    expected: tuple[str, int, timedelta | None],
) -> None:
    httpserver.expect_request(TAGS_PATH).respond_with_response(
        Response(b"{}", status=status, headers=headers, content_type="application/json")
    )

    answer = failed(httpx_registry.list_tags(repo_at(httpserver)))

    assert expected == (answer.reason, answer.status_code, answer.retry_after)
    assert repo_at(httpserver).url in answer.message


def test_retry_after_as_an_http_date_is_measured_on_the_injected_clock(
    httpserver: HTTPServer, registry_with, manual_clock: ManualClock
) -> None:
    when = format_datetime(manual_clock.now() + timedelta(seconds=120), usegmt=True)
    httpserver.expect_request(TAGS_PATH).respond_with_response(
        Response(status=429, headers={"Retry-After": when})
    )

    answer = failed(registry_with().list_tags(repo_at(httpserver)))

    assert (timedelta(seconds=120), manual_clock.now()) == (answer.retry_after, answer.at)


# --- bodies -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        pytest.param(b"{not json", "application/json", "MalformedResponse", id="garbage"),
        pytest.param(b'["a"]', "application/json", "MalformedResponse", id="not-an-object"),
        pytest.param(b'{"tags": [1, 2]}', "application/json", "MalformedResponse", id="numbers"),
        pytest.param(b'{"tags": "a"}', "application/json", "MalformedResponse", id="string"),
        pytest.param(b"<html>login</html>", "text/html", "UnexpectedContentType", id="html"),
    ],
)
def test_broken_tag_list_bodies_are_reported(
    httpserver: HTTPServer,
    httpx_registry: HttpxRegistry,
    body: bytes,
    content_type: str,
    reason: str,
) -> None:
    httpserver.expect_request(TAGS_PATH).respond_with_data(body, content_type=content_type)

    assert reason == failed(httpx_registry.list_tags(repo_at(httpserver))).reason


def test_null_tags_mean_an_empty_repository(
    httpserver: HTTPServer, httpx_registry: HttpxRegistry
) -> None:
    httpserver.expect_request(TAGS_PATH).respond_with_json({"name": "team/app", "tags": None})

    assert TagListing(tags=(), requests=1) == httpx_registry.list_tags(repo_at(httpserver))


def test_tags_outside_the_oci_grammar_are_dropped(
    httpserver: HTTPServer, httpx_registry: HttpxRegistry
) -> None:
    httpserver.expect_request(TAGS_PATH).respond_with_json({"tags": ["1.0.0", "../etc", ""]})

    assert TagListing(tags=("1.0.0",), requests=1) == httpx_registry.list_tags(repo_at(httpserver))


def test_declared_oversized_body_is_refused_without_reading_it(
    raw_server: RawHttpServer, registry_with
) -> None:
    head = http_response(
        "200 OK", {"Content-Type": "application/json"}, content_length=64 * 1024 * 1024
    )
    raw_server.play(lambda _head: [head, b'{"tags": ['])

    answer = failed(registry_with(max_tag_list_bytes=4096).list_tags(repo_at(raw_server)))

    assert "ResponseTooLarge" == answer.reason


def test_undeclared_oversized_body_stops_being_read_at_the_cap(
    raw_server: RawHttpServer, registry_with
) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
    raw_server.play(lambda _head: [head, b'{"tags": [' + b'"x",' * 4096, 5.0])

    started = time.monotonic()
    answer = failed(registry_with(max_tag_list_bytes=4096).list_tags(repo_at(raw_server)))

    assert "ResponseTooLarge" == answer.reason
    assert time.monotonic() - started < 2


def test_body_cut_short_is_a_connection_failure(raw_server: RawHttpServer, registry_with) -> None:
    raw_server.play(
        lambda _head: [
            http_response(
                "200 OK", {"Content-Type": "application/json"}, b'{"tags": ["a"', content_length=100
            )
        ]
    )

    answer = failed(registry_with().list_tags(repo_at(raw_server)))

    assert ("ConnectionFailed", None) == (answer.reason, answer.status_code)


def test_body_dripping_past_the_deadline_is_a_timeout(
    raw_server: RawHttpServer, registry_with
) -> None:
    head = http_response("200 OK", {"Content-Type": "application/json"}, content_length=1000)
    raw_server.play(lambda _head: [head] + [b" ", 0.1] * 100)

    started = time.monotonic()
    answer = failed(
        registry_with(read_timeout=timedelta(seconds=1), deadline=timedelta(seconds=0.6)).list_tags(
            repo_at(raw_server)
        )
    )

    assert "Timeout" == answer.reason
    assert time.monotonic() - started < 2


def test_server_that_never_answers_is_a_timeout(raw_server: RawHttpServer, registry_with) -> None:
    raw_server.play(lambda _head: [10.0])

    answer = failed(
        registry_with(read_timeout=timedelta(seconds=0.3)).list_tags(repo_at(raw_server))
    )

    assert ("Timeout", None) == (answer.reason, answer.status_code)


# --- redirects --------------------------------------------------------------------------


def test_a_redirect_within_the_registry_is_followed(
    httpserver: HTTPServer, httpx_registry: HttpxRegistry
) -> None:
    httpserver.expect_request("/moved/tags").respond_with_response(tag_page("a"))
    httpserver.expect_request(TAGS_PATH).respond_with_response(
        Response(status=307, headers={"Location": "/moved/tags"})
    )

    assert TagListing(tags=("a",), requests=2) == httpx_registry.list_tags(repo_at(httpserver))


def test_redirect_loop_is_detected(httpserver: HTTPServer, httpx_registry: HttpxRegistry) -> None:
    httpserver.expect_request("/elsewhere").respond_with_response(
        Response(status=302, headers={"Location": TAGS_PATH})
    )
    httpserver.expect_request(TAGS_PATH).respond_with_response(
        Response(status=302, headers={"Location": "/elsewhere"})
    )

    answer = failed(httpx_registry.list_tags(repo_at(httpserver)))

    assert "RedirectLoop" == answer.reason
    assert 2 == len(httpserver.log)


def test_redirect_chain_longer_than_the_bound_stops(
    httpserver: HTTPServer, httpx_registry: HttpxRegistry
) -> None:
    def onward(request: Request) -> Response:
        hop = int(request.args.get("hop", "0"))
        return Response(status=302, headers={"Location": f"{TAGS_PATH}?hop={hop + 1}"})

    httpserver.expect_request(TAGS_PATH).respond_with_handler(onward)

    answer = failed(httpx_registry.list_tags(repo_at(httpserver)))

    assert "TooManyRedirects" == answer.reason
    assert 6 == len(httpserver.log)  # the request and five redirects


def test_credentials_are_not_forwarded_on_a_redirect_to_another_origin(
    httpserver: HTTPServer, httpx_registry: HttpxRegistry
) -> None:
    other = HTTPServer(host="127.0.0.1")
    other.start()
    try:
        other.expect_request("/tags").respond_with_response(tag_page("a"))

        def challenge_then_redirect(request: Request) -> Response:
            if request.headers.get("Authorization") is None:
                return Response(status=401, headers={"WWW-Authenticate": 'Basic realm="r"'})
            return Response(status=302, headers={"Location": other.url_for("/tags")})

        httpserver.expect_request(TAGS_PATH).respond_with_handler(challenge_then_redirect)
        credentials = Credentials(username="u", password=Sensitive("redirect-canary-password"))

        answer = httpx_registry.list_tags(repo_at(httpserver, credentials=credentials))

        assert TagListing(tags=("a",), requests=3) == answer
        sent = httpserver.log[1][0].headers.get("Authorization")
        assert basic_authorization("u", Sensitive("redirect-canary-password")) == sent
        assert None is other.log[0][0].headers.get("Authorization")
    finally:
        other.stop()


# --- bearer token dance -----------------------------------------------------------------


def test_cached_token_rejected_as_invalid_token_is_fetched_again_once(
    httpserver: HTTPServer, httpx_registry: HttpxRegistry
) -> None:
    issued = iter(["t1", "t2"])
    valid = {"t1"}
    realm = httpserver.url_for("/token")
    challenge = f'Bearer realm="{realm}",service="s",scope="repository:team/app:pull"'

    def tags(request: Request) -> Response:
        if request.headers.get("Authorization", "").removeprefix("Bearer ") in valid:
            return tag_page("a")
        error = ',error="invalid_token"' if request.headers.get("Authorization") else ""
        return Response(status=401, headers={"WWW-Authenticate": challenge + error})

    httpserver.expect_request("/token").respond_with_handler(
        lambda _request: Response(
            json.dumps({"token": next(issued)}), content_type="application/json"
        )
    )
    httpserver.expect_request(TAGS_PATH).respond_with_handler(tags)

    first = httpx_registry.list_tags(repo_at(httpserver))
    valid.clear()
    valid.add("t2")  # the registry revokes t1
    second = httpx_registry.list_tags(repo_at(httpserver))

    assert TagListing(tags=("a",), requests=3) == first
    assert TagListing(tags=("a",), requests=3) == second  # 401, token, retry
    assert 2 == sum(1 for r, _ in httpserver.log if r.path == "/token")


def test_a_second_401_after_a_fresh_token_is_final(
    httpserver: HTTPServer, httpx_registry: HttpxRegistry
) -> None:
    realm = httpserver.url_for("/token")
    httpserver.expect_request("/token").respond_with_json({"token": "t", "expires_in": 300})
    httpserver.expect_request(TAGS_PATH).respond_with_response(
        Response(status=401, headers={"WWW-Authenticate": f'Bearer realm="{realm}",service="s"'})
    )

    answer = failed(httpx_registry.list_tags(repo_at(httpserver)))

    assert ("Unauthorized", 401) == (answer.reason, answer.status_code)
    assert 3 == len(httpserver.log)


@pytest.mark.parametrize(
    ("token_response", "reason", "status"),
    [
        pytest.param(
            Response(b"{}", content_type="application/json"),
            "MalformedResponse",
            None,
            id="no-token",
        ),
        pytest.param(
            Response(b"<html>", content_type="text/html"), "MalformedResponse", None, id="html"
        ),
        pytest.param(Response(status=404), "UnexpectedStatus", 404, id="404"),
        pytest.param(
            Response(status=503, headers={"Retry-After": "5"}), "ServiceUnavailable", 503, id="503"
        ),
    ],
)
def test_token_service_failures_are_reported_naming_it(
    httpserver: HTTPServer,
    httpx_registry: HttpxRegistry,
    token_response: Response,
    reason: str,
    status: int | None,
) -> None:
    realm = httpserver.url_for("/token")
    httpserver.expect_request("/token").respond_with_response(token_response)
    httpserver.expect_request(TAGS_PATH).respond_with_response(
        Response(status=401, headers={"WWW-Authenticate": f'Bearer realm="{realm}"'})
    )

    answer = failed(httpx_registry.list_tags(repo_at(httpserver)))

    assert (reason, status) == (answer.reason, answer.status_code)
    assert f"{httpserver.host}:{httpserver.port}" in answer.message


def test_unsupported_authentication_scheme_is_reported(
    httpserver: HTTPServer, httpx_registry: HttpxRegistry
) -> None:
    httpserver.expect_request(TAGS_PATH).respond_with_response(
        Response(status=401, headers={"WWW-Authenticate": "Negotiate"})
    )

    answer = failed(httpx_registry.list_tags(repo_at(httpserver)))

    assert ("UnsupportedAuthentication", 401) == (answer.reason, answer.status_code)
    assert "negotiate" in answer.message


# --- manifests --------------------------------------------------------------------------


def test_head_asks_for_every_manifest_type_and_reads_docker_content_digest(
    httpserver: HTTPServer, httpx_registry: HttpxRegistry
) -> None:
    httpserver.expect_request(MANIFEST_PATH, method="HEAD").respond_with_response(
        Response(headers={"Docker-Content-Digest": DIGEST})
    )

    answer = httpx_registry.resolve_digest(repo_at(httpserver), "1.0.0")

    accept = httpserver.log[0][0].headers["Accept"]
    assert DigestAnswer(digest=DIGEST, requests=1) == answer
    assert set(MANIFEST_MEDIA_TYPES) == {part.strip() for part in accept.split(",")}


def test_missing_digest_header_falls_back_to_hashing_the_manifest(
    httpserver: HTTPServer, httpx_registry: HttpxRegistry
) -> None:
    manifest = b'{"schemaVersion": 2}'
    httpserver.expect_request(MANIFEST_PATH, method="HEAD").respond_with_response(Response())
    httpserver.expect_request(MANIFEST_PATH, method="GET").respond_with_data(
        manifest, content_type=MANIFEST_MEDIA_TYPES[1]
    )

    answer = httpx_registry.resolve_digest(repo_at(httpserver), "1.0.0")

    import hashlib

    assert (
        DigestAnswer(digest="sha256:" + hashlib.sha256(manifest).hexdigest(), requests=2) == answer
    )


def test_rate_limited_head_is_rate_limited(
    httpserver: HTTPServer, httpx_registry: HttpxRegistry
) -> None:
    httpserver.expect_request(MANIFEST_PATH, method="HEAD").respond_with_response(
        Response(status=429, headers={"Retry-After": "60"})
    )

    answer = failed(httpx_registry.resolve_digest(repo_at(httpserver), "1.0.0"))

    assert ("RateLimited", 429, timedelta(seconds=60)) == (
        answer.reason,
        answer.status_code,
        answer.retry_after,
    )
    assert "'1.0.0'" in answer.message
