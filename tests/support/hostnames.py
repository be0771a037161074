"""Names the tests' DNS knows, for processes outside a cluster: what cluster DNS and a
pod's ``/etc/hosts`` do for real pods.

Why: werf's registry client (containerd's resolver, ``MatchLocalhost``) speaks plain HTTP
to every loopback address, whatever its flags say, so a TLS registry that werf pulls from
must be reached by a name. The pod runner writes ``hosts`` from the pod completer's rules
file into the pod's ``/etc/hosts``; this module gives the same names to Python processes
(the pytest process, and ``werfop run`` through ``sitecustomize``) by wrapping
``socket.getaddrinfo`` for exactly those names.
Must not: change how any other name resolves.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

ENV = "WERFOP_TEST_HOSTS"  # name=address,name=address
_original = socket.getaddrinfo
_names: dict[str, str] = {}


def install(names: dict[str, str]) -> None:
    """Resolve each name to its address in this process, from now on."""
    _names.update(names)
    socket.getaddrinfo = _getaddrinfo  # type: ignore[assignment]


def _getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if isinstance(host, bytes):
        host = host.decode()
    return _original(_names.get(host, host), *args, **kwargs)


def as_env(names: dict[str, str]) -> str:
    return ",".join(f"{name}={address}" for name, address in names.items())


def install_from_env() -> None:
    value = os.environ.get(ENV, "")
    if value:
        install(dict(item.split("=", 1) for item in value.split(",") if "=" in item))


def sitecustomize_dir(folder: Path) -> Path:
    """A folder whose ``sitecustomize.py`` installs the names of ``$WERFOP_TEST_HOSTS``:
    put it on a child process's PYTHONPATH."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(
        "from support.hostnames import install_from_env\n\ninstall_from_env()\n"
    )
    return folder
