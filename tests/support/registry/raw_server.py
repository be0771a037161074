"""A raw TCP server on 127.0.0.1 that answers HTTP with scripted bytes and pauses.

Role: produce what a well-behaved HTTP server cannot: bodies cut short, bodies that
drip byte by byte, answers that never come. Each connection reads one request head,
then plays the script: ``bytes`` are sent, a ``float`` pauses that many seconds (cut
short by ``stop()``), and the connection is closed at the end.
Must not: listen anywhere but 127.0.0.1 or outlive ``stop()``.
Neighbours: the registry integration tests; ``fixtures`` (the ``raw_server`` fixture).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable

Script = Callable[[bytes], Iterable[bytes | float]]


class RawHttpServer:
    def __init__(self) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.settimeout(0.1)
        self._stopping = threading.Event()
        self._script: Script = lambda _head: [b"HTTP/1.1 500 Unscripted\r\n\r\n"]
        self._threads: list[threading.Thread] = []
        self.requests: list[bytes] = []
        self._accepter = threading.Thread(target=self._accept, daemon=True)
        self._accepter.start()

    @property
    def host(self) -> str:
        host, port = self._listener.getsockname()[:2]
        return f"{host}:{port}"

    def play(self, script: Script) -> None:
        """Answer every following request with ``script(request_head)``."""
        self._script = script

    def stop(self) -> None:
        self._stopping.set()
        self._accepter.join(timeout=5)
        for thread in self._threads:
            thread.join(timeout=5)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(connection,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(5)
            head = b""
            try:
                while b"\r\n\r\n" not in head and len(head) < 65536:
                    chunk = connection.recv(4096)
                    if not chunk:
                        return
                    head += chunk
                self.requests.append(head)
                for step in self._script(head):
                    if isinstance(step, float | int):
                        if self._stopping.wait(float(step)):
                            return
                    else:
                        connection.sendall(step)
            except OSError:
                return


def http_response(
    status: str, headers: dict[str, str], body: bytes = b"", *, content_length: int | None = None
) -> bytes:
    """The bytes of an HTTP/1.1 response; ``content_length`` may lie about the body."""
    lines = [f"HTTP/1.1 {status}"]
    length = len(body) if content_length is None else content_length
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(f"Content-Length: {length}")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body
