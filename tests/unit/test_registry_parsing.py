"""Pure parsing helpers of the registry adapter: challenges, Retry-After, Link, tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from werfop.adapters.registry import next_link, parse_retry_after
from werfop.adapters.registry_auth import (
    Challenge,
    IssuedToken,
    TokenCache,
    TokenResponseError,
    credential_fingerprint,
    parse_challenges,
    parse_token_response,
)
from werfop.core.model import Sensitive
from werfop.core.ports import Credentials

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param(None, (), id="absent"),
        pytest.param(
            'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
            'scope="repository:samalba/my-app:pull,push"',
            (
                Challenge(
                    scheme="bearer",
                    params=(
                        ("realm", "https://auth.docker.io/token"),
                        ("service", "registry.docker.io"),
                        ("scope", "repository:samalba/my-app:pull,push"),
                    ),
                ),
            ),
            id="docker-hub",
        ),
        pytest.param(
            'Basic realm="Registry Realm"',
            (Challenge(scheme="basic", params=(("realm", "Registry Realm"),)),),
            id="basic",
        ),
        pytest.param(
            'Bearer realm="r", error="invalid_token", error_description="expired \\"x\\""',
            (
                Challenge(
                    scheme="bearer",
                    params=(
                        ("realm", "r"),
                        ("error", "invalid_token"),
                        ("error_description", 'expired "x"'),
                    ),
                ),
            ),
            id="error-and-escapes",
        ),
        pytest.param(
            'Negotiate, Basic realm="r"',
            (Challenge(scheme="negotiate"), Challenge(scheme="basic", params=(("realm", "r"),))),
            id="two-challenges",
        ),
        pytest.param(
            "Bearer realm=https://a/t,service=s",
            (Challenge(scheme="bearer", params=(("realm", "https://a/t"), ("service", "s"))),),
            id="unquoted",
        ),
    ],
)
def test_parse_challenges(header: str | None, expected: tuple[Challenge, ...]) -> None:
    assert expected == parse_challenges(header)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(None, None, id="absent"),
        pytest.param("30", timedelta(seconds=30), id="seconds"),
        pytest.param(" 0 ", timedelta(0), id="zero"),
        pytest.param("Wed, 01 Jan 2025 12:02:00 GMT", timedelta(minutes=2), id="http-date"),
        pytest.param("Wed, 01 Jan 2025 11:00:00 GMT", timedelta(0), id="date-in-the-past"),
        pytest.param("99999999999", timedelta(days=1), id="capped"),
        pytest.param("soon", None, id="garbage"),
        pytest.param("-5", None, id="negative"),
    ],
)
def test_parse_retry_after(value: str | None, expected: timedelta | None) -> None:
    assert expected == parse_retry_after(value, NOW)


BASE = "https://r.example.com/v2/a/tags/list"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param(None, None, id="absent"),
        pytest.param(
            '</v2/a/tags/list?n=2&last=b>; rel="next"', BASE + "?n=2&last=b", id="relative"
        ),
        pytest.param(
            '<https://r.example.com/v2/a/tags/list?last=b>; rel="next"',
            BASE + "?last=b",
            id="absolute",
        ),
        pytest.param("</v2/a/tags/list?last=c>; rel=next", BASE + "?last=c", id="unquoted-rel"),
        pytest.param(
            '</first>; rel="first", </v2/a/tags/list?last=d>; rel="next"',
            BASE + "?last=d",
            id="several-links",
        ),
        pytest.param('</x>; rel="prev"', None, id="no-next"),
    ],
)
def test_next_link(header: str | None, expected: str | None) -> None:
    assert expected == next_link(header, BASE)


def parse(body: bytes) -> IssuedToken:
    return parse_token_response(
        body, NOW, default_lifetime=timedelta(seconds=60), leeway=timedelta(seconds=5)
    )


def test_token_response_prefers_token_and_honours_expires_in() -> None:
    issued = parse(b'{"token": "a", "access_token": "b", "expires_in": 300}')

    assert IssuedToken(token=Sensitive("a"), expires_at=NOW + timedelta(seconds=295)) == issued
    assert "a" == issued.token.value


def test_token_response_with_only_access_token_and_default_lifetime() -> None:
    issued = parse(b'{"access_token": "b"}')

    assert ("b", NOW + timedelta(seconds=55)) == (issued.token.value, issued.expires_at)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"not json", id="garbage"),
        pytest.param(b"[]", id="array"),
        pytest.param(b'{"token": ""}', id="empty"),
        pytest.param(b'{"token": 5}', id="number"),
    ],
)
def test_token_response_without_a_token_is_an_error(body: bytes) -> None:
    with pytest.raises(TokenResponseError):
        parse(body)


def test_token_cache_forgets_expired_tokens() -> None:
    cache = TokenCache()
    key = ("h", "realm", "svc", "scope", "anonymous")
    cache.put(key, IssuedToken(token=Sensitive("t"), expires_at=NOW + timedelta(seconds=10)))

    assert Sensitive("t") == cache.get(key, NOW + timedelta(seconds=9))
    assert None is cache.get(key, NOW + timedelta(seconds=10))
    assert 0 == len(cache)


def test_credential_fingerprint_differs_by_secret_and_never_shows_it() -> None:
    one = credential_fingerprint(Credentials(username="u", password=Sensitive("secret-one")))
    two = credential_fingerprint(Credentials(username="u", password=Sensitive("secret-two")))

    assert one != two
    assert "secret" not in one + two
    assert "anonymous" == credential_fingerprint(None)
