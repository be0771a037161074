"""The HTTP layer of the test server: a kmock request handler that serves the :class:`Store`.

It subclasses kmock's ``KubernetesScaffold``: kmock keeps serving the discovery documents it
knows (``/api``, ``/apis``, ``/apis/<group>``, ``/version``), renders unexpected errors, and
keeps its own request list for kmock-style assertions. Resource URLs are routed here, because
kmock 0.8's ``KubernetesEmulator`` cannot parse ``/api/v1/namespaces[/<name>]``, routes neither
PUT nor ``watch=1``, and has no resource versions, selectors, status isolation or watch resume.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import dataclasses
import datetime
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp.web
import attrs
import kmock
from typing_extensions import override

from kubeapi import errors, selectors
from kubeapi.faults import Faults
from kubeapi.requestlog import RequestLog, RequestRecord
from kubeapi.resources import ALL_VERBS, SUBRESOURCE_VERBS, ResourceRegistry, ResourceType
from kubeapi.store import Expired, Obj, Store, StoredEvent

logger = logging.getLogger(__name__)
Matcher = Callable[[Mapping[str, Any]], bool]
TRUE_VALUES = ("true", "1", "True")
KMOCK_ACTIONS = {
    "get": kmock.action.FETCH,
    "list": kmock.action.LIST,
    "watch": kmock.action.WATCH,
    "create": kmock.action.CREATE,
    "update": kmock.action.UPDATE,
    "patch": kmock.action.UPDATE,
    "delete": kmock.action.DELETE,
}


@dataclasses.dataclass(frozen=True)
class ApiPath:
    """A resource URL split into its parts."""

    group: str
    version: str
    plural: str
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None


def parse_api_path(path: str, registry: ResourceRegistry) -> ApiPath | None:
    """Split ``/api(s)/.../<plural>[/<name>[/<sub>]]``; None for discovery and other URLs."""
    parts = [part for part in path.split("/") if part]
    if len(parts) >= 3 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 4 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3 and registry.lookup(group, version, rest[2]):
        namespace, rest = rest[1], rest[2:]
    name = rest[1] if len(rest) > 1 else None
    subresource = "/".join(rest[2:]) or None
    return ApiPath(group, version, rest[0], namespace, name, subresource)


def rbac_verb(method: str, path: ApiPath | None, query: Mapping[str, str]) -> str:
    has_name = path is not None and path.name is not None
    if method == "GET":
        if query.get("watch") in TRUE_VALUES:
            return "watch"
        return "get" if has_name or path is None else "list"
    verbs = {
        "POST": "create",
        "PUT": "update",
        "PATCH": "patch",
        "DELETE": "delete" if has_name else "deletecollection",
    }
    return verbs.get(method, method.lower())


def json_response(body: Any, status: int = 200) -> aiohttp.web.Response:
    return aiohttp.web.json_response(body, status=status)


def status_response(error: errors.ApiError) -> aiohttp.web.Response:
    response = json_response(error.status(), status=error.code)
    response.headers.update(error.headers)
    return response


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body or b"null")
    except ValueError as exc:
        raise errors.bad_request(f"the request body is not valid JSON: {exc}") from exc


def watch_event(kind: str, obj: Obj) -> bytes:
    return json.dumps({"type": kind, "object": obj}).encode() + b"\n"


def translate(event: StoredEvent, matches: Matcher) -> tuple[str, Obj] | None:
    """What a filtered watch sees of a change: objects leaving the filter are DELETED for it."""
    now = matches(event.obj)
    before = event.prev is not None and matches(event.prev)
    if event.type == "DELETED":
        return ("DELETED", event.obj) if now or before else None
    if now:
        return ("MODIFIED" if before else "ADDED"), event.obj
    return ("DELETED", event.obj) if before else None


@attrs.define(kw_only=True)
class KubeApiHandler(kmock.KubernetesScaffold):
    """Serves resource URLs from a :class:`Store`, and the rest through kmock."""

    store: Store
    faults: Faults
    log: RequestLog
    token: str | None = None
    bookmark_interval: float | None = None
    default_watch_timeout: float = 1800.0
    unexpected_errors: list[BaseException] = attrs.field(factory=list, init=False)
    _wakeups: set[asyncio.Event] = attrs.field(factory=set, init=False)
    _loop: asyncio.AbstractEventLoop | None = attrs.field(default=None, init=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        for rt in self.store.registry:
            self.resources[kmock.resource(rt.group, rt.version, rt.plural)] = kmock.ResourceInfo(
                kind=rt.kind,
                namespaced=rt.namespaced,
                singular=rt.singular,
                verbs=ALL_VERBS,
                shortnames=rt.short_names,
                subresources=rt.subresources,
            )

    # ----- lifecycle and wake-ups of watch streams -------------------------------------------

    @override
    async def __aenter__(self) -> KubeApiHandler:
        await super().__aenter__()
        self._loop = asyncio.get_running_loop()
        self.store.add_listener(self._on_store_event)
        self.faults.on_change(self._wake_threadsafe)
        return self

    @override
    async def __aexit__(self, *exc_info: Any) -> None:
        self.store.remove_listener(self._on_store_event)
        await super().__aexit__(*exc_info)
        self._loop = None

    def _on_store_event(self, rt: ResourceType, event: StoredEvent) -> None:
        self._wake_threadsafe()

    def _wake_threadsafe(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop is shutting down
                loop.call_soon_threadsafe(self._wake_all)

    def _wake_all(self) -> None:
        for wakeup in self._wakeups:
            wakeup.set()

    # ----- entry point -----------------------------------------------------------------------

    @override
    async def __call__(self, raw: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        body = await raw.read()
        path = parse_api_path(raw.path, self.store.registry)
        record = RequestRecord(
            method=raw.method,
            path=raw.path,
            query=dict(raw.query),
            verb=rbac_verb(raw.method, path, raw.query),
            group=path.group if path else None,
            version=path.version if path else None,
            resource=path.plural if path else None,
            subresource=path.subresource if path else None,
            namespace=path.namespace if path else None,
            name=path.name if path else None,
            content_type=raw.headers.get("Content-Type"),
        )
        self.log.append(record)
        try:
            response = await self._respond(raw, path, record, body)
        except errors.ApiError as exc:
            response = status_response(exc)
        except Exception as exc:
            logger.exception("the Kubernetes API test server failed on %s %s", raw.method, raw.path)
            self.unexpected_errors.append(exc)
            response = status_response(errors.ApiError(500, "InternalError", repr(exc)))
        record.status = response.status
        return response

    async def _respond(
        self, raw: aiohttp.web.BaseRequest, path: ApiPath | None, record: RequestRecord, body: bytes
    ) -> aiohttp.web.StreamResponse:
        if self.token is not None and raw.headers.get("Authorization") != f"Bearer {self.token}":
            raise errors.unauthorized()
        if path is None:  # discovery and anything else: kmock serves it
            if raw.path != "/" and raw.path.endswith("/"):  # the client asks for /apis/ too
                raw = raw.clone(rel_url=raw.rel_url.with_path(raw.path.rstrip("/")))
            return await super().__call__(raw)
        rt = self.store.registry.lookup(path.group, path.version, path.plural)
        rule = self.faults.take_failure(record)
        if rule is not None:
            record.injected = True
            raise errors.injected(rule.status, rt, path.name, rule.reason, rule.message)
        if rt is None:
            raise errors.resource_not_found()
        data = parse_json(body) if body else None
        self._requests.append(
            kmock.Request(
                id=len(self._requests),
                raw_request=raw,
                url=raw.url,
                method=raw.method,
                params=dict(raw.query),
                headers=dict(raw.headers),
                body=body,
                text=body.decode(errors="replace"),
                data=data,
                action=KMOCK_ACTIONS.get(record.verb),
                resource=kmock.resource(path.group, path.version, path.plural),
                namespace=path.namespace,
                name=path.name,
                subresource=path.subresource,
            )
        )
        return await self._serve(raw, rt, path, record, data)

    # ----- resource verbs --------------------------------------------------------------------

    async def _serve(
        self,
        raw: aiohttp.web.BaseRequest,
        rt: ResourceType,
        path: ApiPath,
        record: RequestRecord,
        data: Any,
    ) -> aiohttp.web.StreamResponse:
        self._check_scope(rt, path, record.verb)
        query = raw.query
        namespace, name, sub = path.namespace, path.name, path.subresource
        if sub == "log":
            return self._serve_log(rt, path, query)
        match record.verb:
            case "get":
                obj = self.store.get(rt, namespace, name or "")
                if "as=Table" in raw.headers.get("Accept", ""):
                    return json_response(_as_table([obj], self.store.resource_version))
                return json_response(obj)
            case "list":
                return self._serve_list(rt, path, query, raw.headers.get("Accept", ""))
            case "watch":
                return await self._serve_watch(raw, rt, path, record)
            case "create":
                return json_response(self.store.create(rt, namespace, data), status=201)
            case "update":
                return json_response(
                    self.store.update(rt, namespace, name or "", data, subresource=sub)
                )
            case "patch":
                return json_response(
                    self.store.patch(
                        rt, namespace, name or "", raw.content_type, data, subresource=sub
                    )
                )
            case "delete":
                return self._serve_delete(rt, path, query, data)
            case "deletecollection":
                matches = self._matcher(rt, path, query)
                items = self.store.delete_collection(rt, namespace, matches)
                return json_response(self._list_body(rt, items, self.store.resource_version))
        raise errors.method_not_allowed()

    def _check_scope(self, rt: ResourceType, path: ApiPath, verb: str) -> None:
        if path.subresource is not None:
            allowed = SUBRESOURCE_VERBS.get(path.subresource, ())
            if path.subresource not in rt.subresources or path.name is None:
                raise errors.resource_not_found()
            if verb not in allowed:
                raise errors.method_not_allowed()
        if not rt.namespaced and path.namespace is not None:
            raise errors.resource_not_found()
        if rt.namespaced and path.namespace is None and path.name is not None:
            raise errors.resource_not_found()
        if verb == "create" and (path.name is not None or (rt.namespaced and not path.namespace)):
            raise errors.method_not_allowed()

    def _serve_delete(
        self, rt: ResourceType, path: ApiPath, query: Mapping[str, str], options: Any
    ) -> aiohttp.web.Response:
        options = options if isinstance(options, dict) else {}
        policy = options.get("propagationPolicy") or query.get("propagationPolicy")
        obj, gone = self.store.delete(
            rt,
            path.namespace,
            path.name or "",
            propagation=policy,
            preconditions=options.get("preconditions"),
        )
        if gone and not rt.return_deleted_object:
            details = errors.object_details(rt, path.name)
            details["uid"] = obj["metadata"]["uid"]
            return json_response(
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "details": details,
                }
            )
        return json_response(obj)

    def _matcher(self, rt: ResourceType, path: ApiPath, query: Mapping[str, str]) -> Matcher:
        by_labels = selectors.label_matcher(query.get("labelSelector"))
        by_fields = selectors.field_matcher(query.get("fieldSelector"), rt.field_selectors)

        def matches(obj: Mapping[str, Any]) -> bool:
            meta = obj.get("metadata") or {}
            return (
                (path.namespace is None or meta.get("namespace") == path.namespace)
                and (path.name is None or meta.get("name") == path.name)
                and by_labels(obj)
                and by_fields(obj)
            )

        return matches

    def _list_body(self, rt: ResourceType, items: list[Obj], rv: int) -> dict[str, Any]:
        if not rt.custom:  # built-in lists carry no kind/apiVersion in their items
            items = [
                {k: v for k, v in item.items() if k not in ("kind", "apiVersion")} for item in items
            ]
        return {
            "kind": rt.list_kind,
            "apiVersion": rt.api_version,
            "metadata": {"resourceVersion": str(rv)},
            "items": items,
        }

    def _serve_list(
        self, rt: ResourceType, path: ApiPath, query: Mapping[str, str], accept: str
    ) -> aiohttp.web.Response:
        matches = self._matcher(rt, path, query)
        items, rv = self.store.list(rt, path.namespace)
        items = [item for item in items if matches(item)]
        start = _decode_continue(query.get("continue"))
        if start is not None:
            items = [item for item in items if _sort_key(item) > start]
        limit = _int_param(query.get("limit"), "limit")
        body = self._list_body(rt, items[:limit] if limit else items, rv)
        if limit and len(items) > limit:
            body["metadata"]["continue"] = _encode_continue(items[limit - 1], rv)
            body["metadata"]["remainingItemCount"] = len(items) - limit
        if "as=Table" in accept:
            return json_response(_as_table(body["items"], rv))
        return json_response(body)

    def _serve_log(
        self, rt: ResourceType, path: ApiPath, query: Mapping[str, str]
    ) -> aiohttp.web.Response:
        name = path.name or ""
        pod = self.store.get(rt, path.namespace, name)
        spec = pod.get("spec") or {}
        main = [c["name"] for c in spec.get("containers") or []]
        others = [c["name"] for c in spec.get("initContainers") or []]
        container = query.get("container")
        if not container:
            if len(main) != 1:
                raise errors.bad_request(
                    f"a container name must be specified for pod {name}, "
                    f"choose one of: [{' '.join(main)}]"
                )
            container = main[0]
        elif container not in main + others:
            raise errors.bad_request(f"container {container} is not valid for pod {name}")
        text = self.store.pod_log(path.namespace or "", name, container)
        if not text and (pod.get("status") or {}).get("phase", "Pending") == "Pending":
            raise errors.bad_request(
                f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating'
            )
        tail = query.get("tailLines")
        if tail is not None:
            count = _int_param(tail, "tailLines") or 0
            text = "".join(text.splitlines(keepends=True)[-count:]) if count else ""
        limit = _int_param(query.get("limitBytes"), "limitBytes")
        if limit:
            text = text.encode()[:limit].decode(errors="ignore")
        return aiohttp.web.Response(text=text, content_type="text/plain")

    # ----- watch -----------------------------------------------------------------------------

    async def _serve_watch(
        self, raw: aiohttp.web.BaseRequest, rt: ResourceType, path: ApiPath, record: RequestRecord
    ) -> aiohttp.web.StreamResponse:
        query = raw.query
        matches = self._matcher(rt, path, query)
        rv = query.get("resourceVersion")
        position = None if rv in (None, "", "0") else _int_param(rv, "resourceVersion")
        timeout = float(query.get("timeoutSeconds") or self.default_watch_timeout)
        watch = _WatchStream(
            handler=self,
            rt=rt,
            matches=matches,
            position=position,
            bookmarks=query.get("allowWatchBookmarks") in TRUE_VALUES,
            initial_bookmark=query.get("sendInitialEvents") in TRUE_VALUES,
            response=aiohttp.web.StreamResponse(headers={"Content-Type": "application/json"}),
        )
        await watch.response.prepare(raw)
        record.status = 200
        self._wakeups.add(watch.wakeup)
        try:
            await watch.run(timeout)
            await watch.response.write_eof()
        except ConnectionError:
            pass  # the client went away
        finally:
            self._wakeups.discard(watch.wakeup)
        return watch.response

    # ----- discovery (kmock serves /api, /apis, /apis/<group>, /version) --------------------

    @override
    async def _serve_api(self, request: kmock.Request) -> kmock.Payload:
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": request.url.host or ""}
            ],
        }

    @override
    async def _serve_version(self, request: kmock.Request) -> kmock.Payload:
        assert request.resource is not None
        group, version = request.resource.group, request.resource.version
        types = [rt for rt in self.store.registry if (rt.group, rt.version) == (group, version)]
        if not types:
            raise kmock.KubernetesError(
                404, "NotFound", "the server could not find the requested resource", {}
            )
        resources: list[dict[str, Any]] = []
        for rt in types:
            resources.append(
                {
                    "name": rt.plural,
                    "singularName": rt.singular,
                    "namespaced": rt.namespaced,
                    "kind": rt.kind,
                    "verbs": list(ALL_VERBS),
                    "shortNames": list(rt.short_names),
                }
            )
            resources.extend(
                {
                    "name": f"{rt.plural}/{sub}",
                    "singularName": "",
                    "namespaced": rt.namespaced,
                    "kind": rt.kind,
                    "verbs": list(SUBRESOURCE_VERBS[sub]),
                }
                for sub in rt.subresources
            )
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": types[0].api_version,
            "resources": resources,
        }


@attrs.define(kw_only=True)
class _WatchStream:
    """One watch connection: sends initial state and changes until timeout or disconnect."""

    handler: KubeApiHandler
    rt: ResourceType
    matches: Matcher
    position: int | None  # None: send the current state as ADDED events first
    bookmarks: bool
    initial_bookmark: bool
    response: aiohttp.web.StreamResponse
    wakeup: asyncio.Event = attrs.field(factory=asyncio.Event)

    async def run(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        interval = self.handler.bookmark_interval if self.bookmarks else None
        next_bookmark = loop.time() + interval if interval else None
        while True:
            self.wakeup.clear()
            wait: float | None = None  # a stalled stream waits for resume, ignoring its timeout
            if not self.handler.faults.is_stalled(self.rt.plural):
                if not await self._send_changes():
                    return
                now = loop.time()
                if now >= deadline:
                    return
                if next_bookmark is not None and interval and now >= next_bookmark:
                    await self._send_bookmark()
                    next_bookmark = now + interval
                wait = min(deadline, next_bookmark or deadline) - now
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wakeup.wait(), timeout=wait)

    async def _send_changes(self) -> bool:
        """Send what happened since the position; False if the watch must end (410)."""
        store = self.handler.store
        if self.position is None:
            items, self.position = store.list(self.rt)
            for item in items:
                if self.matches(item):
                    await self.response.write(watch_event("ADDED", item))
            if self.initial_bookmark and self.bookmarks:
                await self._send_bookmark({"k8s.io/initial-events-end": "true"})
            return True
        try:
            events = store.events_since(self.rt, self.position)
        except Expired as exc:
            error = errors.expired(exc.requested, exc.oldest)
            await self.response.write(watch_event("ERROR", error.status()))
            return False
        for event in events:
            self.position = event.rv
            seen = translate(event, self.matches)
            if seen is not None:
                await self.response.write(watch_event(*seen))
        return True

    async def _send_bookmark(self, annotations: dict[str, str] | None = None) -> None:
        meta: dict[str, Any] = {"resourceVersion": str(self.position)}
        if annotations:
            meta["annotations"] = annotations
        obj = {"kind": self.rt.kind, "apiVersion": self.rt.api_version, "metadata": meta}
        await self.response.write(watch_event("BOOKMARK", obj))


# ----- helpers: pagination, tables, numbers ------------------------------------------------


def _sort_key(obj: Mapping[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return meta.get("namespace") or "", meta.get("name") or ""


def _encode_continue(last: Mapping[str, Any], rv: int) -> str:
    token = json.dumps({"rv": rv, "start": list(_sort_key(last))})
    return base64.urlsafe_b64encode(token.encode()).decode()


def _decode_continue(token: str | None) -> tuple[str, str] | None:
    if not token:
        return None
    try:
        namespace, name = json.loads(base64.urlsafe_b64decode(token.encode()))["start"]
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise errors.bad_request(f"invalid continue token: {exc}") from exc
    return namespace, name


def _int_param(value: str | None, what: str) -> int | None:
    """A non-negative integer query parameter; None when absent."""
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError as exc:
        raise errors.bad_request(f"invalid {what}: {value!r}") from exc
    if number < 0:
        raise errors.bad_request(f"invalid {what}: {value!r}")
    return number


def _age(timestamp: str | None) -> str:
    """kubectl's short age format: 7s, 5m, 3h, 2d."""
    if not timestamp:
        return "<unknown>"
    created = datetime.datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ")
    seconds = int(
        (datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - created).total_seconds()
    )
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def _as_table(items: list[Obj], rv: int) -> dict[str, Any]:
    """The server-side printing kubectl asks for: NAME and AGE columns, like CRDs get."""
    columns = [
        {
            "name": "Name",
            "type": "string",
            "format": "name",
            "priority": 0,
            "description": "Name must be unique within a namespace.",
        },
        {
            "name": "Age",
            "type": "date",
            "format": "",
            "priority": 0,
            "description": "CreationTimestamp of the object.",
        },
    ]
    rows = [
        {
            "cells": [item["metadata"]["name"], _age(item["metadata"].get("creationTimestamp"))],
            "object": {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": item["metadata"],
            },
        }
        for item in items
    ]
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": str(rv)},
        "columnDefinitions": columns,
        "rows": rows,
    }
