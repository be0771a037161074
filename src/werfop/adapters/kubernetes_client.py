"""The official ``kubernetes`` client's configuration, auth and REST transport, loaded
without the rest of the package: ``Transport``, ``Configuration``, ``config``,
``ApiException``.

Role: ``adapters.kubernetes.KubernetesApi`` speaks raw JSON. Of the official client it
needs ``kubernetes.config`` (kubeconfig contexts, in-cluster config, exec plugins, token
refresh, client certificates, proxies) and ``kubernetes.client.rest`` (urllib3 with that
TLS), never the generated API classes, the models or ``ApiClient`` (which imports
pydantic). Imported the ordinary way, ``kubernetes.config`` first runs
``kubernetes/__init__.py``, which imports every subpackage (dynamic, stream, watch,
informer, leaderelection, utils: websocket, jsonschema...), and ``ApiClient``:
+20 MiB of RSS on top of the rest of ``werfop run``; loaded here, +7 MiB
(docs/benchmarks.md, figure 4).

How: before those submodules are imported, ``kubernetes`` and ``kubernetes.client`` are
registered as *deferred packages*: the real package module (its spec and ``__path__``,
so its submodules import as usual) whose ``__init__.py`` has not run yet. The first
attribute asked of it that it does not have runs that ``__init__.py`` (once, under a
lock), so code that uses the whole package (``kubernetes.client.CoreV1Api``,
``kubernetes.watch``) gets exactly what it would have got, later. ``kube_config`` binds
``ApiClient`` at import and only ever calls it (``new_client_from_config``, the OIDC
refresh): while it is imported, ``kubernetes.client.ApiClient`` is a function that
imports the real class at its first call. When ``kubernetes`` is already imported,
nothing is deferred.
Must not: change what the library does. ``tests/unit/test_kubernetes_client.py`` pins it
in a fresh interpreter: which modules load; a token, a client-certificate and an
exec-plugin user still authenticate; the whole package still works afterwards.
Neighbours: ``adapters.kubernetes`` speaks over a ``Transport``; ``werfop.kubeconfig``
chooses the configuration.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from typing import Any

import attrs

_RUN_LOCK = threading.RLock()


def _defer(name: str, known: dict[str, str]) -> bool:
    """Register package ``name`` without running its ``__init__.py``; ``known`` maps a
    name the ``__init__`` would bind to the submodule defining it (imported alone).
    False when it was imported already (or is no package): nothing is deferred."""
    if name in sys.modules:
        return False
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return False  # not a package (or absent): the ordinary import reports it
    module = importlib.util.module_from_spec(spec)
    state = {"ran": False, "running": False}

    def __getattr__(attr: str) -> Any:
        if attr in known:
            value = getattr(importlib.import_module(known[attr]), attr)
            setattr(module, attr, value)  # the object the __init__ would bind
            return value
        with _RUN_LOCK:
            if state["running"]:  # the __init__ itself probing (hasattr in a from-import)
                raise AttributeError(f"module {name!r} has no attribute {attr!r}")
            if not state["ran"]:
                state["running"] = True
                try:
                    spec.loader.exec_module(module)  # type: ignore[union-attr]
                finally:
                    state["running"] = False
                state["ran"] = True
        namespace = vars(module)
        if attr in namespace:
            return namespace[attr]
        own = namespace.get("__getattr__")
        if own is not None and own is not __getattr__:
            return own(attr)  # the package's own lazy names (kubernetes>=37's client)
        raise AttributeError(f"module {name!r} has no attribute {attr!r}")

    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    sys.modules[name] = module
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, module)
    return True


def _api_client(*args: Any, **kwargs: Any) -> Any:
    """What ``kube_config`` calls ``ApiClient``: the real one, imported when first used."""
    from kubernetes.client.api_client import ApiClient

    return ApiClient(*args, **kwargs)


def _load() -> None:
    _defer("kubernetes", {})
    if not _defer("kubernetes.client", {"Configuration": "kubernetes.client.configuration"}):
        return  # imported already: kube_config gets (or got) the real ApiClient
    client = sys.modules["kubernetes.client"]
    client.ApiClient = _api_client  # type: ignore[attr-defined]
    try:
        importlib.import_module("kubernetes.config.kube_config")
    finally:
        if vars(client).get("ApiClient") is _api_client:
            del client.ApiClient  # from now on, the real class (kubernetes.client.api_client)


_load()

from kubernetes import config  # noqa: E402  (after _load: the point of this module)
from kubernetes.client import rest  # noqa: E402
from kubernetes.client.configuration import Configuration  # noqa: E402
from kubernetes.client.exceptions import ApiException  # noqa: E402


@attrs.frozen(kw_only=True)
class Transport:
    """A ``Configuration`` (host, auth with its refresh hook, TLS) and the REST client
    built from it: what ``KubernetesApi`` sends its requests over. The official
    ``ApiClient`` has the same two attributes, so it may stand in for one."""

    configuration: Any  # kubernetes.client.configuration.Configuration
    rest_client: Any  # kubernetes.client.rest.RESTClientObject

    @classmethod
    def of(cls, configuration: Configuration) -> Transport:
        return cls(configuration=configuration, rest_client=rest.RESTClientObject(configuration))


__all__ = ["ApiException", "Configuration", "Transport", "config", "rest"]
