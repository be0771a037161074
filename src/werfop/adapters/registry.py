"""``HttpxRegistry``: the ``RegistryPort`` over HTTP (OCI distribution API, sync httpx).

Role: list a repository's tags (following ``Link`` pagination, with ``If-None-Match``)
and resolve a tag to its manifest digest (``HEAD``), authenticating as the registry
asks (anonymous, Basic, or bearer tokens from its token service), over TLS with the
system trust or a custom CA, or plain HTTP when the repository is marked insecure.
Every registry, network, TLS or parsing problem becomes a ``RegistryUnavailable``
observation with a stable CamelCase ``reason``, the HTTP status when there was one, and
a message a user can act on that names the registry host and the repository.
Must not: raise out of ``list_tags``/``resolve_digest`` (this is the boundary), log or
put credentials or tokens in any message, repr or log line, follow unbounded redirects,
pages or bodies, or send credentials to another origin or over plain HTTP unasked.
Neighbours: ``registry_auth`` (challenges, token cache), ``scripted_registry`` (the
in-memory twin, which builds its failures with ``failure_for_status`` and
``unavailable`` below so both adapters answer alike), ``werfop.runtime.registry_economy``
(caching and rate budget, above this), ``werfop.core.ports`` (the port and its types).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import socket
import ssl
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Final, TypeVar
from urllib.parse import urlencode, urljoin, urlsplit

import attrs
import httpx

from werfop.adapters.clock import SystemClock
from werfop.adapters.registry_auth import (
    Challenge,
    IssuedToken,
    TokenCache,
    TokenResponseError,
    basic_authorization,
    bearer_authorization,
    credential_fingerprint,
    parse_challenges,
    parse_token_response,
)
from werfop.core.model import RegistryUnavailable, Sensitive
from werfop.core.ports import Clock, DigestAnswer, Repository, TagListing

log = logging.getLogger(__name__)

_T = TypeVar("_T")

MANIFEST_MEDIA_TYPES: Final = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
# The distribution registry answers 404 to a HEAD whose Accept lacks the OCI type of
# the stored manifest, so every type werf bundles can have is listed.
MANIFEST_ACCEPT: Final = ", ".join(MANIFEST_MEDIA_TYPES)

SECRET_HINT: Final = "check the Secret referenced by spec.registry.secretRef"


class Reason:
    """The stable ``RegistryUnavailable.reason`` values both registry adapters use."""

    TAG_NOT_FOUND: Final = "TagNotFound"
    REPOSITORY_NOT_FOUND: Final = "RepositoryNotFound"
    UNAUTHORIZED: Final = "Unauthorized"
    FORBIDDEN: Final = "Forbidden"
    RATE_LIMITED: Final = "RateLimited"
    SERVICE_UNAVAILABLE: Final = "ServiceUnavailable"
    SERVER_ERROR: Final = "ServerError"
    UNEXPECTED_STATUS: Final = "UnexpectedStatus"
    TIMEOUT: Final = "Timeout"
    CONNECTION_REFUSED: Final = "ConnectionRefused"
    CONNECTION_FAILED: Final = "ConnectionFailed"
    DNS_FAILURE: Final = "DnsFailure"
    TLS_ERROR: Final = "TlsError"
    PROTOCOL_MISMATCH: Final = "ProtocolMismatch"
    INVALID_CA_CERTIFICATE: Final = "InvalidCaCertificate"
    MALFORMED_RESPONSE: Final = "MalformedResponse"
    UNEXPECTED_CONTENT_TYPE: Final = "UnexpectedContentType"
    RESPONSE_TOO_LARGE: Final = "ResponseTooLarge"
    TOO_MANY_PAGES: Final = "TooManyPages"
    TOO_MANY_REDIRECTS: Final = "TooManyRedirects"
    REDIRECT_LOOP: Final = "RedirectLoop"
    INSECURE_REDIRECT: Final = "InsecureRedirect"
    INSECURE_TOKEN_REALM: Final = "InsecureTokenRealm"
    UNSUPPORTED_AUTHENTICATION: Final = "UnsupportedAuthentication"
    INVALID_REPOSITORY: Final = "InvalidRepository"
    INVALID_TAG: Final = "InvalidTag"
    MISSING_DIGEST: Final = "MissingDigest"
    INTERNAL_ERROR: Final = "InternalError"


# --- failures: shared with the twin -----------------------------------------------------


@attrs.frozen(kw_only=True)
class Failure:
    """Why one registry operation failed, before it is dated and worded for a repository.

    ``detail`` is the user-facing explanation; it never contains a credential or token.
    """

    reason: str
    detail: str
    status_code: int | None = None
    retry_after: timedelta | None = None


def unavailable(
    repository: Repository, failure: Failure, *, at: datetime, tag: str | None = None
) -> RegistryUnavailable:
    """The ``RegistryUnavailable`` observation for ``failure`` of a list (or resolve, with
    ``tag``) operation on ``repository``; the message names the host and repository."""
    if tag is None:
        what = f"Cannot list the tags of {repository.url}"
    else:
        what = f"Cannot resolve tag {tag!r} of {repository.url}"
    return RegistryUnavailable(
        repository=repository.url,
        reason=failure.reason,
        message=f"{what}: {failure.detail}",
        status_code=failure.status_code,
        retry_after=failure.retry_after,
        at=at,
    )


def failure_for_status(
    repository: Repository,
    status_code: int,
    *,
    retry_after: timedelta | None = None,
    tag: str | None = None,
    token_service: str | None = None,
    error_codes: tuple[str, ...] = (),
) -> Failure:
    """How an unsuccessful HTTP status from the registry (or its token service) reads.

    ``tag`` is set for manifest requests (a 404 then means the tag is unknown);
    ``token_service`` names the token service host when it, not the registry, answered.
    """
    where = f"the registry {repository.host}"
    if token_service:
        where = f"the token service {token_service}"
    codes = f" [{', '.join(error_codes)}]" if error_codes else ""
    http = f"HTTP {status_code}{codes}"
    has_credentials = repository.credentials is not None
    if status_code == 401:
        if has_credentials:
            detail = f"{where} rejected the credentials ({http}); {SECRET_HINT}"
        else:
            detail = (
                f"{where} requires credentials ({http}); set spec.registry.secretRef to a "
                f"Secret with credentials for {repository.host}"
            )
        return Failure(reason=Reason.UNAUTHORIZED, detail=detail, status_code=status_code)
    if status_code == 403:
        if has_credentials:
            detail = (
                f"{where} does not allow these credentials to pull {repository.path} "
                f"({http}); {SECRET_HINT} and the account's permissions"
            )
        else:
            detail = (
                f"{where} does not allow anonymous pulls of {repository.path} ({http}); "
                f"set spec.registry.secretRef to a Secret with credentials"
            )
        return Failure(reason=Reason.FORBIDDEN, detail=detail, status_code=status_code)
    if status_code == 404 and token_service is None:
        if tag is not None:
            return Failure(
                reason=Reason.TAG_NOT_FOUND,
                detail=f"the tag does not exist on {repository.host} ({http})",
                status_code=status_code,
            )
        return Failure(
            reason=Reason.REPOSITORY_NOT_FOUND,
            detail=(
                f"the repository {repository.path} does not exist on {repository.host} "
                f"({http}); check spec.registry.url"
            ),
            status_code=status_code,
        )
    later = f"; retry after {_seconds(retry_after)}" if retry_after is not None else ""
    if status_code == 429:
        return Failure(
            reason=Reason.RATE_LIMITED,
            detail=f"{where} is rate limiting requests ({http}){later}",
            status_code=status_code,
            retry_after=retry_after,
        )
    if status_code == 503:
        return Failure(
            reason=Reason.SERVICE_UNAVAILABLE,
            detail=f"{where} is unavailable ({http}){later}",
            status_code=status_code,
            retry_after=retry_after,
        )
    if status_code >= 500:
        return Failure(
            reason=Reason.SERVER_ERROR,
            detail=f"{where} failed ({http}){later}",
            status_code=status_code,
            retry_after=retry_after,
        )
    return Failure(
        reason=Reason.UNEXPECTED_STATUS,
        detail=f"{where} answered {http}, which is not a valid answer here",
        status_code=status_code,
    )


def failure_for_timeout(host: str, detail: str = "did not answer in time") -> Failure:
    """A timeout talking to ``host`` (a connect, read or write timeout, or the deadline)."""
    return Failure(reason=Reason.TIMEOUT, detail=f"{host} {detail}")


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """``Retry-After`` as a duration: delay-seconds or an HTTP date (RFC 9110 §10.2.3).

    Capped at one day so a bogus header cannot park a bundle forever; ``None`` when the
    header is absent or unparseable.
    """
    if value is None:
        return None
    text = value.strip()
    cap = timedelta(days=1)
    if text.isdigit():
        return min(timedelta(seconds=int(text[:9])), cap)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max(when - now, timedelta(0)), cap)


def _seconds(delay: timedelta) -> str:
    return f"{delay.total_seconds():g}s"


# --- configuration ----------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class RegistryLimits:
    """Bounds on every registry operation, so no registry can hang or flood the operator.

    ``deadline`` bounds a whole operation (all pages, token fetches and redirects);
    the per-request timeouts bound each phase of each request.
    """

    connect_timeout: timedelta = timedelta(seconds=5)
    read_timeout: timedelta = timedelta(seconds=10)
    write_timeout: timedelta = timedelta(seconds=10)
    pool_timeout: timedelta = timedelta(seconds=5)
    deadline: timedelta = timedelta(seconds=30)
    max_pages: int = 100
    max_tag_list_bytes: int = 4 * 1024 * 1024  # one page
    max_total_tag_list_bytes: int = 16 * 1024 * 1024  # all pages together
    max_manifest_bytes: int = 4 * 1024 * 1024
    max_token_bytes: int = 1024 * 1024
    max_error_bytes: int = 64 * 1024
    max_redirects: int = 5
    default_token_lifetime: timedelta = timedelta(seconds=60)  # the token spec's default
    token_leeway: timedelta = timedelta(seconds=5)
    max_connections: int = 32


# OCI distribution grammar (spec.md, "Pulling manifests").
_NAME = re.compile(
    r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*"
)
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
_HOST = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?"
)
_DIGEST = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[A-Za-z0-9=_-]{32,}")
_ERROR_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,39}")
_LINK = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,<]+)*)")
_REL = re.compile(r'rel\s*=\s*"?([^";,]+)"?', re.IGNORECASE)
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Token-service answers to the refresh-token POST after which the GET form is tried.
IDENTITY_TOKEN_GET_FALLBACK = frozenset({400, 401, 404})
# Docker Hub's canonical names are not the host that serves the API.
_DOCKER_HUB = frozenset({"docker.io", "index.docker.io"})


# --- the adapter ------------------------------------------------------------------------


class _Abort(Exception):
    """Ends an operation with a ``Failure``; never leaves this module."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.reason)
        self.failure = failure


@attrs.define
class _Call:
    """One operation in progress: where it goes, its deadline and its request count."""

    repository: Repository
    origin: str  # scheme://host[:port] of the registry API
    name: str  # the repository name in API paths
    client: httpx.Client
    deadline: float  # time.monotonic()
    requests: int = 0


class HttpxRegistry:
    """The ``RegistryPort`` over HTTP with httpx. Thread-safe; reuse one instance.

    One ``httpx.Client`` (connection pool) is kept per (scheme, CA) and reused; bearer
    tokens are cached per registry, scope and credential until they expire on ``clock``;
    the auth scheme a registry asked for is remembered per origin so later requests carry
    credentials at once instead of taking a 401 first. ``transport`` replaces the network
    (tests use ``httpx.MockTransport``); ``trust_env`` honours proxy variables.
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        limits: RegistryLimits | None = None,
        transport: httpx.BaseTransport | None = None,
        trust_env: bool = True,
        user_agent: str = "werfop",
    ) -> None:
        self._clock: Clock = clock or SystemClock()
        self._limits = limits or RegistryLimits()
        self._transport = transport
        self._trust_env = trust_env
        self._user_agent = user_agent
        self._clients: dict[tuple[str, str], httpx.Client] = {}
        self._challenges: dict[str, Challenge] = {}
        self._tokens = TokenCache()
        self._lock = threading.Lock()
        self._closed = False

    # -- public ----------------------------------------------------------------------

    def list_tags(
        self, repository: Repository, etag: str | None = None
    ) -> TagListing | RegistryUnavailable:
        """Every tag of ``repository`` (all ``Link`` pages), or why it could not be read.

        With ``etag``, ``If-None-Match`` is sent on the first tag-list request and a 304
        yields ``TagListing(not_modified=True)``. The returned ``etag`` is the one of the
        first page. ``requests`` counts every HTTP request made, token fetches included.
        ``"tags": null`` reads as no tags; tags outside the OCI tag grammar are dropped.
        Never raises.
        """
        return self._guard(repository, None, lambda: self._list_tags(repository, etag))

    def resolve_digest(
        self, repository: Repository, tag: str
    ) -> DigestAnswer | RegistryUnavailable:
        """The manifest digest ``tag`` points at now, from ``Docker-Content-Digest`` of a
        ``HEAD`` (a ``GET`` and a SHA-256 of the body only if the header is missing).
        404 gives reason ``TagNotFound`` (a HEAD cannot tell a missing repository apart).
        Never raises."""
        return self._guard(repository, tag, lambda: self._resolve_digest(repository, tag))

    def close(self) -> None:
        """Close every pooled connection. The instance must not be used afterwards."""
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
            self._closed = True
        for client in clients:
            client.close()

    def __enter__(self) -> HttpxRegistry:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the boundary ----------------------------------------------------------------

    def _guard(
        self, repository: Repository, tag: str | None, operation: Callable[[], _T]
    ) -> _T | RegistryUnavailable:
        result: _T | RegistryUnavailable
        try:
            result = operation()
        except _Abort as abort:
            result = unavailable(repository, abort.failure, at=self._clock.now(), tag=tag)
        except Exception as error:  # the boundary: a bug is an observation, not a crash
            # Only the type and the frames: an exception's text might quote a secret.
            log.error(
                "Registry adapter bug (%s) for %s:\n%s",
                type(error).__name__,
                repository.url,
                "".join(traceback.format_tb(error.__traceback__)),
            )
            failure = Failure(
                reason=Reason.INTERNAL_ERROR,
                detail=(
                    f"werfop failed unexpectedly ({type(error).__name__}); please report this bug"
                ),
            )
            result = unavailable(repository, failure, at=self._clock.now(), tag=tag)
        if isinstance(result, RegistryUnavailable):
            log.debug("%s: %s (%s)", repository.url, result.reason, result.status_code)
        return result

    # -- operations ------------------------------------------------------------------

    def _list_tags(self, repository: Repository, etag: str | None) -> TagListing:
        call = self._start(repository)
        limits = self._limits
        url = f"{call.origin}/v2/{call.name}/tags/list"
        tags: list[str] = []
        seen: set[str] = set()
        visited = {url}
        first_etag: str | None = None
        total = 0
        for page in range(1, limits.max_pages + 1):
            headers = {"Accept": "application/json"}
            if page == 1 and etag:
                headers["If-None-Match"] = etag
            response = self._authorized(call, "GET", url, headers)
            try:
                if page == 1:
                    first_etag = response.headers.get("ETag")
                    if response.status_code == 304 and etag:
                        return TagListing(
                            tags=(),
                            etag=first_etag or etag,
                            not_modified=True,
                            requests=call.requests,
                        )
                if response.status_code != 200:
                    raise _Abort(self._status_failure(call, response))
                self._require_json(call, response)
                body = self._read(call, response, limits.max_tag_list_bytes)
                final_url = str(response.request.url)
                link = response.headers.get("Link")
            finally:
                response.close()
            total += len(body)
            if total > limits.max_total_tag_list_bytes:
                raise _Abort(self._too_large(call, limits.max_total_tag_list_bytes))
            for tag in _parse_tag_page(body, repository.host):
                if tag not in seen:
                    seen.add(tag)
                    tags.append(tag)
            next_url = next_link(link, final_url)
            if next_url is None:
                return TagListing(tags=tuple(tags), etag=first_etag, requests=call.requests)
            if _origin(next_url) != _origin(final_url):
                raise _Abort(
                    Failure(
                        reason=Reason.MALFORMED_RESPONSE,
                        detail=f"{repository.host} sent a next-page link to another host",
                    )
                )
            if next_url in visited:
                raise _Abort(
                    Failure(
                        reason=Reason.MALFORMED_RESPONSE,
                        detail=f"{repository.host} sent next-page links that go in a circle",
                    )
                )
            visited.add(next_url)
            url = next_url
        raise _Abort(
            Failure(
                reason=Reason.TOO_MANY_PAGES,
                detail=(
                    f"{repository.host} returned more than {limits.max_pages} pages of tags; "
                    "werfop stopped reading rather than act on a partial list"
                ),
            )
        )

    def _resolve_digest(self, repository: Repository, tag: str) -> DigestAnswer:
        call = self._start(repository)
        if not _TAG.fullmatch(tag):
            raise _Abort(Failure(reason=Reason.INVALID_TAG, detail="it is not a valid OCI tag"))
        url = f"{call.origin}/v2/{call.name}/manifests/{tag}"
        headers = {"Accept": MANIFEST_ACCEPT}
        response = self._authorized(call, "HEAD", url, headers)
        try:
            if response.status_code != 200:
                raise _Abort(self._status_failure(call, response, tag=tag))
            digest = response.headers.get("Docker-Content-Digest", "").strip()
        finally:
            response.close()
        if _DIGEST.fullmatch(digest):
            return DigestAnswer(digest=digest, requests=call.requests)
        # Some registries omit the header on HEAD: the digest is then the SHA-256 of the
        # manifest bytes (what containerd does). Docker Hub counts this GET as a pull, but
        # it always sends the header, so this path never costs a pull there.
        response = self._authorized(call, "GET", url, headers)
        try:
            if response.status_code != 200:
                raise _Abort(self._status_failure(call, response, tag=tag))
            digest = response.headers.get("Docker-Content-Digest", "").strip()
            body = self._read(call, response, self._limits.max_manifest_bytes)
        finally:
            response.close()
        if not _DIGEST.fullmatch(digest):
            if not body:
                raise _Abort(
                    Failure(
                        reason=Reason.MISSING_DIGEST,
                        detail=f"{repository.host} sent neither a digest nor a manifest",
                    )
                )
            digest = "sha256:" + hashlib.sha256(body).hexdigest()
        return DigestAnswer(digest=digest, requests=call.requests)

    # -- plumbing ----------------------------------------------------------------------

    def _start(self, repository: Repository) -> _Call:
        host, name = repository.host, repository.path
        if not _HOST.fullmatch(host) or not _NAME.fullmatch(name):
            raise _Abort(
                Failure(
                    reason=Reason.INVALID_REPOSITORY,
                    detail="it is not host[:port]/name with a valid OCI repository name; "
                    "check spec.registry.url",
                )
            )
        if host in _DOCKER_HUB:
            host = "registry-1.docker.io"
            if "/" not in name:
                name = f"library/{name}"
        scheme = "http" if repository.insecure else "https"
        return _Call(
            repository=repository,
            origin=f"{scheme}://{host}",
            name=name,
            client=self._client(scheme, repository),
            deadline=time.monotonic() + self._limits.deadline.total_seconds(),
        )

    def _client(self, scheme: str, repository: Repository) -> httpx.Client:
        ca = repository.ca_cert
        ca_id = hashlib.sha256(ca.value.encode()).hexdigest() if ca is not None else "system"
        key = (scheme, ca_id)
        with self._lock:
            if self._closed:
                raise RuntimeError("HttpxRegistry is closed")
            client = self._clients.get(key)
            if client is None:
                client = httpx.Client(
                    verify=_ssl_context(ca, repository.host),
                    transport=self._transport,
                    trust_env=self._trust_env,
                    follow_redirects=False,
                    headers={"User-Agent": self._user_agent},
                    limits=httpx.Limits(
                        max_connections=self._limits.max_connections,
                        max_keepalive_connections=self._limits.max_connections,
                    ),
                )
                self._clients[key] = client
            return client

    def _timeout(self, call: _Call, host: str) -> httpx.Timeout:
        remaining = call.deadline - time.monotonic()
        if remaining <= 0:
            raise _Abort(self._deadline_failure(host))
        limits = self._limits
        return httpx.Timeout(
            connect=min(limits.connect_timeout.total_seconds(), remaining),
            read=min(limits.read_timeout.total_seconds(), remaining),
            write=min(limits.write_timeout.total_seconds(), remaining),
            pool=min(limits.pool_timeout.total_seconds(), remaining),
        )

    def _deadline_failure(self, host: str) -> Failure:
        return failure_for_timeout(host, f"did not finish within {_seconds(self._limits.deadline)}")

    def _authorized(
        self, call: _Call, method: str, url: str, headers: Mapping[str, str]
    ) -> httpx.Response:
        """Send a registry request with the right credentials; react to one 401.

        The first attempt carries what is known to work (a cached token, Basic for a
        registry that asked for it, a registry token); a 401 is answered once by
        authenticating afresh from its challenge, then a second 401 is final.
        """
        sent = self._known_authorization(call)
        response = self._exchange(call, method, url, headers, sent)
        if response.status_code != 401:
            return response
        header = response.headers.get("WWW-Authenticate")
        failure = self._status_failure(call, response)
        response.close()
        challenges = parse_challenges(header)
        challenge = next((c for c in challenges if c.scheme in ("bearer", "basic")), None)
        if challenge is None:
            if challenges:
                schemes = ", ".join(sorted({c.scheme for c in challenges}))
                raise _Abort(
                    Failure(
                        reason=Reason.UNSUPPORTED_AUTHENTICATION,
                        detail=(
                            f"the registry {call.repository.host} asks for an authentication "
                            f"scheme werfop does not speak ({schemes})"
                        ),
                        status_code=401,
                    )
                )
            raise _Abort(failure)
        with self._lock:
            self._challenges[call.origin] = challenge
        fresh = self._fresh_authorization(call, challenge, sent, failure)
        response = self._exchange(call, method, url, headers, fresh)
        if response.status_code == 401:
            failure = self._status_failure(call, response)
            response.close()
            raise _Abort(failure)
        return response

    def _known_authorization(self, call: _Call) -> str | None:
        credentials = call.repository.credentials
        with self._lock:
            challenge = self._challenges.get(call.origin)
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            if credentials is not None and credentials.username and credentials.password:
                return basic_authorization(credentials.username, credentials.password)
            return None
        return bearer_authorization(self._bearer_token(call, challenge, fresh=False))

    def _fresh_authorization(
        self, call: _Call, challenge: Challenge, sent: str | None, failure: Failure
    ) -> str:
        credentials = call.repository.credentials
        if challenge.scheme == "basic":
            if credentials is None or not credentials.username or not credentials.password:
                raise _Abort(failure)
            header = basic_authorization(credentials.username, credentials.password)
            if header == sent:
                raise _Abort(failure)
            return header
        return bearer_authorization(self._bearer_token(call, challenge, fresh=True))

    def _bearer_token(self, call: _Call, challenge: Challenge, *, fresh: bool) -> Sensitive:
        realm = challenge.param("realm") or ""
        service = challenge.param("service") or ""
        scope = f"repository:{call.name}:pull"
        key = (
            call.repository.host,
            realm,
            service,
            scope,
            credential_fingerprint(call.repository.credentials),
        )
        if fresh:
            self._tokens.discard(key)
        else:
            token = self._tokens.get(key, self._clock.now())
            if token is not None:
                return token
        issued = self._fetch_token(call, realm, service, scope)
        self._tokens.put(key, issued)
        return issued.token

    def _fetch_token(self, call: _Call, realm: str, service: str, scope: str) -> IssuedToken:
        repository = call.repository
        credentials = repository.credentials
        parts = urlsplit(realm)
        if parts.scheme not in ("http", "https") or not parts.netloc or "@" in parts.netloc:
            raise _Abort(
                Failure(
                    reason=Reason.UNSUPPORTED_AUTHENTICATION,
                    detail=(
                        f"the registry {repository.host} sent a token realm "
                        "that is not an http(s) URL"
                    ),
                    status_code=401,
                )
            )
        service_host = parts.netloc
        if credentials is not None and parts.scheme == "http" and not repository.insecure:
            raise _Abort(
                Failure(
                    reason=Reason.INSECURE_TOKEN_REALM,
                    detail=(
                        f"the registry {repository.host} asks for credentials to be sent to "
                        f"{service_host} over plain HTTP; werfop refuses unless "
                        "spec.registry.insecure is set"
                    ),
                )
            )
        query = {"scope": scope, **({"service": service} if service else {})}
        response: httpx.Response | None = None
        if credentials is not None and credentials.identity_token is not None:
            # OAuth2 refresh-token grant (distribution spec/auth/oauth.md), as werf's
            # registry client does it (containerd v1.7.14 remotes/docker/authorizer.go:
            # 291-313): after a 400, 401 or 404 (servers without OAuth2) it tries the
            # GET form below once, and after anything else it fails, so werfop does too
            # and never lists a repository that the Job could not pull.
            form = {
                "grant_type": "refresh_token",
                "refresh_token": credentials.identity_token.value,
                "client_id": "werfop",
                **query,
            }
            response = self._exchange(
                call,
                "POST",
                realm,
                {"Content-Type": "application/x-www-form-urlencoded"},
                None,
                content=urlencode(form).encode(),
            )
            if response.status_code in IDENTITY_TOKEN_GET_FALLBACK:
                response.close()
                response = None
        if response is None:
            authorization = None
            if credentials is not None and credentials.username and credentials.password:
                authorization = basic_authorization(credentials.username, credentials.password)
                query["account"] = credentials.username
            elif credentials is not None and credentials.identity_token is not None:
                # containerd's GET form: Basic with an empty username (werf's oras fork
                # drops the username of an identity token, 3p-oras resolver.go:35-36).
                authorization = basic_authorization("", credentials.identity_token)
            token_url = str(httpx.URL(realm).copy_merge_params(query))
            response = self._exchange(call, "GET", token_url, {}, authorization)
        try:
            if response.status_code != 200:
                raise _Abort(self._status_failure(call, response, token_service=service_host))
            body = self._read(call, response, self._limits.max_token_bytes)
        finally:
            response.close()
        try:
            return parse_token_response(
                body,
                self._clock.now(),
                default_lifetime=self._limits.default_token_lifetime,
                leeway=self._limits.token_leeway,
            )
        except TokenResponseError as error:
            raise _Abort(
                Failure(reason=Reason.MALFORMED_RESPONSE, detail=f"{error} ({service_host})")
            ) from None

    def _exchange(
        self,
        call: _Call,
        method: str,
        url: str,
        headers: Mapping[str, str],
        authorization: str | None,
        *,
        content: bytes | None = None,
    ) -> httpx.Response:
        """One request with redirects followed by hand: bounded, loop-checked, never
        downgrading https to http, and dropping credentials when the origin changes."""
        visited = {url}
        current = url
        for _hop in range(self._limits.max_redirects + 1):
            host = _authority(current)
            request_headers = dict(headers)
            if authorization is not None:
                request_headers["Authorization"] = authorization
            try:
                request = call.client.build_request(
                    method,
                    current,
                    headers=request_headers,
                    content=content,
                    timeout=self._timeout(call, host),
                )
            except (httpx.InvalidURL, httpx.UnsupportedProtocol, ValueError):
                raise _Abort(
                    Failure(
                        reason=Reason.INVALID_REPOSITORY,
                        detail=f"cannot build a request URL for {host}",
                    )
                ) from None
            call.requests += 1
            try:
                response = call.client.send(request, stream=True)
            except (httpx.HTTPError, OSError) as error:
                raise _Abort(self._transport_failure(call, error, host)) from None
            location = response.headers.get("Location")
            if response.status_code not in _REDIRECTS or not location:
                return response
            response.close()
            target = urljoin(current, location)
            if target in visited:
                raise _Abort(
                    Failure(
                        reason=Reason.REDIRECT_LOOP,
                        detail=f"{host} redirects in a circle",
                        status_code=response.status_code,
                    )
                )
            if (
                urlsplit(current).scheme == "https"
                and urlsplit(target).scheme != "https"
                and not call.repository.insecure
            ):
                raise _Abort(
                    Failure(
                        reason=Reason.INSECURE_REDIRECT,
                        detail=f"{host} redirects from HTTPS to plain HTTP; werfop refuses",
                        status_code=response.status_code,
                    )
                )
            if _origin(target) != _origin(current):
                authorization = None  # never hand credentials to another origin
            if response.status_code in (301, 302, 303) and method == "POST":
                method, content = "GET", None
            visited.add(target)
            current = target
        raise _Abort(
            Failure(
                reason=Reason.TOO_MANY_REDIRECTS,
                detail=f"{_authority(url)} redirected more than {self._limits.max_redirects} times",
            )
        )

    def _read(self, call: _Call, response: httpx.Response, limit: int) -> bytes:
        """The body, streamed: stops past ``limit`` bytes or past the deadline."""
        host = _authority(str(response.request.url))
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise _Abort(self._too_large(call, limit))
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > limit:
                    raise _Abort(self._too_large(call, limit))
                if time.monotonic() > call.deadline:
                    raise _Abort(self._deadline_failure(host))
                chunks.append(chunk)
        except (httpx.HTTPError, OSError) as error:
            raise _Abort(self._transport_failure(call, error, host)) from None
        return b"".join(chunks)

    def _too_large(self, call: _Call, limit: int) -> Failure:
        return Failure(
            reason=Reason.RESPONSE_TOO_LARGE,
            detail=f"{call.repository.host} sent more than {limit} bytes; werfop stopped reading",
        )

    def _require_json(self, call: _Call, response: httpx.Response) -> None:
        content_type = response.headers.get("Content-Type")
        if not content_type:
            return
        media = content_type.split(";", 1)[0].strip().lower()
        if media in ("application/json", "text/json") or media.endswith("+json"):
            return
        raise _Abort(
            Failure(
                reason=Reason.UNEXPECTED_CONTENT_TYPE,
                detail=(
                    f"{call.repository.host} answered with {media[:80]!r} instead of JSON; "
                    "is spec.registry.url an OCI registry (not a proxy or login page)?"
                ),
                status_code=response.status_code,
            )
        )

    def _status_failure(
        self,
        call: _Call,
        response: httpx.Response,
        *,
        tag: str | None = None,
        token_service: str | None = None,
    ) -> Failure:
        status = response.status_code
        try:
            body = self._read(call, response, self._limits.max_error_bytes)
        except _Abort:
            body = b""
        if (
            status == 400
            and call.repository.insecure
            and b"HTTP request to an HTTPS server" in body
        ):
            return Failure(
                reason=Reason.PROTOCOL_MISMATCH,
                detail=(
                    f"{call.repository.host} serves HTTPS, but spec.registry.insecure asks "
                    "for plain HTTP; unset spec.registry.insecure"
                ),
                status_code=status,
            )
        retry_after = parse_retry_after(response.headers.get("Retry-After"), self._clock.now())
        return failure_for_status(
            call.repository,
            status,
            retry_after=retry_after,
            tag=tag,
            token_service=token_service,
            error_codes=_error_codes(body),
        )

    def _transport_failure(self, call: _Call, error: BaseException, host: str) -> Failure:
        if isinstance(error, _Abort):
            return error.failure
        if isinstance(error, httpx.TimeoutException):
            phase = {
                httpx.ConnectTimeout: "did not accept a connection in time",
                httpx.ReadTimeout: "did not answer in time",
                httpx.WriteTimeout: "did not take the request in time",
                httpx.PoolTimeout: "had no free connection in time",
            }.get(type(error), "did not answer in time")
            return failure_for_timeout(host, phase)
        if isinstance(error, httpx.DecodingError):
            return Failure(
                reason=Reason.MALFORMED_RESPONSE,
                detail=f"{host} sent a body that cannot be decoded",
            )
        for cause in _causes(error):
            if isinstance(cause, ssl.SSLCertVerificationError):
                why = (cause.verify_message or "certificate verification failed").rstrip(".")
                return Failure(
                    reason=Reason.TLS_ERROR,
                    detail=(
                        f"the TLS certificate of {host} is not trusted ({why}); put the CA "
                        "that signed it in the Secret named by spec.registry.caSecretRef"
                    ),
                )
            if isinstance(cause, ssl.SSLError):
                why = cause.reason or type(cause).__name__
                hint = (
                    "; if the registry serves plain HTTP, set spec.registry.insecure"
                    if why == "WRONG_VERSION_NUMBER"
                    else ""
                )
                return Failure(
                    reason=Reason.TLS_ERROR,
                    detail=f"the TLS handshake with {host} failed ({why}){hint}",
                )
            if isinstance(cause, socket.gaierror):
                return Failure(
                    reason=Reason.DNS_FAILURE,
                    detail=f"the host name of {host} does not resolve; check spec.registry.url",
                )
            if isinstance(cause, ConnectionRefusedError):
                return Failure(
                    reason=Reason.CONNECTION_REFUSED,
                    detail=f"{host} refused the connection; is the registry up and the port right?",
                )
        if isinstance(error, httpx.RemoteProtocolError):
            return Failure(
                reason=Reason.CONNECTION_FAILED,
                detail=f"the connection to {host} broke off before a complete answer",
            )
        if isinstance(error, httpx.HTTPError | OSError):
            return Failure(
                reason=Reason.CONNECTION_FAILED,
                detail=f"cannot talk to {host} ({type(error).__name__})",
            )
        raise error


def _ssl_context(ca_cert: Sensitive | None, host: str) -> ssl.SSLContext:
    """System trust, plus ``ca_cert`` (PEM) when given; certifi if the system has none."""
    context = ssl.create_default_context()
    if context.cert_store_stats().get("x509_ca", 0) == 0:
        try:
            import certifi

            context.load_verify_locations(cafile=certifi.where())
        except (ImportError, OSError, ssl.SSLError):
            pass
    if ca_cert is not None:
        try:
            context.load_verify_locations(cadata=ca_cert.value)
        except (ssl.SSLError, ValueError, TypeError):
            raise _Abort(
                Failure(
                    reason=Reason.INVALID_CA_CERTIFICATE,
                    detail=(
                        f"the CA certificate given for {host} is not a valid PEM certificate; "
                        "check ca.crt in the Secret named by spec.registry.caSecretRef"
                    ),
                )
            ) from None
    return context


def _parse_tag_page(body: bytes, host: str) -> list[str]:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        document = None
    if not isinstance(document, dict):
        raise _Abort(
            Failure(
                reason=Reason.MALFORMED_RESPONSE,
                detail=f"{host} answered with something that is not a JSON tag list",
            )
        )
    tags = document.get("tags")
    if tags is None:  # the distribution registry says null for a repository without tags
        return []
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise _Abort(
            Failure(
                reason=Reason.MALFORMED_RESPONSE,
                detail=f"{host} answered with a tag list whose tags are not strings",
            )
        )
    return [tag for tag in tags if _TAG.fullmatch(tag)]


def next_link(header: str | None, current_url: str) -> str | None:
    """The absolute URL of the ``rel="next"`` link in a ``Link`` header (RFC 8288)."""
    if not header:
        return None
    for match in _LINK.finditer(header):
        rel = _REL.search(match.group(2) or "")
        if rel and "next" in rel.group(1).lower().split():
            return str(urljoin(current_url, match.group(1).strip()))
    return None


def _error_codes(body: bytes) -> tuple[str, ...]:
    """The ``errors[].code`` values of an OCI error body. Only the codes: registry
    messages are free text that could, in theory, echo a request header."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return ()
    errors = document.get("errors") if isinstance(document, dict) else None
    if not isinstance(errors, list):
        return ()
    codes = [e.get("code") for e in errors[:5] if isinstance(e, dict)]
    return tuple(c for c in codes if isinstance(c, str) and _ERROR_CODE.fullmatch(c))


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return (parts.scheme, parts.netloc.lower())


def _authority(url: str) -> str:
    netloc = urlsplit(url).netloc
    return netloc.rsplit("@", 1)[-1] or url[:80]


def _causes(error: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain
