"""Pytest fixtures for the registry adapters: real registries, clocks, scripted servers.

Role: session-scoped real registries (``plain_registry``, ``basic_registry``,
``tls_registry``, ``token_registry``) started from ``process``; per-test unique repository
names (``repo_name``); an ``HttpxRegistry`` closed after the test (``httpx_registry``); a
``manual_clock``; a ``raw_server``. Credentials are canary strings (``CANARIES``) so tests
can prove no secret leaks into messages or logs.
Must not: skip when the registry binary is missing (fail with the install hint).
Neighbours: ``tests/integration/registry/conftest.py`` and
``tests/contract/test_registry_contract.py`` import these fixtures by their function names;
pytest registers them under the ``name=`` given here.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from support.registry.clock import ManualClock
from support.registry.process import (
    INSTALL_HINT,
    REGISTRY_BINARY,
    Mode,
    RunningRegistry,
    start_registry,
)
from support.registry.raw_server import RawHttpServer
from support.registry.token_server import PUSHER, TokenServer
from werfop.adapters.registry import HttpxRegistry, RegistryLimits

# Unique strings that must never show up in a message, a repr or a log line.
CANARIES = {
    "pusher_password": "canary-push-pw-7f3a91c2",
    "reader_password": "canary-read-pw-52be0d14",
    "identity_token": "canary-identity-token-9c0e6b7d",
    "wrong_password": "canary-wrong-pw-0a8d5e2f",
}
READER = "reader"
USERS = {PUSHER: CANARIES["pusher_password"], READER: CANARIES["reader_password"]}

_counter = itertools.count()

# Short enough that a hung test fails fast, long enough for a loaded CI machine.
FAST_LIMITS = RegistryLimits(
    connect_timeout=timedelta(seconds=2),
    read_timeout=timedelta(seconds=2),
    write_timeout=timedelta(seconds=2),
    pool_timeout=timedelta(seconds=2),
    deadline=timedelta(seconds=5),
)


def require_registry_binary(binary: Path = REGISTRY_BINARY) -> None:
    """Fail (never skip) the requesting test when the registry is not installed."""
    if not binary.exists():
        pytest.fail(INSTALL_HINT, pytrace=False)


# One registry per mode per test session, even though two places import these
# fixtures (each import is its own fixture definition to pytest): the first to start a
# mode stops it at session end, the others reuse it.
_running: dict[str, RunningRegistry] = {}


def _registry(
    tmp_path_factory: pytest.TempPathFactory, mode: Mode, **kwargs: Any
) -> Iterator[RunningRegistry]:
    require_registry_binary()
    running = _running.get(mode)
    if running is not None:
        yield running
        return
    running = start_registry(
        tmp_path_factory.mktemp(f"registry-{mode}"), mode, fail=pytest.fail, **kwargs
    )
    _running[mode] = running
    try:
        yield running
    finally:
        del _running[mode]
        running.stop()


@pytest.fixture(scope="session", name="plain_registry")
def plain_registry_fixture(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningRegistry]:
    """The registry over plain HTTP without authentication."""
    yield from _registry(tmp_path_factory, "plain")


@pytest.fixture(scope="session", name="basic_registry")
def basic_registry_fixture(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningRegistry]:
    """The registry over plain HTTP with htpasswd (bcrypt) Basic auth for ``USERS``."""
    yield from _registry(tmp_path_factory, "basic", users=USERS)


@pytest.fixture(scope="session", name="tls_registry")
def tls_registry_fixture(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningRegistry]:
    """The registry over HTTPS with a certificate from a CA made for this session."""
    yield from _registry(tmp_path_factory, "tls")


@pytest.fixture(scope="session", name="tls_basic_registry")
def tls_basic_registry_fixture(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningRegistry]:
    """The registry over HTTPS (a CA made for this session) with htpasswd Basic auth."""
    yield from _registry(tmp_path_factory, "tls-basic", users=USERS)


@pytest.fixture(scope="session", name="token_registry")
def token_registry_fixture(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningRegistry]:
    """The registry over plain HTTP with bearer tokens from our ``TokenServer``.

    ``reader`` and the identity token may pull everything; anonymous clients only
    ``public/...``; the ``pusher`` writes.
    """
    token_server = TokenServer(users=USERS, identity_tokens={CANARIES["identity_token"]: READER})
    yield from _registry(tmp_path_factory, "token", users=USERS, token_server=token_server)


@pytest.fixture(name="repo_name")
def repo_name_fixture(request: pytest.FixtureRequest) -> str:
    """A repository name no other test uses: ``werfop/<test name>-<n>``."""
    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:60].strip("-")
    return f"werfop/{slug or 'test'}-{next(_counter)}"


@pytest.fixture(name="manual_clock")
def manual_clock_fixture() -> ManualClock:
    return ManualClock()


@pytest.fixture(name="httpx_registry")
def httpx_registry_fixture() -> Iterator[HttpxRegistry]:
    """An ``HttpxRegistry`` with short timeouts that ignores proxy variables."""
    registry = HttpxRegistry(limits=FAST_LIMITS, trust_env=False)
    yield registry
    registry.close()


@pytest.fixture(name="raw_server")
def raw_server_fixture() -> Iterator[RawHttpServer]:
    server = RawHttpServer()
    yield server
    server.stop()
