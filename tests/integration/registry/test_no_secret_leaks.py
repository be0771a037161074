"""No credential or token ever shows in a ``RegistryUnavailable`` message or repr, or in
any log line (DEBUG included, httpx's and httpcore's too), even when a hostile server
echoes the ``Authorization`` header back in its error body or an exception quotes a
secret. (A server echoing it in a response *header* would reach httpcore's DEBUG trace,
which is third-party logging: keep the ``httpcore`` logger above DEBUG in production.)"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from support.registry.clock import EPOCH
from support.registry.fixtures import CANARIES, FAST_LIMITS, READER
from support.registry.process import RunningRegistry
from werfop.adapters.registry import HttpxRegistry
from werfop.adapters.scripted_registry import ScriptedRegistry
from werfop.core.model import RegistryUnavailable, Sensitive
from werfop.core.ports import Credentials, Repository
from werfop.runtime.registry_economy import RegistryEconomy

pytestmark = pytest.mark.integration


def forbidden_strings() -> list[str]:
    values = list(CANARIES.values())
    encoded = [
        base64.b64encode(f"{user}:{secret}".encode()).decode()
        for user in (READER, "pusher", "<token>", "u")
        for secret in values
    ]
    return values + encoded


def echo_authorization(request: Request) -> Response:
    """A hostile registry: puts the caller's Authorization header in its error."""
    body = {"errors": [{"code": "DENIED", "message": request.headers.get("Authorization", "")}]}
    # Not in a response header: httpcore's own DEBUG trace prints response headers
    # verbatim, so the operator must keep the httpcore logger above DEBUG.
    return Response(json.dumps(body), status=403, content_type="application/json")


@pytest.fixture
def everything_logged(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "werfop"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield caplog


def test_no_secret_appears_in_failures_reprs_or_logs(
    basic_registry: RunningRegistry,
    token_registry: RunningRegistry,
    httpserver: HTTPServer,
    httpx_registry: HttpxRegistry,
    repo_name: str,
    everything_logged: pytest.LogCaptureFixture,
) -> None:
    wrong = Credentials(username=READER, password=Sensitive(CANARIES["wrong_password"]))
    reader = Credentials(username=READER, password=Sensitive(CANARIES["reader_password"]))
    identity = Credentials(identity_token=Sensitive(CANARIES["identity_token"]))
    bogus_identity = Credentials(identity_token=Sensitive(CANARIES["wrong_password"]))
    httpserver.expect_request("/v2/team/app/tags/list").respond_with_handler(echo_authorization)
    httpserver.expect_request("/v2/team/app/manifests/1.0.0").respond_with_handler(
        echo_authorization
    )
    hostile = f"{httpserver.host}:{httpserver.port}/team/app"

    def boom(request: httpx.Request) -> httpx.Response:
        raise ValueError(f"leaky {request.headers.get('Authorization')}")

    def broken_pipe(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"refused {CANARIES['identity_token']}", request=request)

    answers: list[object] = []
    for registry, credentials in [
        (basic_registry, wrong),
        (basic_registry, reader),
        (basic_registry, identity),
        (token_registry, wrong),
        (token_registry, bogus_identity),
        (token_registry, identity),
    ]:
        repository = registry.repository(repo_name, credentials=credentials)
        answers += [
            httpx_registry.list_tags(repository),
            httpx_registry.resolve_digest(repository, "no-such-tag"),
            repository,
        ]
    for credentials in (reader, identity):
        repository = Repository(url=hostile, insecure=True, credentials=credentials)
        answers += [
            httpx_registry.list_tags(repository),
            httpx_registry.resolve_digest(repository, "1.0.0"),
        ]
        for handler in (boom, broken_pipe):
            with HttpxRegistry(
                transport=httpx.MockTransport(handler), limits=FAST_LIMITS
            ) as mocked:
                answers.append(mocked.list_tags(repository))
        scripted = ScriptedRegistry(_Clock())
        scripted.require_credentials(repository.url, wrong)
        economy = RegistryEconomy(scripted, _Clock())
        answers += [economy.list_tags(repository), economy.resolve_digest(repository, "1")]

    failures = [a for a in answers if isinstance(a, RegistryUnavailable)]
    texts = [f"{a!r} {a!s}" for a in answers] + [f.message for f in failures]
    texts += [record.getMessage() for record in everything_logged.records]
    texts.append(everything_logged.text)
    assert len(failures) >= 20  # the scenarios really failed, so messages were made
    leaks = sorted({canary for canary in forbidden_strings() for text in texts if canary in text})
    assert [] == leaks


class _Clock:
    def now(self) -> datetime:
        return EPOCH

    def sleep(self, delay: timedelta) -> None:
        pass
