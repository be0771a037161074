"""The operator's HTTP endpoints: ``/healthz``, ``/readyz``, ``/metrics`` and
``POST /hooks/registry`` (see ``runtime.hooks``).

Role: a small threaded HTTP server (stdlib) whose answers come from callables the
operator wires in. Must not: block a worker or expose anything but health and metrics.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from werfop.runtime.hooks import MAX_BODY, RegistryHook

Check = Callable[[], tuple[bool, str]]


def parse_addr(addr: str) -> tuple[str, int]:
    """``:8081`` or ``127.0.0.1:8081`` -> (host, port); an empty host means all."""
    host, _, port = addr.rpartition(":")
    return host or "0.0.0.0", int(port)


class Endpoints:
    def __init__(
        self,
        addr: str,
        *,
        healthy: Check,
        ready: Check,
        registry: CollectorRegistry | None = None,
        hook: RegistryHook | None = None,
    ):
        endpoints = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                if self.path != "/hooks/registry" or hook is None:
                    endpoints._answer(self, False, "not found", status=404)
                    return
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                except ValueError:
                    length = -1
                if length < 0:
                    endpoints._answer(self, False, "bad Content-Length", status=400)
                    return
                body = self.rfile.read(length) if length <= MAX_BODY else None
                answer = hook.handle(dict(self.headers), body, self.client_address[0], length)
                endpoints._answer(self, answer.status < 300, answer.text, status=answer.status)
                if body is None:
                    self.close_connection = True

            def do_GET(self) -> None:
                if self.path == "/healthz":
                    endpoints._answer(self, *healthy())
                elif self.path == "/readyz":
                    endpoints._answer(self, *ready())
                elif self.path == "/metrics" and registry is not None:
                    body = generate_latest(registry)
                    self.send_response(200)
                    self.send_header("Content-Type", CONTENT_TYPE_LATEST)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    endpoints._answer(self, False, "not found", status=404)

            def log_message(self, format: str, *args: object) -> None:
                pass  # probes every few seconds are not news

        self.server = ThreadingHTTPServer(parse_addr(addr), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, name="werfop-http", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @staticmethod
    def _answer(
        handler: BaseHTTPRequestHandler, ok: bool, text: str, status: int | None = None
    ) -> None:
        body = (text + "\n").encode()
        handler.send_response(status or (200 if ok else 503))
        handler.send_header("Content-Type", "text/plain; charset=utf-8")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
