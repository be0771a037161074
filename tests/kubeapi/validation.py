"""Create-time defaults and validation that the real API server applies per resource type."""

from __future__ import annotations

import base64
import copy
import re
from typing import Any

from kubeapi import errors
from kubeapi.resources import JOBS, NAMESPACES, PODS, SECRETS, ResourceType

DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN = rf"{DNS1123_LABEL}(\.{DNS1123_LABEL})*"
SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    f"for validation is '{DNS1123_SUBDOMAIN}')"
)
LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    f"used for validation is '{DNS1123_LABEL}')"
)
JOB_RESTART_POLICIES = '"OnFailure", "Never"'


def validate_name(rt: ResourceType, name: str | None) -> None:
    """Reject a missing or malformed ``metadata.name`` with the real 422 errors."""
    if not name:
        raise errors.invalid(
            rt,
            "",
            "metadata.name",
            "FieldValueRequired",
            "Required value: name or generateName is required",
        )
    if rt == NAMESPACES:
        if len(name) > 63 or not re.fullmatch(DNS1123_LABEL, name):
            raise errors.invalid(
                rt,
                name,
                "metadata.name",
                "FieldValueInvalid",
                f'Invalid value: "{name}": {LABEL_MESSAGE}',
            )
    elif len(name) > 253 or not re.fullmatch(DNS1123_SUBDOMAIN, name):
        raise errors.invalid(
            rt,
            name,
            "metadata.name",
            "FieldValueInvalid",
            f'Invalid value: "{name}": {SUBDOMAIN_MESSAGE}',
        )


def apply_create_defaults(rt: ResourceType, obj: dict[str, Any]) -> None:
    """Mutate a new object the way the type's create strategy and defaulting would."""
    if rt.custom and rt.has_status:
        obj.pop("status", None)  # "create cannot set status" for CRDs with /status
    elif rt == JOBS:
        _validate_job(obj)
        _default_job(obj)
        obj["status"] = {}
    elif rt == PODS:
        obj.setdefault("spec", {}).setdefault("restartPolicy", "Always")
        obj["status"] = {"phase": "Pending"}
    elif rt == NAMESPACES:
        obj["spec"] = {"finalizers": ["kubernetes"]}
        obj["status"] = {"phase": "Active"}
    normalize(rt, obj)


def normalize(rt: ResourceType, obj: dict[str, Any]) -> None:
    """Conversions applied on every write (create and update)."""
    if rt.default_spec is not None and "spec" in obj:
        defaulted = rt.default_spec(obj["spec"])
        if defaulted is not None:
            obj["spec"] = defaulted
    if rt == SECRETS:
        obj.setdefault("type", "Opaque")
        string_data = obj.pop("stringData", None) or {}
        data = obj.setdefault("data", {}) if string_data else obj.get("data")
        for key, value in string_data.items():
            assert data is not None
            data[key] = base64.b64encode(str(value).encode()).decode()


def check_update(rt: ResourceType, old: dict[str, Any], new: dict[str, Any]) -> None:
    """Reject updates of immutable fields (only the Job fields that operators might touch)."""
    if rt != JOBS:
        return
    name = old["metadata"]["name"]
    for field in ("template", "selector"):
        if (old.get("spec") or {}).get(field) != (new.get("spec") or {}).get(field):
            raise errors.invalid(
                rt,
                name,
                f"spec.{field}",
                "FieldValueInvalid",
                "Invalid value: ...: field is immutable",
            )


def _validate_job(job: dict[str, Any]) -> None:
    name = job["metadata"]["name"]
    pod_spec = ((job.get("spec") or {}).get("template") or {}).get("spec") or {}
    if not pod_spec.get("containers"):
        raise errors.invalid(
            JOBS, name, "spec.template.spec.containers", "FieldValueRequired", "Required value"
        )
    policy = pod_spec.get("restartPolicy")
    if not policy:
        raise errors.invalid(
            JOBS,
            name,
            "spec.template.spec.restartPolicy",
            "FieldValueRequired",
            f"Required value: valid values: {JOB_RESTART_POLICIES}",
        )
    if policy not in ("OnFailure", "Never"):
        raise errors.invalid(
            JOBS,
            name,
            "spec.template.spec.restartPolicy",
            "FieldValueNotSupported",
            f'Unsupported value: "{policy}": supported values: {JOB_RESTART_POLICIES}',
        )


def _default_job(job: dict[str, Any]) -> None:
    meta = job["metadata"]
    spec = job.setdefault("spec", {})
    template_meta = spec.setdefault("template", {}).setdefault("metadata", {})
    if not meta.get("labels") and template_meta.get("labels"):
        meta["labels"] = copy.deepcopy(template_meta["labels"])
    if not spec.get("manualSelector"):
        uid, name = meta["uid"], meta["name"]
        spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
        template_meta["labels"] = {
            **(template_meta.get("labels") or {}),
            "batch.kubernetes.io/controller-uid": uid,
            "batch.kubernetes.io/job-name": name,
            "controller-uid": uid,
            "job-name": name,
        }
    for field, value in (
        ("backoffLimit", 6),
        ("completions", 1),
        ("parallelism", 1),
        ("completionMode", "NonIndexed"),
        ("suspend", False),
        ("podReplacementPolicy", "TerminatingOrFailed"),
    ):
        spec.setdefault(field, value)
