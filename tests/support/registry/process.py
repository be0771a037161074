"""The real registry (CNCF distribution 2.8, ``/usr/bin/docker-registry``) as a test process.

Role: write a config into a temporary folder (filesystem storage there, deletes enabled),
start the registry on a free 127.0.0.1 port in one of five modes (plain HTTP, htpasswd
Basic auth, TLS with a CA made at test time, both, bearer tokens from ``TokenServer``), wait
until ``/v2/`` answers, and stop it (terminate, then kill) at teardown.
Must not: leave a process behind, listen anywhere but 127.0.0.1, or skip when the binary
is missing (the fixture fails and says how to install it).
Neighbours: ``token_server``, ``oci`` (pushes content), ``fixtures``.
"""

from __future__ import annotations

import base64
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import attrs
import httpx
import trustme
import yaml

from support import hostnames
from support.children import die_with_parent
from support.registry.oci import OciPusher
from support.registry.token_server import PUSHER, TokenServer
from werfop.core.model import Sensitive
from werfop.core.ports import Credentials, Repository

REGISTRY_BINARY = Path("/usr/bin/docker-registry")
INSTALL_HINT = (
    "the CNCF distribution registry (/usr/bin/docker-registry) is not installed; run "
    "`make test`, which installs it (apt-get install -y docker-registry apache2-utils)"
)
Mode = Literal["plain", "basic", "tls", "tls-basic", "token"]
BASIC_MODES = ("basic", "tls-basic")
TLS_MODES = ("tls", "tls-basic")
TLS_BASIC_NAME = "registry.werfop.test"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@attrs.define
class RunningRegistry:
    """A started registry: where it is, how to reach it, and a pusher for content."""

    mode: Mode
    host: str  # 127.0.0.1:port
    folder: Path
    pusher: OciPusher
    process: subprocess.Popen[bytes]
    ca_pem: str | None = None
    users: dict[str, str] = attrs.Factory(dict)
    token_server: TokenServer | None = None

    @property
    def insecure(self) -> bool:
        return self.mode not in TLS_MODES

    def repository(
        self,
        name: str,
        *,
        credentials: Credentials | None = None,
        with_ca: bool = True,
        insecure: bool | None = None,
    ) -> Repository:
        """A ``Repository`` for ``name`` on this registry (CA included in TLS mode)."""
        ca = Sensitive(self.ca_pem) if self.ca_pem is not None and with_ca else None
        return Repository(
            url=f"{self.host}/{name}",
            insecure=self.insecure if insecure is None else insecure,
            ca_cert=ca,
            credentials=credentials,
        )

    def credentials(self, username: str) -> Credentials:
        return Credentials(username=username, password=Sensitive(self.users[username]))

    def log_tail(self, lines: int = 40) -> str:
        path = self.folder / "registry.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.pusher.close()
        if self.token_server is not None:
            self.token_server.stop()


def start_registry(
    folder: Path,
    mode: Mode,
    *,
    users: dict[str, str] | None = None,
    token_server: TokenServer | None = None,
    fail: Callable[[str], object] | None = None,
    notify: tuple[str, str] | None = None,
) -> RunningRegistry:
    """Start a registry in ``mode`` with its files in ``folder``; raises (or ``fail``s)
    with the registry's log when it does not come up within 15 seconds. ``notify`` is
    (url, bearer token): the registry then sends its push notifications there."""

    def _fail(message: str) -> None:
        if fail is not None:
            fail(message)
        raise RuntimeError(message)

    if not REGISTRY_BINARY.exists():
        _fail(INSTALL_HINT)
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    # werf's registry client (containerd's resolver) speaks plain HTTP to every loopback
    # address, whatever its flags say: the TLS + htpasswd registry, which werf itself pulls
    # from, is reached by a name (support.hostnames) that the tests resolve to 127.0.0.1.
    name = TLS_BASIC_NAME if mode == "tls-basic" else "127.0.0.1"
    host = f"{name}:{port}"
    config: dict[str, object] = {
        "version": 0.1,
        "log": {"level": "info", "accesslog": {"disabled": True}},
        "storage": {
            "filesystem": {"rootdirectory": str(folder / "data")},
            "delete": {"enabled": True},
            "maintenance": {"uploadpurging": {"enabled": False}},
        },
        "http": {"addr": f"127.0.0.1:{port}", "secret": "werfop-test-http-secret"},
    }
    if notify is not None:
        url, token = notify
        config["notifications"] = {
            "endpoints": [
                {
                    "name": "werfop",
                    "url": url,
                    "headers": {"Authorization": [f"Bearer {token}"]},
                    "timeout": "2s",
                    "threshold": 3,
                    "backoff": "1s",
                }
            ]
        }
    http = config["http"]
    assert isinstance(http, dict)
    users = dict(users or {})
    ca_pem: str | None = None
    verify: ssl.SSLContext | bool = True
    if mode in BASIC_MODES:
        htpasswd = shutil.which("htpasswd")
        if htpasswd is None:
            _fail(INSTALL_HINT)
        lines = []
        for username, password in users.items():
            made = subprocess.run(
                [str(htpasswd), "-Bbn", username, password],
                check=True,
                capture_output=True,
                text=True,
            )
            lines.append(made.stdout.strip())
        (folder / "htpasswd").write_text("\n".join(lines) + "\n")
        config["auth"] = {"htpasswd": {"realm": "werfop-test", "path": str(folder / "htpasswd")}}
    if mode == "tls-basic":
        hostnames.install({TLS_BASIC_NAME: "127.0.0.1"})
    if mode in TLS_MODES:
        ca = trustme.CA()
        certificate = ca.issue_cert(name, "127.0.0.1", "localhost")
        certificate.private_key_and_cert_chain_pem.write_to_path(str(folder / "server.pem"))
        certificate.private_key_pem.write_to_path(str(folder / "server.key"))
        ca_pem = ca.cert_pem.bytes().decode()
        http["tls"] = {"certificate": str(folder / "server.pem"), "key": str(folder / "server.key")}
        verify = _context_for(ca_pem)
    if mode == "token":
        if token_server is None:
            token_server = TokenServer(users=users)
        token_server.start()
        config["auth"] = {
            "token": {
                "realm": token_server.realm,
                "service": token_server.service,
                "issuer": token_server.issuer,
                "rootcertbundle": str(token_server.write_root_bundle(folder / "token-root.pem")),
            }
        }
    config_path = folder / "config.yml"
    config_path.write_text(yaml.safe_dump(config))
    log_file = (folder / "registry.log").open("wb")
    process = subprocess.Popen(
        [str(REGISTRY_BINARY), "serve", str(config_path)],
        stdout=log_file,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        preexec_fn=die_with_parent,
    )
    log_file.close()
    scheme = "https" if mode in TLS_MODES else "http"
    base = f"{scheme}://{host}"
    push_auth = _push_auth(mode, users, token_server)
    running = RunningRegistry(
        mode=mode,
        host=host,
        folder=folder,
        pusher=OciPusher(base, verify=verify, auth=push_auth),
        process=process,
        ca_pem=ca_pem,
        users=users,
        token_server=token_server,
    )
    deadline = time.monotonic() + 15
    while True:
        if process.poll() is not None:
            running.stop()
            _fail(f"the registry exited with {process.returncode}:\n{running.log_tail()}")
        try:
            httpx.get(f"{base}/v2/", verify=verify, timeout=1, trust_env=False)
            return running
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                running.stop()
                _fail(f"the registry did not answer on {base}/v2/:\n{running.log_tail()}")
            time.sleep(0.05)


def _context_for(ca_pem: str) -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.load_verify_locations(cadata=ca_pem)
    return context


def _push_auth(
    mode: Mode, users: dict[str, str], token_server: TokenServer | None
) -> Callable[[str], dict[str, str]]:
    """Headers that let the pusher write ``repository`` in ``mode``."""

    def headers(repository: str) -> dict[str, str]:
        if mode in BASIC_MODES:
            raw = f"{PUSHER}:{users[PUSHER]}".encode()
            return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
        if mode == "token":
            assert token_server is not None
            return {"Authorization": f"Bearer {token_server.push_token(repository)}"}
        return {}

    return headers
