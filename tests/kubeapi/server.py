"""The Kubernetes API test server: an HTTP listener on 127.0.0.1 run in its own thread.

The server's asyncio loop lives in a background thread, so synchronous clients (the official
``kubernetes`` client, kubectl in a subprocess) can call it from the test's thread. Besides
serving HTTP, the object gives tests direct access to the stored objects, the request log,
fault injection and a restart switch.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import aiohttp.web
import kmock
import yaml

from kubeapi.faults import Faults
from kubeapi.handler import KubeApiHandler
from kubeapi.requestlog import RequestLog, RequestRecord
from kubeapi.resources import DEFAULT_RESOURCES, ResourceRegistry, ResourceType
from kubeapi.store import DEFAULT_NAMESPACES, Obj, Store

T = TypeVar("T")
HOST = "127.0.0.1"
CALL_TIMEOUT = 30.0


class KubeApiServer:
    """A Kubernetes API test server. Use as a context manager, or call start() and stop()."""

    def __init__(
        self,
        *,
        resources: Iterable[ResourceType] = DEFAULT_RESOURCES,
        history_size: int = 1000,
        token: str | None = None,
        strict_namespaces: bool = True,
        namespaces: Iterable[str] = DEFAULT_NAMESPACES,
        bookmark_interval: float | None = None,
        port: int = 0,
    ) -> None:
        """
        :param history_size: watch events kept per resource; older resourceVersions get 410.
        :param token: if set, requests must carry ``Authorization: Bearer <token>`` (else 401).
        :param strict_namespaces: creating in a namespace that does not exist gives 404.
        :param namespaces: namespaces that exist from the start.
        :param bookmark_interval: seconds between BOOKMARK events (for allowWatchBookmarks).
        """
        self.registry = ResourceRegistry(resources)
        self.store = Store(
            self.registry,
            history_size=history_size,
            strict_namespaces=strict_namespaces,
            namespaces=namespaces,
        )
        self.faults = Faults()
        self.requests = RequestLog()
        self.token = token
        self._bookmark_interval = bookmark_interval
        self._port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._handler: KubeApiHandler | None = None
        self._runner: aiohttp.web.ServerRunner | None = None

    # ----- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> KubeApiServer:
        self.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def start(self) -> None:
        if self._loop is not None:
            raise RuntimeError("the server is already started")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="kubeapi-server", daemon=True
        )
        self._thread.start()
        try:
            self._call(self._astart())
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop serving, drop connections, and end the thread. Safe to call twice."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            self._call(self._astop())
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=CALL_TIMEOUT)
            _close_loop(loop)
            self._loop = self._thread = None

    def go_down(self) -> None:
        """Drop every connection (watches included) and refuse new ones until come_up()."""
        self._call(self._stop_listening())

    def come_up(self) -> None:
        """Listen again on the same port, with the same data."""
        self._call(self._listen())

    def restart(self, downtime: float = 0.0) -> None:
        """Like an API server restart: drop connections, refuse for ``downtime`` s, come back."""
        self.go_down()
        time.sleep(downtime)  # the outage the caller asked for
        self.come_up()

    @property
    def is_up(self) -> bool:
        return self._runner is not None

    # ----- addresses and kubeconfig ----------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self._port}"

    def write_kubeconfig(
        self, path: str | Path, *, token: str | None = None, namespace: str | None = None
    ) -> Path:
        """Write a kubeconfig for this server (plain HTTP; a bearer token if given)."""
        path = Path(path)
        user: dict[str, Any] = {"token": token} if token else {}
        context: dict[str, Any] = {"cluster": "kubeapi-test", "user": "kubeapi-test"}
        if namespace:
            context["namespace"] = namespace
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "kubeapi-test", "cluster": {"server": self.url}}],
            "users": [{"name": "kubeapi-test", "user": user}],
            "contexts": [{"name": "kubeapi-test", "context": context}],
            "current-context": "kubeapi-test",
            "preferences": {},
        }
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        path.chmod(0o600)
        return path

    # ----- direct access to objects (no HTTP) ------------------------------------------------

    def resource(self, spec: str | ResourceType) -> ResourceType:
        """Resolve ``"jobs"``, ``"werfbundles.werf.io"``, ``"batch/v1/jobs"``, ``"v1/pods"``."""
        return self.registry.resolve(spec)

    def get(self, resource: str | ResourceType, namespace: str | None, name: str) -> Obj | None:
        return self.store.find(self.resource(resource), namespace, name)

    def list(self, resource: str | ResourceType, namespace: str | None = None) -> list[Obj]:
        return self.store.list(self.resource(resource), namespace)[0]

    def create(self, resource: str | ResourceType, obj: Obj) -> Obj:
        """Create through the API rules (defaults, status dropping), but without HTTP."""
        namespace = (obj.get("metadata") or {}).get("namespace")
        return self.store.create(self.resource(resource), namespace, obj)

    def put(self, resource: str | ResourceType, obj: Obj) -> Obj:
        """Create or replace as given (status too); bumps resourceVersion, emits events."""
        return self.store.put(self.resource(resource), obj)

    def mutate(
        self,
        resource: str | ResourceType,
        namespace: str | None,
        name: str,
        change: Callable[[Obj], Obj | None],
    ) -> Obj:
        """Atomically change an object in place (e.g. its status), like a controller would."""
        return self.store.mutate(self.resource(resource), namespace, name, change)

    def delete(self, resource: str | ResourceType, namespace: str | None, name: str) -> Obj:
        """Delete as the API does: with finalizers, only mark it with a deletionTimestamp."""
        return self.store.delete(self.resource(resource), namespace, name)[0]

    def remove(self, resource: str | ResourceType, namespace: str | None, name: str) -> Obj:
        """Remove at once, ignoring finalizers."""
        return self.store.remove(self.resource(resource), namespace, name)

    def set_pod_log(self, namespace: str, pod: str, text: str, container: str = "werf") -> None:
        self.store.set_pod_log(namespace, pod, container, text)

    # ----- diagnostics -----------------------------------------------------------------------

    def requests_matching(self, **criteria: str | None) -> builtins.list[RequestRecord]:
        """Request records filtered by verb/resource/namespace/name/subresource."""
        return self.requests.filter(**criteria)

    @property
    def server_errors(self) -> builtins.list[BaseException]:
        """Unexpected exceptions inside the server (bugs of the test server, not API errors)."""
        if self._handler is None:
            return []
        kmock_errors = [
            e
            for e in (self._handler._errors[-1] if self._handler._errors else [])
            if not _is_kmock_api_error(e)
        ]
        return [*self._handler.unexpected_errors, *kmock_errors]

    @property
    def handler(self) -> KubeApiHandler:
        """The kmock handler, e.g. for kmock-style assertions on ``handler.requests``."""
        if self._handler is None:
            raise RuntimeError("the server is not started")
        return self._handler

    # ----- the event loop side ---------------------------------------------------------------

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._loop is None:
            coro.close()
            raise RuntimeError("the server is not started")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(CALL_TIMEOUT)

    async def _astart(self) -> None:
        self._handler = KubeApiHandler(
            store=self.store,
            faults=self.faults,
            log=self.requests,
            token=self.token,
            bookmark_interval=self._bookmark_interval,
        )
        await self._handler.__aenter__()
        await self._listen()

    async def _astop(self) -> None:
        await self._stop_listening()
        if self._handler is not None:
            with contextlib.suppress(Exception):  # kmock re-raises nothing unless strict
                await self._handler.__aexit__(None, None, None)

    async def _listen(self) -> None:
        if self._runner is not None:
            return
        assert self._handler is not None
        server = aiohttp.web.Server(self._handler, handler_cancellation=True, access_log=None)
        runner = aiohttp.web.ServerRunner(server, shutdown_timeout=1.0)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, self._port))
            site = aiohttp.web.SockSite(runner, sock)
            await site.start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self._port = sock.getsockname()[1]
        self._runner = runner

    async def _stop_listening(self) -> None:
        runner, self._runner = self._runner, None
        if runner is None:
            return
        server = runner.server
        if server is not None:
            for connection in server.connections:
                if connection.transport is not None:
                    connection.transport.abort()
            deadline = asyncio.get_running_loop().time() + 1.0
            while server.connections and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.001)  # aborted connections cancel their handlers
        await runner.cleanup()


def _is_kmock_api_error(exc: BaseException) -> bool:
    return isinstance(exc, kmock.KubernetesError)


def _close_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what is left on a stopped loop, then close it."""
    pending = asyncio.all_tasks(loop)
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.wait(pending))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()


@contextlib.contextmanager
def running_kube_api(**options: Any) -> Iterator[KubeApiServer]:
    """Start a :class:`KubeApiServer` with the given options and stop it afterwards."""
    server = KubeApiServer(**options)
    server.start()
    try:
        yield server
    finally:
        server.stop()
