"""Small helpers shared by the test-server tests: object bodies and error decoding."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

import kubernetes

GROUP, VERSION, PLURAL = "werf.io", "v1alpha1", "werfbundles"
NAMESPACE = "default"


def status_of(exc: kubernetes.client.ApiException) -> dict[str, Any]:
    """The Kubernetes Status object in an ApiException's body."""
    return json.loads(exc.body)


def bundle(name: str, spec: dict[str, Any] | None = None, **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "WerfBundle",
        "metadata": {"name": name, **metadata},
        "spec": spec or {"chart": "app"},
    }


def create_bundle(
    custom: kubernetes.client.CustomObjectsApi,
    name: str,
    spec: dict[str, Any] | None = None,
    **metadata: Any,
) -> dict[str, Any]:
    return custom.create_namespaced_custom_object(
        GROUP, VERSION, NAMESPACE, PLURAL, bundle(name, spec, **metadata)
    )


def job(name: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "werf", "image": "werf:latest"}],
                }
            }
        },
    }


class EventCollector:
    """Runs a kubernetes.watch.Watch stream in a thread and queues its events."""

    def __init__(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.watch = kubernetes.watch.Watch()
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(func, args, kwargs), name="kubeapi-test-watch", daemon=True
        )
        self._thread.start()

    def _run(self, func: Callable[..., Any], args: Any, kwargs: Any) -> None:
        try:
            for event in self.watch.stream(func, *args, **kwargs):
                self.events.put(event)
        except BaseException as exc:  # reported to the test through .error
            self.error = exc

    def next(self, timeout: float = 5.0) -> dict[str, Any]:
        return self.events.get(timeout=timeout)

    def stop(self) -> None:
        self.watch.stop()

    def join(self, timeout: float = 10.0) -> None:
        self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def __enter__(self) -> EventCollector:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()
        self.join()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        while not self.events.empty():
            yield self.events.get_nowait()
