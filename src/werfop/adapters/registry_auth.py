"""Registry authentication pieces for ``HttpxRegistry``: challenges, tokens, their cache.

Role: parse ``WWW-Authenticate`` challenges, build ``Authorization`` values, parse token
responses of the distribution token spec, and cache bearer tokens per (registry, realm,
service, scope, credential fingerprint) until they expire on the injected clock.
Must not: perform I/O (``registry.py`` sends every request), log, or put a credential or
token value in any string that can reach a message, a repr or a log; a credential enters
a cache key only as a SHA-256 fingerprint that never leaves this process.
Neighbours: ``werfop.adapters.registry`` (the only user); ``werfop.core.ports`` for
``Credentials`` and ``Clock``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from datetime import datetime, timedelta

import attrs

from werfop.core.model import Sensitive
from werfop.core.ports import Credentials

# token68 or a list of auth-params (RFC 9110 §11.6.1); values quoted or plain.
_PARAM = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))\s*,?')
_SCHEME = re.compile(r"\s*([A-Za-z][A-Za-z0-9_.+-]*)")


@attrs.frozen(kw_only=True)
class Challenge:
    """One ``WWW-Authenticate`` challenge: its scheme (lower case) and parameters."""

    scheme: str
    params: tuple[tuple[str, str], ...] = ()

    def param(self, name: str) -> str | None:
        for key, value in self.params:
            if key == name:
                return value
        return None


def parse_challenges(header: str | None) -> tuple[Challenge, ...]:
    """Every challenge in a ``WWW-Authenticate`` value, in order; ``()`` when unparseable.

    Handles the forms registries send: ``Bearer realm="...",service="...",scope="..."``,
    ``Basic realm="..."``, and several challenges in one header.
    """
    if not header:
        return ()
    challenges: list[Challenge] = []
    position = 0
    while position < len(header):
        scheme_match = _SCHEME.match(header, position)
        if scheme_match is None:
            break
        scheme = scheme_match.group(1).lower()
        position = scheme_match.end()
        params: list[tuple[str, str]] = []
        while True:
            param_match = _PARAM.match(header, position)
            if param_match is None:
                break
            key = param_match.group(1).lower()
            quoted, plain = param_match.group(2), param_match.group(3)
            value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else plain or ""
            params.append((key, value))
            position = param_match.end()
        challenges.append(Challenge(scheme=scheme, params=tuple(params)))
        # Skip a stray separator between challenges.
        while position < len(header) and header[position] in " ,":
            position += 1
    return tuple(challenges)


def basic_authorization(username: str, secret: Sensitive) -> str:
    """The ``Authorization`` value for HTTP Basic (RFC 7617, UTF-8)."""
    raw = f"{username}:{secret.value}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def bearer_authorization(token: Sensitive) -> str:
    return "Bearer " + token.value


def credential_fingerprint(credentials: Credentials | None) -> str:
    """A stable, non-reversible identity of a credential, for cache keys only.

    Two Secrets with the same username but different passwords must not share a token,
    so the secret value takes part; only a SHA-256 of it does, and it stays in memory.
    """
    if credentials is None:
        return "anonymous"
    secret = credentials.password or credentials.identity_token
    digest = hashlib.sha256(secret.value.encode()).hexdigest()[:32] if secret else "-"
    return f"{credentials.identity}#{digest}"


@attrs.frozen(kw_only=True)
class IssuedToken:
    """A bearer token and the time (on the injected clock) after which it is not used."""

    token: Sensitive
    expires_at: datetime


class TokenResponseError(ValueError):
    """The token service answered something that is not a token response."""


def parse_token_response(
    body: bytes,
    now: datetime,
    *,
    default_lifetime: timedelta,
    leeway: timedelta,
) -> IssuedToken:
    """The token in a token-service answer (``token`` or OAuth2 ``access_token``).

    ``expires_in`` defaults to ``default_lifetime`` (60 s in the token spec) when absent or
    invalid. The token is considered expired ``leeway`` early (at most half its lifetime)
    so that it does not run out between being taken from the cache and reaching the
    registry. Raises ``TokenResponseError`` with a message that never contains the body.
    """
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise TokenResponseError("the token service answered with invalid JSON") from error
    if not isinstance(document, dict):
        raise TokenResponseError("the token service answered with JSON that is not an object")
    token = document.get("token") or document.get("access_token")
    if not isinstance(token, str) or not token.strip():
        raise TokenResponseError("the token service answered without a token")
    expires_in = document.get("expires_in")
    lifetime = default_lifetime
    if (
        isinstance(expires_in, int | float)
        and not isinstance(expires_in, bool)
        and 0 < expires_in < 10 * 365 * 24 * 3600
    ):
        lifetime = timedelta(seconds=expires_in)
    early = min(leeway, lifetime / 2)
    return IssuedToken(token=Sensitive(token.strip()), expires_at=now + lifetime - early)


TokenKey = tuple[str, str, str, str, str]


class TokenCache:
    """Bearer tokens by (registry host, realm, service, scope, credential fingerprint).

    Thread-safe. Expiry is judged on the clock passed to ``get``/``put``, so a virtual
    clock in tests and the simulator ages tokens without waiting.
    """

    def __init__(self) -> None:
        self._tokens: dict[TokenKey, IssuedToken] = {}
        self._lock = threading.Lock()

    def get(self, key: TokenKey, now: datetime) -> Sensitive | None:
        """The cached token for ``key`` if it has not expired at ``now``."""
        with self._lock:
            issued = self._tokens.get(key)
            if issued is None:
                return None
            if now >= issued.expires_at:
                del self._tokens[key]
                return None
            return issued.token

    def put(self, key: TokenKey, issued: IssuedToken) -> None:
        with self._lock:
            self._tokens[key] = issued

    def discard(self, key: TokenKey) -> None:
        with self._lock:
            self._tokens.pop(key, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._tokens)
