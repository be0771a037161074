"""The Kubernetes API over the official ``kubernetes`` client: ``KubernetesApi``.

Role: implement ``ClusterPort`` (plus Leases for leader election) with raw JSON over
the official client's configuration and REST transport (``kubernetes_client.Transport``:
its auth with token refresh, TLS and proxies; neither ``ApiClient`` nor a generated model
is loaded). WerfBundles
and werfop's Jobs are served from caches kept by list-then-watch informers; Secrets,
ConfigMaps, ServiceAccounts and Namespaces are read with direct GETs (no cluster-wide
Secret cache). Every library error is translated into ``werfop.core.errors`` here.
Must not: decide anything, or put a Secret's data in a message or a log line.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlencode

import attrs
import urllib3

from werfop.adapters.kubernetes_client import ApiException, Transport
from werfop.adapters.selectors import matches_selector
from werfop.core import names
from werfop.core.errors import (
    AlreadyExistsError,
    ConflictError,
    NotFoundError,
    TerminalError,
    TransientError,
    WerfopError,
)
from werfop.core.ports import Listener, Obj, WatchEvent

log = logging.getLogger("werfop.kubernetes")

GROUP, VERSION, PLURAL = names.GROUP, names.VERSION, names.PLURAL
REQUEST_TIMEOUT = (5.0, 30.0)  # connect, read (seconds): no call may hang forever
WATCH_SERVER_TIMEOUT = 240  # the API server ends each watch after this many seconds
WATCH_READ_TIMEOUT = 75.0  # silence longer than this on a watch means a stalled stream
RETRY_FIRST, RETRY_MAX = 0.5, 30.0  # an informer's backoff after a failed list or watch
MANAGED_JOBS = f"{names.LABEL_MANAGED_BY}={names.MANAGED_BY}"
WATCH_SELECTOR = f"{names.LABEL_WATCH}=true"
UID_LABEL = names.LABEL_BUNDLE_UID
JOB_FIELDS = ("apiVersion", "kind", "metadata", "status")  # what the Job cache holds
USER_AGENT = "werfop"


class ExpiredError(TransientError):
    """410 Gone: the watch's resourceVersion is too old; list again."""


def translate(status: int, body: bytes | str | None, what: str) -> WerfopError:
    """An HTTP error from the API server as our error vocabulary; the message names the
    object and the server's reason, never request or response bodies beyond ``message``."""
    reason, message = "", ""
    try:
        parsed = json.loads(body or b"{}")
        if isinstance(parsed, dict):
            reason, message = str(parsed.get("reason", "")), str(parsed.get("message", ""))
    except (ValueError, TypeError):
        pass
    text = (
        f"{what}: HTTP {status}"
        + (f" {reason}" if reason else "")
        + (f": {message[:300]}" if message else "")
    )
    if status == 404:
        return NotFoundError(text)
    if status == 409:
        return AlreadyExistsError(text) if reason == "AlreadyExists" else ConflictError(text)
    if status == 410:
        return ExpiredError(text)
    if status == 429 or status >= 500 or status == 0:
        return TransientError(text)
    return TerminalError(text)  # 400, 401, 403, 422: retrying the same call won't help


class KubernetesApi:
    """``ClusterPort`` over one ``Transport`` (or the official ``ApiClient``, which has
    the same ``configuration`` and ``rest_client``); see the module docstring."""

    def __init__(
        self,
        api: Transport,
        *,
        namespaces: list[str] | None = None,
        label_selector: str | None = None,
        request_timeout: tuple[float, float] = REQUEST_TIMEOUT,
        watch_read_timeout: float = WATCH_READ_TIMEOUT,
    ):
        self.api = api
        self.watch_read_timeout = watch_read_timeout
        self.namespaces = namespaces or []
        self.label_selector = label_selector or ""
        self.timeout = request_timeout
        self.bundles = Cache()
        # A pass reads a Job's identity and outcome, never its pod template (most of
        # its ~7 KiB): a thousand bundles keep up to eleven Jobs each.
        self.jobs = Cache(keep=JOB_FIELDS)

    # -- raw requests --------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        what: str = "",
        timeout: Any = None,
    ) -> Any:
        """One API call; the decoded JSON answer, or a translated error."""
        response = self._send(
            method,
            path,
            query=query,
            body=body,
            content_type=content_type,
            what=what,
            timeout=timeout,
        )
        data = response.read()
        if not 200 <= response.status < 300:
            raise translate(response.status, data, what or f"{method} {path}")
        if not data:
            return {}
        try:
            return json.loads(data)
        except ValueError:
            return data.decode("utf-8", errors="replace")

    def _send(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        what: str = "",
        timeout: Any = None,
    ) -> Any:
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if body is not None:
            headers["Content-Type"] = content_type
        params = [(k, v) for k, v in (query or {}).items() if v is not None and v != ""]
        configuration = self.api.configuration
        url = configuration.host + path + (f"?{urlencode(params)}" if params else "")
        try:
            # auth_settings() runs the configuration's refresh hook (exec plugins, expiring
            # and in-cluster tokens), as ApiClient.param_serialize does for BearerToken.
            auth = configuration.auth_settings().get("BearerToken")
            if auth:
                headers[auth["key"]] = auth["value"]
            # The REST client encodes a JSON body itself (json.dumps).
            return self.api.rest_client.request(
                method, url, headers=headers, body=body, _request_timeout=timeout or self.timeout
            )
        except ApiException as error:
            raise translate(error.status or 0, error.body, what or f"{method} {path}") from None
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise TransientError(
                f"{what or method + ' ' + path}: the API server is unreachable "
                f"({type(error).__name__})"
            ) from None

    def _get_or_none(self, path: str, what: str) -> Obj | None:
        try:
            found = self.request("GET", path, what=what)
        except NotFoundError:
            return None
        return found if isinstance(found, dict) else None

    # -- paths ---------------------------------------------------------------------------

    @staticmethod
    def _ns(namespace: str, resource: str, name: str = "", group: str = "") -> str:
        base = f"/apis/{group}" if group else "/api/v1"
        path = f"{base}/namespaces/{quote(namespace)}/{resource}"
        return f"{path}/{quote(name)}" if name else path

    def _bundle_path(self, namespace: str, name: str = "") -> str:
        return self._ns(namespace, PLURAL, name, f"{GROUP}/{VERSION}")

    # -- WerfBundles ---------------------------------------------------------------------

    def bundle_list_paths(self) -> list[str]:
        if not self.namespaces:
            return [f"/apis/{GROUP}/{VERSION}/{PLURAL}"]
        return [self._bundle_path(ns) for ns in self.namespaces]

    def list_bundles(self) -> list[Obj]:
        if self.bundles.synced:
            return self.bundles.values()
        items: list[Obj] = []
        for path in self.bundle_list_paths():
            answer = self.request(
                "GET", path, query={"labelSelector": self.label_selector}, what="list WerfBundles"
            )
            items += answer.get("items", [])
        return items

    def get_bundle(self, namespace: str, name: str) -> Obj:
        cached = self.bundles.get(namespace, name)
        if cached is not None:
            return cached
        found = self.request(
            "GET", self._bundle_path(namespace, name), what=f"WerfBundle {namespace}/{name}"
        )
        self.bundles.put(found)
        return found

    def refresh_bundle(self, namespace: str, name: str) -> None:
        """Re-read one bundle into the cache (after a conflict: the cache was stale)."""
        try:
            found = self.request(
                "GET", self._bundle_path(namespace, name), what=f"WerfBundle {namespace}/{name}"
            )
        except NotFoundError:
            self.bundles.drop(namespace, name)
            return
        self.bundles.put(found, only_if_newer=True)

    def patch_bundle_metadata(
        self, namespace: str, name: str, resource_version: str, finalizers: list[str]
    ) -> Obj:
        patch = {"metadata": {"finalizers": finalizers, "resourceVersion": resource_version}}
        try:
            updated = self.request(
                "PATCH",
                self._bundle_path(namespace, name),
                body=patch,
                content_type="application/merge-patch+json",
                what=f"WerfBundle {namespace}/{name} finalizers",
            )
        except ConflictError:
            self.refresh_bundle(namespace, name)
            raise
        self._remember(updated)
        return updated

    def replace_bundle_status(
        self, namespace: str, name: str, resource_version: str, status: Obj
    ) -> Obj:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "WerfBundle",
            "metadata": {"name": name, "namespace": namespace, "resourceVersion": resource_version},
            "status": status,
        }
        try:
            updated = self.request(
                "PUT",
                self._bundle_path(namespace, name) + "/status",
                body=body,
                what=f"WerfBundle {namespace}/{name} status",
            )
        except ConflictError:
            self.refresh_bundle(namespace, name)
            raise
        self._remember(updated)
        return updated

    def _remember(self, updated: Obj) -> None:
        """Cache a bundle a write returned, unless that write ended its deletion (the
        last finalizer removed): the server has deleted it, the answer is its last
        state, and caching it would keep a bundle that no longer exists."""
        meta = updated.get("metadata") or {}
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            self.bundles.drop(meta.get("namespace", ""), meta.get("name", ""))
            return
        self.bundles.put(updated, only_if_newer=True)

    # -- Jobs ----------------------------------------------------------------------------

    def list_jobs(self, label_selector: str) -> list[Obj]:
        if self.jobs.synced:
            return self.jobs.select(label_selector)
        answer = self.request(
            "GET",
            "/apis/batch/v1/jobs",
            query={"labelSelector": f"{MANAGED_JOBS},{label_selector}"},
            what="list Jobs",
        )
        return list(answer.get("items", []))

    def get_job(self, namespace: str, name: str) -> Obj | None:
        return self._get_or_none(
            self._ns(namespace, "jobs", name, "batch/v1"), f"Job {namespace}/{name}"
        )

    def create_job(self, job: Obj) -> Obj:
        meta = job["metadata"]
        created = self.request(
            "POST",
            self._ns(meta["namespace"], "jobs", group="batch/v1"),
            body=job,
            what=f"Job {meta['namespace']}/{meta['name']}",
        )
        self.jobs.put(created, only_if_newer=True)
        return created

    def delete_job(self, namespace: str, name: str) -> None:
        self.request(
            "DELETE",
            self._ns(namespace, "jobs", name, "batch/v1"),
            body={"propagationPolicy": "Background"},
            what=f"Job {namespace}/{name}",
        )

    # -- Secrets, ConfigMaps, ServiceAccounts, Namespaces -------------------------------

    def get_secret(self, namespace: str, name: str) -> Obj | None:
        return self._get_or_none(self._ns(namespace, "secrets", name), f"Secret {namespace}/{name}")

    def create_secret(self, secret: Obj) -> None:
        meta = secret["metadata"]
        self.request(
            "POST",
            self._ns(meta["namespace"], "secrets"),
            body=secret,
            what=f"Secret {meta['namespace']}/{meta['name']}",
        )

    def get_config_map(self, namespace: str, name: str) -> Obj | None:
        return self._get_or_none(
            self._ns(namespace, "configmaps", name), f"ConfigMap {namespace}/{name}"
        )

    def list_config_maps(self, namespace: str, label_selector: str) -> list[Obj]:
        answer = self.request(
            "GET",
            self._ns(namespace, "configmaps"),
            query={"labelSelector": label_selector},
            what=f"list ConfigMaps in {namespace}",
        )
        return list(answer.get("items", []))

    def apply_config_map(self, config_map: Obj) -> None:
        meta = config_map["metadata"]
        what = f"ConfigMap {meta['namespace']}/{meta['name']}"
        try:
            self.request(
                "POST", self._ns(meta["namespace"], "configmaps"), body=config_map, what=what
            )
            return
        except AlreadyExistsError:
            pass
        current = self.request(
            "GET", self._ns(meta["namespace"], "configmaps", meta["name"]), what=what
        )
        replacement = {
            **config_map,
            "metadata": {**meta, "resourceVersion": current["metadata"]["resourceVersion"]},
        }
        self.request(
            "PUT",
            self._ns(meta["namespace"], "configmaps", meta["name"]),
            body=replacement,
            what=what,
        )

    def delete_config_map(self, namespace: str, name: str) -> None:
        self.request(
            "DELETE", self._ns(namespace, "configmaps", name), what=f"ConfigMap {namespace}/{name}"
        )

    def get_service_account(self, namespace: str, name: str) -> Obj | None:
        return self._get_or_none(
            self._ns(namespace, "serviceaccounts", name), f"ServiceAccount {namespace}/{name}"
        )

    def get_namespace(self, name: str) -> Obj | None:
        return self._get_or_none(f"/api/v1/namespaces/{quote(name)}", f"Namespace {name}")

    def create_event(self, event: Obj) -> None:
        meta = event["metadata"]
        try:
            self.request(
                "POST",
                self._ns(meta["namespace"], "events"),
                body=event,
                what=f"Event on {meta['namespace']}/{event['involvedObject']['name']}",
            )
        except AlreadyExistsError:
            pass

    def _job_pods(self, namespace: str, job_name: str) -> list[Obj]:
        pods = self.request(
            "GET",
            self._ns(namespace, "pods"),
            query={"labelSelector": f"batch.kubernetes.io/job-name={job_name}"},
            what=f"pods of Job {namespace}/{job_name}",
        )
        return sorted(
            pods.get("items", []), key=lambda p: p.get("metadata", {}).get("creationTimestamp", "")
        )

    def read_job_exit_code(self, namespace: str, job_name: str) -> int | None:
        """The werf container's exit code in the Job's newest pod, once it ended."""
        for pod in reversed(self._job_pods(namespace, job_name)):
            for state in (pod.get("status") or {}).get("containerStatuses") or []:
                if state.get("name") == "werf":
                    terminated = (state.get("state") or {}).get("terminated") or {}
                    code = terminated.get("exitCode")
                    return int(code) if isinstance(code, int) else None
        return None

    def read_job_log(self, namespace: str, job_name: str, tail_lines: int) -> str | None:
        pods = self.request(
            "GET",
            self._ns(namespace, "pods"),
            query={"labelSelector": f"batch.kubernetes.io/job-name={job_name}"},
            what=f"pods of Job {namespace}/{job_name}",
        )
        items = sorted(
            pods.get("items", []), key=lambda p: p.get("metadata", {}).get("creationTimestamp", "")
        )
        if not items:
            return None
        pod = items[-1]["metadata"]["name"]
        try:
            text = self.request(
                "GET",
                self._ns(namespace, "pods", pod) + "/log",
                query={"container": "werf", "tailLines": tail_lines},
                what=f"log of pod {namespace}/{pod}",
            )
        except NotFoundError:
            return None
        return text if isinstance(text, str) else json.dumps(text)

    # -- Leases ----------------------------------------------------------------------------

    def get_lease(self, namespace: str, name: str) -> Obj | None:
        return self._get_or_none(
            self._ns(namespace, "leases", name, "coordination.k8s.io/v1"),
            f"Lease {namespace}/{name}",
        )

    def create_lease(self, lease: Obj) -> Obj:
        meta = lease["metadata"]
        return self.request(
            "POST",
            self._ns(meta["namespace"], "leases", group="coordination.k8s.io/v1"),
            body=lease,
            what=f"Lease {meta['namespace']}/{meta['name']}",
        )

    def replace_lease(self, lease: Obj) -> Obj:
        meta = lease["metadata"]
        return self.request(
            "PUT",
            self._ns(meta["namespace"], "leases", meta["name"], "coordination.k8s.io/v1"),
            body=lease,
            what=f"Lease {meta['namespace']}/{meta['name']}",
        )

    # -- watches -------------------------------------------------------------------------

    def watch(self, listener: Listener, *, secrets: bool = False) -> InformerWatch:
        """The port's watch: the informers below, each in a thread of its own."""
        stop = threading.Event()
        informers = self.informers(listener, stop, watch_secrets=secrets)
        threads = [
            threading.Thread(target=i.run, name=f"informer-{i.kind}", daemon=True)
            for i in informers
        ]
        for thread in threads:
            thread.start()
        return InformerWatch(informers=informers, threads=threads, stopping=stop)

    def informers(
        self, listener: Listener, stop: threading.Event, *, watch_secrets: bool = False
    ) -> list[Informer]:
        """Informers for WerfBundles (per namespace, or all) and werfop's Jobs (all
        namespaces: a Job runs in its target namespace), and for the ConfigMaps (and,
        when asked, Secrets) labelled ``werf.io/watch=true``: those only wake their
        bundles; their data is dropped at once and never cached."""
        out = []
        watched = [("ConfigMap", "configmaps")] + ([("Secret", "secrets")] if watch_secrets else [])
        for kind, plural in watched:
            out.append(
                Informer(
                    self,
                    kind,
                    f"/api/v1/{plural}",
                    WATCH_SELECTOR,
                    Cache(),
                    listener,
                    stop,
                    strip_data=True,
                )
            )
        for path in self.bundle_list_paths():
            out.append(
                Informer(
                    self, "WerfBundle", path, self.label_selector, self.bundles, listener, stop
                )
            )
        out.append(
            Informer(self, "Job", "/apis/batch/v1/jobs", MANAGED_JOBS, self.jobs, listener, stop)
        )
        return out

    def stream(self, path: str, query: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """The events of one watch request, until the server ends it or it stalls."""
        response = self._send(
            "GET",
            path,
            query=query,
            what=f"watch {path}",
            timeout=(self.timeout[0], self.watch_read_timeout),
        )
        if not 200 <= response.status < 300:
            raise translate(response.status, response.read(), f"watch {path}")
        raw = response.response
        try:
            buffer = b""
            for chunk in raw.stream(4096, decode_content=True):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        yield json.loads(line)
        except urllib3.exceptions.ReadTimeoutError:
            # Silence: nothing changed, or the stream stalled. Either way the informer
            # reconnects from its last resourceVersion at once; it is not a failure.
            return
        except (urllib3.exceptions.HTTPError, OSError) as error:
            if isinstance(getattr(error, "__context__", None), TimeoutError):
                return
            raise TransientError(f"watch {path}: {type(error).__name__}") from None
        except ValueError:
            raise TransientError(f"watch {path}: a malformed event") from None
        finally:
            raw.release_conn()


class Cache:
    """Objects by (namespace, name), as the informers last saw them. Thread-safe.

    ``keep`` names the top-level fields worth holding (all when None);
    ``metadata.managedFields`` is never held: nothing here reads it, and it is often
    the largest part of an object.
    """

    def __init__(self, keep: tuple[str, ...] | None = None) -> None:
        self._keep = keep
        self._lock = threading.Lock()
        self._objects: dict[tuple[str, str], Obj] = {}
        self._by_uid: dict[str, set[tuple[str, str]]] = {}  # werf.io/bundle-uid -> keys
        self.synced = False

    @staticmethod
    def _uid(obj: Obj) -> str | None:
        return ((obj.get("metadata") or {}).get("labels") or {}).get(UID_LABEL)

    def _index(self, key: tuple[str, str], obj: Obj | None, add: bool) -> None:
        uid = self._uid(obj) if obj is not None else None
        if uid is None:
            return
        if add:
            self._by_uid.setdefault(uid, set()).add(key)
        else:
            self._by_uid.get(uid, set()).discard(key)

    def get(self, namespace: str, name: str) -> Obj | None:
        with self._lock:
            found = self._objects.get((namespace, name))
            return json.loads(json.dumps(found)) if found is not None else None

    def values(self) -> list[Obj]:
        with self._lock:
            return [json.loads(json.dumps(o)) for _, o in sorted(self._objects.items())]

    def select(self, selector: str) -> list[Obj]:
        """Objects matching ``selector``; a ``werf.io/bundle-uid=...`` term uses the index
        (a bundle's pass must not scan every Job of every bundle)."""
        uid = next(
            (t.split("=", 1)[1] for t in selector.split(",") if t.startswith(UID_LABEL + "=")),
            None,
        )
        with self._lock:
            keys = sorted(self._by_uid.get(uid, set())) if uid else sorted(self._objects)
            found = [self._objects[k] for k in keys if k in self._objects]
            return [
                json.loads(json.dumps(o))
                for o in found
                if matches_selector(o.get("metadata", {}).get("labels") or {}, selector)
            ]

    def _slim(self, obj: Obj) -> Obj:
        meta = obj.get("metadata")
        managed = meta if isinstance(meta, dict) and "managedFields" in meta else None
        if self._keep is None and managed is None:
            return obj
        slim = {k: v for k, v in obj.items() if self._keep is None or k in self._keep}
        if managed is not None:
            slim["metadata"] = {k: v for k, v in managed.items() if k != "managedFields"}
        return slim

    def put(self, obj: Obj, *, only_if_newer: bool = False) -> None:
        obj = self._slim(obj)
        meta = obj.get("metadata", {})
        key = (meta.get("namespace", ""), meta.get("name", ""))
        with self._lock:
            current = self._objects.get(key)
            if only_if_newer and current is not None and _older(meta, current["metadata"]):
                return
            self._index(key, current, add=False)
            self._objects[key] = obj
            self._index(key, obj, add=True)

    def drop(self, namespace: str, name: str) -> None:
        with self._lock:
            self._index((namespace, name), self._objects.pop((namespace, name), None), add=False)

    def replace(self, objects: list[Obj]) -> tuple[list[Obj], list[Obj]]:
        """Swap in a fresh list; returns (present, removed) for synthetic events."""
        fresh = {
            (o["metadata"].get("namespace", ""), o["metadata"]["name"]): self._slim(o)
            for o in objects
        }
        with self._lock:
            removed = [o for k, o in self._objects.items() if k not in fresh]
            self._objects = fresh
            self._by_uid = {}
            for key, obj in fresh.items():
                self._index(key, obj, add=True)
            self.synced = True
        return list(fresh.values()), removed

    def __len__(self) -> int:
        with self._lock:
            return len(self._objects)


def _older(new: dict[str, Any], current: dict[str, Any]) -> bool:
    try:
        return int(new.get("resourceVersion", 0)) < int(current.get("resourceVersion", 0))
    except (TypeError, ValueError):
        return False  # resourceVersions are opaque in general; trust the newest write


@attrs.define(eq=False)
class InformerWatch:
    """Running informers (``KubernetesApi.watch``)."""

    informers: list[Informer]
    threads: list[threading.Thread]
    stopping: threading.Event

    def synced(self) -> bool:
        return all(i.synced.is_set() for i in self.informers)

    def alive(self) -> bool:
        return all(t.is_alive() for t in self.threads)

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=timeout)


class Informer:
    """List, then watch from the list's resourceVersion; relist on 410 Gone; reconnect
    with backoff when the API server is away. Feeds a cache and a listener."""

    def __init__(
        self,
        api: KubernetesApi,
        kind: str,
        path: str,
        selector: str,
        cache: Cache,
        listener: Listener,
        stop: threading.Event,
        *,
        strip_data: bool = False,
    ):
        self.api = api
        self.strip_data = strip_data
        self.kind = kind
        self.path = path
        self.selector = selector
        self.cache = cache
        self.listener = listener
        self.stop = stop
        self.resource_version = ""
        self.synced = threading.Event()
        self.relists = 0
        self.reconnects = 0

    def run(self) -> None:
        delay = RETRY_FIRST
        while not self.stop.is_set():
            try:
                if not self.resource_version:
                    self._list()
                self._watch()
                delay = RETRY_FIRST
            except ExpiredError:
                # The server no longer has the history since our resourceVersion (etcd
                # compacted it, or a restarted API server's watch cache starts later).
                log.info("watch expired: listing again", extra={"kind": self.kind})
                self.resource_version = ""  # relist at once
            except TransientError as error:
                self.reconnects += 1
                log.warning("watch interrupted", extra={"kind": self.kind, "error": str(error)})
                self.stop.wait(delay)
                delay = min(delay * 2, RETRY_MAX)
            except WerfopError as error:
                # 403 and friends: list again from scratch, with the same backoff. Not a
                # fixed long wait: a restarting API server refuses with 403 until its
                # RBAC caches are filled, and the operator must not stay blind for long
                # after it; a lasting refusal still ends up tried every RETRY_MAX.
                log.error("watch failed", extra={"kind": self.kind, "error": str(error)})
                self.resource_version = ""
                self.stop.wait(delay)
                delay = min(delay * 2, RETRY_MAX)

    def _list(self) -> None:
        answer = self.api.request(
            "GET", self.path, query={"labelSelector": self.selector}, what=f"list {self.kind}"
        )
        items = answer.get("items", [])
        for item in items:
            item.setdefault("kind", self.kind)
            if self.strip_data:
                _strip(item)
        present, removed = self.cache.replace(items)
        self.resource_version = answer.get("metadata", {}).get("resourceVersion", "")
        self.relists += 1
        self.synced.set()
        for obj in present:
            self.listener(self.kind, WatchEvent(type="MODIFIED", object=obj))
        for obj in removed:
            self.listener(self.kind, WatchEvent(type="DELETED", object=obj))

    def _watch(self) -> None:
        query = {
            "watch": "true",
            "labelSelector": self.selector,
            "resourceVersion": self.resource_version,
            "timeoutSeconds": WATCH_SERVER_TIMEOUT,
            "allowWatchBookmarks": "true",
        }
        for event in self.api.stream(self.path, query):
            if self.stop.is_set():
                return
            kind = event.get("type")
            obj = event.get("object") or {}
            if kind == "ERROR":
                if obj.get("code") == 410:
                    raise ExpiredError(f"watch {self.kind}: {obj.get('message', 'expired')}")
                raise TransientError(f"watch {self.kind}: {obj.get('message', 'error')}")
            version = (obj.get("metadata") or {}).get("resourceVersion")
            if version:
                self.resource_version = version
            if kind == "BOOKMARK":
                continue
            if self.strip_data:
                _strip(obj)
            meta = obj.get("metadata") or {}
            if kind == "DELETED":
                self.cache.drop(meta.get("namespace", ""), meta.get("name", ""))
            else:
                self.cache.put(obj)
            if kind in ("ADDED", "MODIFIED", "DELETED"):
                self.listener(self.kind, WatchEvent(type=kind, object=obj))


def _strip(obj: Obj) -> None:
    """Drop an object's payload: a watched Secret's data must never sit in memory."""
    for field in ("data", "stringData", "binaryData"):
        obj.pop(field, None)


def every(interval: timedelta, stop: threading.Event, action: Callable[[], None]) -> None:
    """Run ``action`` every ``interval`` until ``stop``; errors are logged, not fatal."""
    while not stop.wait(interval.total_seconds()):
        try:
            action()
        except WerfopError as error:
            log.warning("periodic task failed", extra={"error": str(error)})
