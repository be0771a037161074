"""Registry credentials from Secrets, and the docker config.json werf gets."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from werfop.api.credentials import credentials_from_secret, docker_config_json
from werfop.core.model import FieldProblem, Sensitive
from werfop.core.ports import Credentials

PATH = "spec.registry.secretRef.name"
SECRET_VALUE = "s3cret-canary-value"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def secret(data: dict[str, str], type_: str = "Opaque", **extra: Any) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "apps", "name": "regcred"},
        "type": type_,
        "data": {key: b64(value) for key, value in data.items()},
        **extra,
    }


def docker_secret(auths: dict[str, Any]) -> dict[str, Any]:
    return secret(
        {".dockerconfigjson": json.dumps({"auths": auths})}, "kubernetes.io/dockerconfigjson"
    )


USER_PASS = Credentials(username="robot", password=Sensitive(SECRET_VALUE))


@pytest.mark.parametrize(
    ("auths", "host", "expected"),
    [
        pytest.param(
            {"registry.example.com": {"username": "robot", "password": SECRET_VALUE}},
            "registry.example.com",
            USER_PASS,
            id="username-password",
        ),
        pytest.param(
            {"registry.example.com": {"auth": b64(f"robot:{SECRET_VALUE}")}},
            "registry.example.com",
            USER_PASS,
            id="auth",
        ),
        pytest.param(
            {"registry.example.com": {"auth": b64("robot:pa:ss")}},
            "registry.example.com",
            Credentials(username="robot", password=Sensitive("pa:ss")),
            id="auth-password-with-colon",
        ),
        pytest.param(
            {"https://registry.example.com/v1/": {"auth": b64(f"robot:{SECRET_VALUE}")}},
            "registry.example.com",
            USER_PASS,
            id="scheme-and-path",
        ),
        pytest.param(
            {"registry.example.com:5000": {"auth": b64(f"robot:{SECRET_VALUE}")}},
            "registry.example.com:5000",
            USER_PASS,
            id="port",
        ),
        pytest.param(
            {"https://index.docker.io/v1/": {"auth": b64(f"robot:{SECRET_VALUE}")}},
            "docker.io",
            USER_PASS,
            id="docker-hub-alias",
        ),
        pytest.param(
            {"docker.io": {"auth": b64(f"robot:{SECRET_VALUE}")}},
            "registry-1.docker.io",
            USER_PASS,
            id="docker-hub-api-host",
        ),
        pytest.param(
            {"acr.example.com": {"auth": b64("00000000:"), "identitytoken": SECRET_VALUE}},
            "acr.example.com",
            Credentials(username="00000000", identity_token=Sensitive(SECRET_VALUE)),
            id="identitytoken",
        ),
        pytest.param(
            {"r.example.com": {"registrytoken": "ignored", "auth": b64(f"robot:{SECRET_VALUE}")}},
            "r.example.com",
            USER_PASS,
            id="registrytoken-ignored-as-werf-does",
        ),
        pytest.param(
            {
                "https://r.example.com": {"auth": b64("other:x")},
                "r.example.com": {"auth": b64(f"robot:{SECRET_VALUE}")},
            },
            "r.example.com",
            Credentials(username="robot", password=Sensitive(SECRET_VALUE)),
            id="exact-key-wins",
        ),
    ],
)
def test_docker_config_json_secrets(
    auths: dict[str, Any], host: str, expected: Credentials
) -> None:
    assert expected == credentials_from_secret(docker_secret(auths), host, path=PATH)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param({"username": "robot", "password": SECRET_VALUE}, USER_PASS, id="basic"),
        pytest.param(
            {"token": SECRET_VALUE}, Credentials(identity_token=Sensitive(SECRET_VALUE)), id="token"
        ),
    ],
)
def test_opaque_secrets(data: dict[str, str], expected: Credentials) -> None:
    assert expected == credentials_from_secret(secret(data), "r.example.com", path=PATH)


def test_string_data_is_honoured() -> None:
    hand_written = {
        "metadata": {"namespace": "apps", "name": "regcred"},
        "stringData": {"username": "robot", "password": SECRET_VALUE},
    }

    assert USER_PASS == credentials_from_secret(hand_written, "r.example.com", path=PATH)


def test_legacy_dockercfg_secret() -> None:
    legacy = secret(
        {".dockercfg": json.dumps({"r.example.com": {"auth": b64(f"robot:{SECRET_VALUE}")}})},
        "kubernetes.io/dockercfg",
    )

    assert USER_PASS == credentials_from_secret(legacy, "r.example.com", path=PATH)


@pytest.mark.parametrize(
    ("given", "fragment"),
    [
        pytest.param(
            docker_secret({"ghcr.io": {"auth": b64("a:b")}}),
            "no entry for r.example.com (it has: ghcr.io)",
            id="other-host",
        ),
        pytest.param(
            secret({}, "kubernetes.io/dockerconfigjson"), "no .dockerconfigjson key", id="no-key"
        ),
        pytest.param(
            secret({".dockerconfigjson": "{nope"}, "kubernetes.io/dockerconfigjson"),
            "not valid JSON",
            id="bad-json",
        ),
        pytest.param(
            docker_secret({"r.example.com": {"auth": "%%%"}}), "not base64", id="bad-auth"
        ),
        pytest.param(
            docker_secret({"r.example.com": {"email": "a@b"}}),
            "no username and password, auth or identitytoken",
            id="empty-entry",
        ),
        pytest.param(
            docker_secret({"r.example.com": {"registrytoken": SECRET_VALUE}}),
            "only a registrytoken, which werf ignores",
            id="registrytoken-only",
        ),
        pytest.param(secret({"username": "robot"}), "no password", id="no-password"),
        pytest.param(secret({"password": SECRET_VALUE}), "no username", id="no-username"),
        pytest.param(secret({"other": "x"}), "neither username and password nor token", id="empty"),
        pytest.param(
            {"metadata": {"namespace": "apps", "name": "regcred"}, "data": {"password": "***"}},
            "not valid base64",
            id="bad-base64",
        ),
    ],
)
def test_problems_name_the_secret_and_what_is_missing_never_values(
    given: dict[str, Any], fragment: str
) -> None:
    problem = credentials_from_secret(given, "r.example.com", path=PATH)

    assert isinstance(problem, FieldProblem)
    assert PATH == problem.path
    assert problem.message.startswith("Secret apps/regcred: ")
    assert fragment in problem.message
    assert SECRET_VALUE not in problem.message


def decoded(config: Sensitive) -> dict[str, Any]:
    return json.loads(config.value)


@pytest.mark.parametrize(
    ("credentials", "host", "expected"),
    [
        pytest.param(
            USER_PASS,
            "r.example.com",
            {"auths": {"r.example.com": {"auth": b64(f"robot:{SECRET_VALUE}")}}},
            id="password",
        ),
        pytest.param(
            Credentials(username="u", identity_token=Sensitive("idt")),
            "r.example.com",
            {"auths": {"r.example.com": {"identitytoken": "idt", "username": "u"}}},
            id="identity-token",
        ),
        pytest.param(
            USER_PASS,
            "docker.io",
            {
                "auths": {
                    "docker.io": {"auth": b64(f"robot:{SECRET_VALUE}")},
                    "https://index.docker.io/v1/": {"auth": b64(f"robot:{SECRET_VALUE}")},
                }
            },
            id="docker-hub",
        ),
        pytest.param(None, "r.example.com", {"auths": {}}, id="anonymous"),
    ],
)
def test_docker_config_json(
    credentials: Credentials | None, host: str, expected: dict[str, Any]
) -> None:
    config = docker_config_json(credentials, host)

    assert expected == decoded(config)
    assert "Sensitive(<redacted>)" == repr(config)


def test_docker_config_round_trips_through_a_secret() -> None:
    config = docker_config_json(USER_PASS, "r.example.com")
    again = secret({".dockerconfigjson": config.value}, "kubernetes.io/dockerconfigjson")

    assert USER_PASS == credentials_from_secret(again, "r.example.com", path=PATH)


def test_a_token_only_secret_reaches_werf_as_an_identitytoken() -> None:
    # werf's oras fork reads only identitytoken or username/password
    # (3p-oras@03962ecbd40a pkg/auth/docker/resolver.go:35-42); werfop polls with the
    # same identity token (the OAuth2 refresh-token grant containerd uses).
    found = credentials_from_secret(secret({"token": SECRET_VALUE}), "r.example.com", path=PATH)
    assert isinstance(found, Credentials)

    config = decoded(docker_config_json(found, "r.example.com"))

    assert {"auths": {"r.example.com": {"identitytoken": SECRET_VALUE}}} == config
    assert "registrytoken" not in json.dumps(config)
