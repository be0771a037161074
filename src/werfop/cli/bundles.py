"""Reads and writes of the day-2 commands, over ``adapters.kubernetes.KubernetesApi``
(raw JSON; the client's generated models are never loaded).

Role: get and list WerfBundles, merge-patch one, list the core/v1 Events whose
involvedObject is a bundle, and read the served CRD and server version. Errors are the
adapter's (``werfop.core.errors``), with a missing bundle as ``BundleNotFound`` naming
it. Must not: render, wait, or read Secrets or pod logs (a live log tail is not
redacted; ``status.lastJobLogs`` is).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from werfop.adapters.kubernetes import KubernetesApi
from werfop.cli.events import newest
from werfop.core import names
from werfop.core.errors import NotFoundError, TransientError

Obj = dict[str, Any]
CRD_NAME = f"{names.PLURAL}.{names.GROUP}"
MAX_EVENTS = 20


class BundleNotFound(NotFoundError):
    """The named WerfBundle does not exist."""


class Bundles:
    """The day-2 view of the WerfBundles of one cluster."""

    def __init__(self, api: KubernetesApi) -> None:
        self.api = api
        self.server = str(getattr(getattr(api.api, "configuration", None), "host", "") or "")

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        """``KubernetesApi.request``; an unreachable server is named (the adapter's
        message says only which call failed)."""
        try:
            return self.api.request(method, path, **kwargs)
        except TransientError as error:
            raise TransientError(
                f"{error} at {self.server}" if self.server else str(error)
            ) from None

    @staticmethod
    def _path(namespace: str | None, name: str = "") -> str:
        if namespace is None:
            return f"/apis/{names.API_VERSION}/{names.PLURAL}"
        path = f"/apis/{names.API_VERSION}/namespaces/{quote(namespace)}/{names.PLURAL}"
        return f"{path}/{quote(name)}" if name else path

    def get(self, namespace: str, name: str) -> Obj:
        try:
            found = self._request(
                "GET", self._path(namespace, name), what=f"werfbundle {namespace}/{name}"
            )
        except NotFoundError:
            raise BundleNotFound(f"werfbundle {namespace}/{name} not found") from None
        return dict(found)

    def list_bundles(self, namespace: str | None) -> list[Obj]:
        """Bundles of ``namespace`` (every namespace: None), sorted by namespace, name."""
        where = "all namespaces" if namespace is None else f"namespace {namespace}"
        answer = self._request("GET", self._path(namespace), what=f"list werfbundles in {where}")
        items = list(answer.get("items") or [])
        return sorted(items, key=lambda b: (b["metadata"]["namespace"], b["metadata"]["name"]))

    def patch(self, namespace: str, name: str, patch: Obj) -> Obj:
        """A JSON merge patch; the bundle as the server stored it."""
        try:
            changed = self._request(
                "PATCH",
                self._path(namespace, name),
                body=patch,
                content_type="application/merge-patch+json",
                what=f"werfbundle {namespace}/{name}",
            )
        except NotFoundError:
            raise BundleNotFound(f"werfbundle {namespace}/{name} not found") from None
        return dict(changed)

    def events(self, bundle: Obj) -> list[Obj]:
        """The newest Events about ``bundle`` (by its uid), oldest first."""
        meta = bundle["metadata"]
        answer = self._request(
            "GET",
            f"/api/v1/namespaces/{quote(meta['namespace'])}/events",
            query={"fieldSelector": f"involvedObject.uid={meta['uid']}"},
            what=f"Events of werfbundle {meta['namespace']}/{meta['name']}",
        )
        return newest(answer.get("items") or [], MAX_EVENTS)

    def server_version(self) -> str:
        answer = self._request("GET", "/version", what="the API server's version")
        return str(answer.get("gitVersion", "unknown"))

    def crd_versions(self) -> list[str]:
        """The served versions of the WerfBundle CRD, the storage one marked ``*``."""
        crd = self._request(
            "GET",
            f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{CRD_NAME}",
            what=f"CustomResourceDefinition {CRD_NAME}",
        )
        return [
            v["name"] + ("*" if v.get("storage") else "")
            for v in (crd.get("spec") or {}).get("versions") or []
            if v.get("served")
        ]
