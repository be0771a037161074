"""Registry integration fixtures: real registries and scripted servers (see
``support.registry.fixtures``). Importing the fixture functions registers them here."""

from support.registry.fixtures import (  # noqa: F401
    basic_registry_fixture,
    httpx_registry_fixture,
    manual_clock_fixture,
    plain_registry_fixture,
    raw_server_fixture,
    repo_name_fixture,
    tls_registry_fixture,
    token_registry_fixture,
)
