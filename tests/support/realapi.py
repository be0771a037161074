"""The real API server behind the same small facade as the API test server's direct
access (``get``, ``list``, ``create``, ``mutate``, ``delete``), over real HTTP with a
bearer token, so the operator helpers in ``support.operator`` work on both.

Role: resource names to API paths (one table), JSON in and out, a conflict-retrying
``mutate`` (read, change, PUT with the resourceVersion read).
Must not: swallow an error other than 404 on reads, or retry anything but a 409.
Neighbours: ``support.controlplane`` (where the server is), ``kubeapi.server`` (the twin).
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any

import httpx

Obj = dict[str, Any]

PATHS = {  # resource -> (API prefix, namespaced)
    "werfbundles": ("/apis/werf.io/v1alpha1", True),
    "jobs": ("/apis/batch/v1", True),
    "leases": ("/apis/coordination.k8s.io/v1", True),
    "pods": ("/api/v1", True),
    "secrets": ("/api/v1", True),
    "configmaps": ("/api/v1", True),
    "events": ("/api/v1", True),
    "serviceaccounts": ("/api/v1", True),
    "services": ("/api/v1", True),
    "namespaces": ("/api/v1", False),
}


class RealApi:
    """Direct access to a real kube-apiserver (see the module docstring)."""

    def __init__(self, server: str, token: str, ca_pem: str) -> None:
        context = ssl.create_default_context()
        context.load_verify_locations(cadata=ca_pem)
        self.http = httpx.Client(
            base_url=server,
            headers={"Authorization": f"Bearer {token}"},
            verify=context,
            timeout=30,
            trust_env=False,
        )

    def close(self) -> None:
        self.http.close()

    def path(self, resource: str, namespace: str | None, name: str | None = None) -> str:
        prefix, namespaced = PATHS[resource]
        path = prefix
        if namespaced and namespace:
            path += f"/namespaces/{namespace}"
        path += f"/{resource}"
        return f"{path}/{name}" if name else path

    def get(self, resource: str, namespace: str | None, name: str) -> Obj | None:
        response = self.http.get(self.path(resource, namespace, name))
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()

    def list(self, resource: str, namespace: str | None = None, **query: str) -> list[Obj]:
        response = self.http.get(self.path(resource, namespace), params=query)
        response.raise_for_status()
        return list(response.json().get("items") or [])

    def create(self, resource: str, obj: Obj) -> Obj:
        namespace = (obj.get("metadata") or {}).get("namespace")
        response = self.http.post(self.path(resource, namespace), json=obj)
        if response.is_error:
            raise httpx.HTTPStatusError(
                f"{response.status_code}: {response.text}",
                request=response.request,
                response=response,
            )
        return response.json()

    def mutate(
        self, resource: str, namespace: str | None, name: str, change: Callable[[Obj], Obj | None]
    ) -> Obj:
        """Read, change, replace; again on a 409 (someone wrote in between)."""
        for _ in range(20):
            current = self.get(resource, namespace, name)
            if current is None:
                raise LookupError(f"{resource} {namespace}/{name} not found")
            changed = change(current) or current
            response = self.http.put(self.path(resource, namespace, name), json=changed)
            if response.status_code != 409:
                response.raise_for_status()
                return response.json()
        raise AssertionError(f"{resource} {namespace}/{name}: conflicts did not stop")

    def delete(
        self, resource: str, namespace: str | None, name: str, propagation: str = "Background"
    ) -> Obj | None:
        response = self.http.request(
            "DELETE",
            self.path(resource, namespace, name),
            json={"propagationPolicy": propagation},
        )
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()
