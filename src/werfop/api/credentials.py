"""Registry credentials from Kubernetes Secrets, and the docker config werf gets from them.

Role: ``credentials_from_secret`` reads a Secret (raw JSON) referenced by
``spec.registry.secretRef`` into ``Credentials`` for one registry host, or explains with a
``FieldProblem`` what is missing; ``docker_config_json`` writes the docker ``config.json``
the deploy Job mounts so werf pulls with the same credentials.
Accepted Secrets: ``kubernetes.io/dockerconfigjson`` (``auths.<host>`` with
``username``/``password``, ``auth`` or ``identitytoken``; hosts matched as docker does,
with scheme and path ignored and Docker Hub's aliases equal), the legacy
``kubernetes.io/dockercfg``, and any other type with ``username`` + ``password`` (Opaque,
``kubernetes.io/basic-auth``) or ``token`` (an identity token, see below).

Only what werf itself uses is accepted, so werfop's poll never succeeds where the Job's
pull would fail. werf pulls bundles through its oras fork, whose credential callback
returns an ``identitytoken`` (with an empty username) or else ``username``/``password``
and nothing else (werf/3p-oras@03962ecbd40a ``pkg/auth/docker/resolver.go:23-44``, as
werf v2.75.0's go.mod:415 requires): docker's ``registrytoken`` is ignored and werf
would pull anonymously. containerd (v1.7.14 ``remotes/docker/authorizer.go:262-329``)
then exchanges an identity token at the registry's token service with the OAuth2
``grant_type=refresh_token`` POST, so a Secret's ``token`` is written to werf as
``identitytoken`` and used by werfop the same way (``HttpxRegistry``). A
``registrytoken``, a bearer token to present as is, has no equivalent in werf and is a
problem naming the key.
Must not: do I/O, log, or put a Secret value in a message (messages name the Secret as
``namespace/name``, the keys and the hosts, never values).
Neighbours: ``werfop.core.ports.Credentials`` and ``werfop.core.model.FieldProblem``; the
runtime reads Secrets and calls these; ``werfop.adapters.registry`` uses the result.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

from werfop.core.model import FieldProblem, Sensitive
from werfop.core.ports import Credentials

DOCKER_CONFIG_JSON = "kubernetes.io/dockerconfigjson"
DOCKER_CFG = "kubernetes.io/dockercfg"
DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
# The key docker and werf look up for Docker Hub in config.json.
DOCKER_HUB_KEY = "https://index.docker.io/v1/"


def registry_host_key(key: str) -> str:
    """A config.json ``auths`` key reduced to a host, as docker does: scheme and path
    dropped (``https://index.docker.io/v1/`` -> ``index.docker.io``), lower-cased."""
    host = key.strip()
    for prefix in ("https://", "http://"):
        if host.lower().startswith(prefix):
            host = host[len(prefix) :]
            break
    return host.split("/", 1)[0].lower()


def _same_registry(key: str, host: str) -> bool:
    candidate, wanted = registry_host_key(key), registry_host_key(host)
    if candidate == wanted:
        return True
    return candidate in DOCKER_HUB_ALIASES and wanted in DOCKER_HUB_ALIASES


def credentials_from_secret(
    secret: dict[str, Any], host: str, *, path: str
) -> Credentials | FieldProblem:
    """The credentials in ``secret`` for registry ``host``, or a problem at ``path``.

    ``secret`` is the Secret as the API returns it (``data`` base64-encoded; a
    ``stringData`` map, as in hand-written objects, is honoured and wins). For a docker
    config, an ``auths`` key equal to ``host`` wins over one that only matches after
    normalisation. Never raises; never quotes a value.
    """
    metadata = secret.get("metadata") or {}
    name = f"{metadata.get('namespace', '')}/{metadata.get('name', '')}"
    secret_type = secret.get("type") or "Opaque"

    def problem(message: str) -> FieldProblem:
        return FieldProblem(path=path, message=f"Secret {name}: {message}")

    data = _decoded_data(secret)
    if isinstance(data, str):
        return problem(data)
    if secret_type in (DOCKER_CONFIG_JSON, DOCKER_CFG):
        key = ".dockerconfigjson" if secret_type == DOCKER_CONFIG_JSON else ".dockercfg"
        raw = data.get(key)
        if raw is None:
            return problem(f"type {secret_type} but no {key} key")
        try:
            document = json.loads(raw)
        except ValueError:
            return problem(f"{key} is not valid JSON")
        if not isinstance(document, dict):
            return problem(f"{key} is not a JSON object")
        auths = document.get("auths") if secret_type == DOCKER_CONFIG_JSON else document
        if not isinstance(auths, dict):
            return problem(f"{key} has no auths object")
        entry_key = next((k for k in auths if k == host), None) or next(
            (k for k in auths if _same_registry(k, host)), None
        )
        if entry_key is None:
            hosts = ", ".join(sorted(str(k) for k in auths)) or "none"
            return problem(f"{key} has no entry for {host} (it has: {hosts})")
        entry = auths[entry_key]
        if not isinstance(entry, dict):
            return problem(f"the {key} entry for {entry_key} is not an object")
        return _from_docker_entry(entry, problem, f"the {key} entry for {entry_key}")
    username, password, token = data.get("username"), data.get("password"), data.get("token")
    if username and password:
        return Credentials(username=username, password=Sensitive(password))
    if token:
        return Credentials(identity_token=Sensitive(token))
    if username and not password:
        return problem("has username but no password")
    if password and not username:
        return problem("has password but no username")
    return problem(
        f"type {secret_type} has neither username and password nor token; or use type "
        f"{DOCKER_CONFIG_JSON}"
    )


def _from_docker_entry(
    entry: dict[str, Any], problem: Callable[[str], FieldProblem], what: str
) -> Credentials | FieldProblem:
    def text(key: str) -> str | None:
        value = entry.get(key)
        return value if isinstance(value, str) and value else None

    username, password = text("username"), text("password")
    decoded = _decode_auth(text("auth"))
    identity_token = text("identitytoken")
    if identity_token:
        # docker stores "auth" as base64 "user:" beside an identity token.
        user = username or (decoded[0] if decoded else None) or None
        return Credentials(username=user, identity_token=Sensitive(identity_token))
    if not (username and password) and text("auth"):
        if decoded is None:
            return problem(f"{what} has an auth field that is not base64 of user:password")
        username, password = username or decoded[0] or None, decoded[1] or None
    if username and password:
        return Credentials(username=username, password=Sensitive(password))
    if text("registrytoken"):
        return problem(
            f"{what} has only a registrytoken, which werf ignores (it would pull "
            "anonymously); give username and password, auth, or identitytoken"
        )
    return problem(f"{what} has no username and password, auth or identitytoken")


def _decode_auth(auth: str | None) -> tuple[str, str] | None:
    """``auth`` (base64 of ``user:password``) split in two; ``None`` if malformed."""
    if auth is None:
        return None
    try:
        decoded = base64.b64decode(auth, validate=True).decode()
    except (binascii.Error, ValueError):
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon else None


def _decoded_data(secret: dict[str, Any]) -> dict[str, str] | str:
    """``data`` decoded from base64 and merged with ``stringData``; a message on error."""
    decoded: dict[str, str] = {}
    data = secret.get("data") or {}
    if not isinstance(data, dict):
        return "data is not a map"
    for key, value in data.items():
        try:
            decoded[key] = base64.b64decode(str(value), validate=True).decode()
        except (binascii.Error, ValueError):
            return f"data key {key} is not valid base64 UTF-8"
    string_data = secret.get("stringData") or {}
    if isinstance(string_data, dict):
        decoded.update({k: str(v) for k, v in string_data.items()})
    return decoded


def docker_config_json(credentials: Credentials | None, host: str) -> Sensitive:
    """The docker ``config.json`` (``{"auths": {host: {...}}}``) that gives werf these
    credentials for ``host``: ``identitytoken`` or ``auth`` (base64 ``user:password``),
    the two forms werf's registry client reads; Docker Hub hosts are also written under
    docker's own key. Deterministic (sorted keys), so its hash changes only when the
    credentials do.
    """
    entry: dict[str, str] = {}
    if credentials is not None:
        if credentials.identity_token is not None:
            entry["identitytoken"] = credentials.identity_token.value
            if credentials.username:
                entry["username"] = credentials.username
        elif credentials.username and credentials.password is not None:
            raw = f"{credentials.username}:{credentials.password.value}".encode()
            entry["auth"] = base64.b64encode(raw).decode("ascii")
    auths: dict[str, dict[str, str]] = {}
    if entry:
        auths[host] = entry
        if registry_host_key(host) in DOCKER_HUB_ALIASES:
            auths[DOCKER_HUB_KEY] = entry
    return Sensitive(json.dumps({"auths": auths}, sort_keys=True, separators=(",", ":")))
