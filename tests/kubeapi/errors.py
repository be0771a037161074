"""Kubernetes ``Status`` errors, spelled the way the real API server spells them."""

from __future__ import annotations

from typing import Any

from kubeapi.resources import ResourceType

REASONS_BY_CODE = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Gone",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}
CONFLICT_MESSAGE = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


class ApiError(Exception):
    """An API failure that is rendered as a ``kind: Status`` body with an HTTP status code."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
        }
        if self.reason:
            body["reason"] = self.reason
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def object_details(rt: ResourceType, name: str | None, kind: str | None = None) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if rt.group:
        details["group"] = rt.group
    details["kind"] = kind or rt.plural
    return details


def not_found(rt: ResourceType, name: str) -> ApiError:
    return ApiError(
        404, "NotFound", f'{rt.qualified_resource} "{name}" not found', object_details(rt, name)
    )


def already_exists(rt: ResourceType, name: str) -> ApiError:
    return ApiError(
        409,
        "AlreadyExists",
        f'{rt.qualified_resource} "{name}" already exists',
        object_details(rt, name),
    )


def conflict(rt: ResourceType, name: str, why: str = CONFLICT_MESSAGE) -> ApiError:
    message = f'Operation cannot be fulfilled on {rt.qualified_resource} "{name}": {why}'
    return ApiError(409, "Conflict", message, object_details(rt, name))


def invalid(rt: ResourceType, name: str, field: str, cause_reason: str, detail: str) -> ApiError:
    """A 422 for one invalid field, e.g. ``invalid(rt, '', 'metadata.name', 'FieldValueRequired',
    'Required value: name or generateName is required')``."""
    message = f'{rt.qualified_kind} "{name}" is invalid: {field}: {detail}'
    details = object_details(rt, name, kind=rt.kind)
    details["causes"] = [{"reason": cause_reason, "message": detail, "field": field}]
    return ApiError(422, "Invalid", message, details)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def resource_not_found() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def method_not_allowed() -> ApiError:
    return ApiError(
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
        {},
    )


def unsupported_media_type(content_type: str, accepted: list[str]) -> ApiError:
    message = (
        f"the body of the request was in an unknown format - accepted media types "
        f"include: {', '.join(accepted)}"
    )
    return ApiError(415, "UnsupportedMediaType", f"{message} (got {content_type!r})", {})


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def expired(requested: int, oldest: int) -> ApiError:
    """The 410 a watch reports (as an ERROR event) when its resourceVersion is compacted."""
    return ApiError(410, "Expired", f"too old resource version: {requested} ({oldest})")


def namespace_terminating(rt: ResourceType, name: str, namespace: str) -> ApiError:
    message = (
        f'{rt.qualified_resource} "{name}" is forbidden: unable to create new content in '
        f"namespace {namespace} because it is being terminated"
    )
    return ApiError(403, "Forbidden", message, object_details(rt, name))


def namespace_not_found(namespace: str) -> ApiError:
    return ApiError(
        404,
        "NotFound",
        f'namespaces "{namespace}" not found',
        {"name": namespace, "kind": "namespaces"},
    )


def injected(
    code: int,
    rt: ResourceType | None,
    name: str | None,
    reason: str | None = None,
    message: str | None = None,
) -> ApiError:
    """A failure made by fault injection, shaped like the real error with that code."""
    if code == 409 and rt is not None and reason is None and message is None:
        return conflict(rt, name or "")
    if code == 404 and rt is not None and name and reason is None and message is None:
        return not_found(rt, name)
    reason = reason or REASONS_BY_CODE.get(code, "Unknown")
    message = message or f"injected failure: {reason}"
    details = object_details(rt, name) if rt is not None else None
    headers = {"Retry-After": "1"} if code in (429, 503) else None
    return ApiError(code, reason, message, details, headers)
