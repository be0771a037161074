"""A small token service for the distribution registry's ``auth.token`` mode, in tests.

Role: issue RS256 JWTs the real registry (2.8) accepts: the header's ``kid`` is the
libtrust key id of the signing key, whose self-signed certificate the registry trusts
through ``rootcertbundle``. Speaks the token spec's GET (Basic auth or anonymous) and the
OAuth2 POST with ``grant_type=refresh_token`` (identity tokens) or ``password``. Records
every request so tests can count token fetches.
Must not: listen anywhere but 127.0.0.1. Neighbours: ``process`` (starts the registry
that trusts it), ``fixtures``.

Policy: ``pusher`` may pull, push and delete everywhere, other known users and identity tokens
may pull everywhere, anonymous clients may pull only repositories under ``public/``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

PUSHER = "pusher"


def libtrust_key_id(public_key: rsa.RSAPublicKey) -> str:
    """The libtrust key id: SHA-256 of the DER SubjectPublicKeyInfo, first 240 bits,
    base32 without padding, in 12 groups of 4 characters joined by ':'."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(encoded[i : i + 4] for i in range(0, len(encoded), 4))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@attrs.frozen
class TokenRequest:
    method: str
    username: str | None
    grant_type: str | None
    scopes: tuple[str, ...]


class TokenServer:
    """The token service; ``start()`` it, point the registry's ``realm`` at ``realm``."""

    def __init__(
        self,
        *,
        service: str = "werfop-test-registry",
        issuer: str = "werfop-test-issuer",
        users: dict[str, str] | None = None,
        identity_tokens: dict[str, str] | None = None,
        expires_in: int = 300,
    ) -> None:
        self.service = service
        self.issuer = issuer
        self.users = dict(users or {})
        self.identity_tokens = dict(identity_tokens or {})  # token -> username
        self.expires_in = expires_in
        self.requests: list[TokenRequest] = []
        self._lock = threading.Lock()
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.key_id = libtrust_key_id(self._key.public_key())
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- keys --------------------------------------------------------------------------

    def certificate_pem(self) -> bytes:
        """A self-signed certificate of the signing key, for ``rootcertbundle``."""
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.issuer)])
        now = datetime.now(UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .sign(self._key, hashes.SHA256())
        )
        return certificate.public_bytes(serialization.Encoding.PEM)

    def write_root_bundle(self, path: Path) -> Path:
        path.write_bytes(self.certificate_pem())
        return path

    def issue(self, subject: str | None, access: list[dict[str, object]]) -> str:
        """A signed registry token for ``subject`` granting ``access`` (no HTTP)."""
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "kid": self.key_id}
        claims = {
            "iss": self.issuer,
            "sub": subject or "",
            "aud": self.service,
            "exp": now + self.expires_in,
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(8),
            "access": access,
        }
        signing_input = (
            _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(claims).encode())
        )
        signature = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + _b64url(signature)

    def push_token(self, repository: str) -> str:
        return self.issue(
            PUSHER,
            [{"type": "repository", "name": repository, "actions": ["delete", "pull", "push"]}],
        )

    # -- policy ------------------------------------------------------------------------

    def grant(self, subject: str | None, scopes: list[str]) -> list[dict[str, object]]:
        access: list[dict[str, object]] = []
        for scope in scopes:
            kind_and_name, _, actions = scope.rpartition(":")
            kind, _, name = kind_and_name.partition(":")
            if kind != "repository" or not name:
                continue
            if subject == PUSHER:
                allowed = {"pull", "push", "delete"}
            elif subject is not None or name.startswith("public/"):
                allowed = {"pull"}
            else:
                allowed = set()
            granted = sorted(set(actions.split(",")) & allowed)
            access.append({"type": "repository", "name": name, "actions": granted})
        return access

    # -- HTTP --------------------------------------------------------------------------

    @property
    def realm(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/token"

    def start(self) -> TokenServer:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def token_requests(self) -> int:
        with self._lock:
            return len(self.requests)

    def _answer(
        self, method: str, authorization: str | None, query: dict[str, list[str]], form: dict
    ) -> tuple[int, dict[str, object]]:
        scopes = query.get("scope", []) + form.get("scope", [])
        grant_type = (form.get("grant_type") or [None])[0]
        subject: str | None = None
        if grant_type == "refresh_token":
            token = (form.get("refresh_token") or [""])[0]
            subject = self.identity_tokens.get(token)
            if subject is None:
                return 401, {"error": "invalid_grant"}
        elif grant_type == "password":
            # werf's registry client (containerd) tries this POST first for a username
            # and password (remotes/docker/auth/fetch.go:105-112).
            username = (form.get("username") or [""])[0]
            password = (form.get("password") or [""])[0]
            known = self.users.get(username)
            if known is None or not secrets.compare_digest(known, password):
                return 401, {"error": "invalid_grant"}
            subject = username
        elif authorization:
            scheme, _, value = authorization.partition(" ")
            if scheme.lower() != "basic":
                return 401, {"error": "unsupported authorization"}
            username, _, password = base64.b64decode(value).decode().partition(":")
            known = self.users.get(username)
            # werf's registry client (containerd) sends an identity token as Basic with an
            # empty username; "<token>" is the older docker convention.
            by_identity = (
                self.identity_tokens.get(password) if username in ("", "<token>") else None
            )
            if by_identity is not None:
                subject = by_identity
            elif known is None or not secrets.compare_digest(known, password):
                return 401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]}
            else:
                subject = username
        with self._lock:
            self.requests.append(TokenRequest(method, subject, grant_type, tuple(scopes)))
        token = self.issue(subject, self.grant(subject, scopes))
        body: dict[str, object] = {
            "token": token,
            "access_token": token,
            "expires_in": self.expires_in,
            "issued_at": datetime.now(UTC).isoformat(),
        }
        return 200, body


def _handler_for(server: TokenServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def _respond(self, form: dict[str, list[str]]) -> None:
            parts = urlsplit(self.path)
            if parts.path != "/token":
                self.send_error(404)
                return
            status, body = server._answer(
                self.command, self.headers.get("Authorization"), parse_qs(parts.query), form
            )
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._respond({})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode())
            self._respond(form)

    return Handler
