"""Raw Kubernetes JSON <-> the core's model, in one place each way.

Role: ``decode_bundle`` turns a WerfBundle object into ``core.model.Bundle`` (spec
validated and defaulted against ``api.schema``; every problem reported with its field
path, never an exception); ``encode_status``/``decode_status`` carry ``BundleStatus``
to and from JSON; ``decode_job`` reads a Job's identity from its own annotations.
Must not: decide anything, or do I/O.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import attrs

from werfop.api import schema
from werfop.api.schema import Field
from werfop.core import names
from werfop.core.durations import format_duration, parse_duration
from werfop.core.model import (
    Bundle,
    BundleSpec,
    BundleStatus,
    Condition,
    ConvergeSpec,
    DriftSpec,
    FieldProblem,
    HistoryEntry,
    JobKind,
    JobObservation,
    JobState,
    Meta,
    RegistrySpec,
    Rejection,
    Resources,
    SecretKeyRef,
    SelectionStatus,
    Soak,
    TagFilter,
    ValuesSource,
    pairs,
)

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


# --- validation against the schema ------------------------------------------------------


def validate(field: Field, value: Any, path: str) -> tuple[Any, list[FieldProblem]]:
    """Check ``value`` against ``field``; return it with defaults filled in, and problems."""
    problems: list[FieldProblem] = []
    if field.int_or_string and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    expected = _TYPES[field.type]
    if not isinstance(value, expected) or (field.type == "integer" and isinstance(value, bool)):
        problems.append(FieldProblem(path=path, message=f"must be of type {field.type}"))
        return value, problems
    return _validate_typed(field, value, path, problems)


def _validate_typed(
    field: Field, value: Any, path: str, problems: list[FieldProblem]
) -> tuple[Any, list[FieldProblem]]:
    if field.type == "string":
        problems += _check_string(field, value, path)
    elif field.type == "integer":
        if field.minimum is not None and value < field.minimum:
            problems.append(FieldProblem(path=path, message=f"must be at least {field.minimum}"))
        if field.maximum is not None and value > field.maximum:
            problems.append(FieldProblem(path=path, message=f"must be at most {field.maximum}"))
    elif field.type == "array":
        if field.max_items is not None and len(value) > field.max_items:
            problems.append(
                FieldProblem(path=path, message=f"must have at most {field.max_items} items")
            )
        assert field.items is not None
        items = []
        for index, item in enumerate(value):
            checked, found = validate(field.items, item, f"{path}[{index}]")
            items.append(checked)
            problems += found
        value = items
    elif field.type == "object" and not field.preserve_unknown:
        value, found = _check_object(field, value, path)
        problems += found
    if not problems:
        for rule in field.rules:
            if not rule.check(value):
                where = f"{path}.{rule.path}" if rule.path else path
                problems.append(FieldProblem(path=where, message=rule.message))
    return value, problems


def _check_string(field: Field, value: str, path: str) -> list[FieldProblem]:
    problems = []
    if field.min_length is not None and len(value) < field.min_length:
        message = (
            "must not be empty"
            if field.min_length == 1
            else (f"must be at least {field.min_length} characters")
        )
        problems.append(FieldProblem(path=path, message=message))
    if field.max_length is not None and len(value) > field.max_length:
        problems.append(
            FieldProblem(path=path, message=f"must be at most {field.max_length} characters")
        )
    if field.enum and value not in field.enum:
        problems.append(FieldProblem(path=path, message=f"must be one of {', '.join(field.enum)}"))
    pattern = schema.compile_pattern(field)
    if pattern is not None and value and not pattern.match(value):
        hint = field.pattern_hint or f"a string matching {field.pattern}"
        problems.append(FieldProblem(path=path, message=f"{value!r} is not {hint}"))
    bounds = schema.duration_bounds(field)
    if bounds is not None and not problems:
        parsed = parse_duration(value)
        low, high = bounds
        if parsed is None or not low <= parsed <= high:
            problems.append(
                FieldProblem(
                    path=path,
                    message=f"must be between {field.duration_min} and {field.duration_max}",
                )
            )
    return problems


def _check_object(
    field: Field, value: dict[str, Any], path: str
) -> tuple[dict[str, Any], list[FieldProblem]]:
    problems: list[FieldProblem] = []
    out: dict[str, Any] = {}
    for key in value:
        if key not in field.properties:
            problems.append(FieldProblem(path=f"{path}.{key}", message="unknown field"))
    for name in field.required:
        if value.get(name) is None:
            problems.append(FieldProblem(path=f"{path}.{name}", message="is required"))
    for name, child in field.properties.items():
        child_path = f"{path}.{name}"
        if value.get(name) is not None:
            out[name], found = validate(child, value[name], child_path)
            problems += found
        elif child.default is not None:
            out[name], found = validate(child, _copy(child.default), child_path)
            problems += found
    return out, problems


def _copy(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _url_problems(url: Any) -> list[FieldProblem]:
    """Clearer messages than the pattern gives for the usual mistakes."""
    path = "spec.registry.url"
    if not isinstance(url, str):
        return []
    bare = url.removeprefix("oci://")
    if "://" in bare:
        return [
            FieldProblem(
                path=path,
                message=(
                    f"{url!r} has a scheme; write host[:port]/path (oci:// is accepted) and "
                    "set spec.registry.insecure for plain HTTP"
                ),
            )
        ]
    if "@" in bare:
        return [FieldProblem(path=path, message=f"{url!r} has a digest; name the repository only")]
    last = bare.rsplit("/", 1)[-1] if "/" in bare else ""
    if ":" in last:
        return [
            FieldProblem(
                path=path,
                message=(
                    f"{url!r} has a tag; use spec.registry.tag or "
                    "spec.registry.versionConstraint instead"
                ),
            )
        ]
    if "/" not in bare:
        return [FieldProblem(path=path, message=f"{url!r} has no repository path after the host")]
    return []


def validate_spec(spec: Any) -> tuple[dict[str, Any], list[FieldProblem]]:
    """The spec with defaults applied, and every problem found."""
    registry = spec.get("registry") if isinstance(spec, dict) else None
    url = registry.get("url") if isinstance(registry, dict) else None
    early = _url_problems(url)
    value, problems = validate(schema.SPEC, spec, "spec")
    if early:
        problems = early + [p for p in problems if p.path != "spec.registry.url"]
    return value, problems


# --- spec -> model ------------------------------------------------------------------------


def spec_from_json(spec: dict[str, Any]) -> BundleSpec:
    """Build the model from a *validated and defaulted* spec (see ``validate_spec``)."""
    registry = spec["registry"]
    converge = spec.get("converge", {})
    tag_filter = registry.get("tagFilter", {})
    limits = converge.get("resourceLimits", {})
    drift = converge["driftDetection"]
    requests = converge.get("resourceRequests")
    return BundleSpec(
        registry=RegistrySpec(
            url=registry["url"].removeprefix("oci://"),
            poll_interval=_duration(registry["pollInterval"]),
            secret_name=(registry.get("secretRef") or {}).get("name"),
            insecure=registry["insecure"],
            ca_secret_name=(registry.get("caSecretRef") or {}).get("name"),
            version_constraint=registry.get("versionConstraint") or None,
            tag=registry.get("tag"),
            tag_filter=TagFilter(
                include=tag_filter.get("include"), exclude=tag_filter.get("exclude")
            ),
            allow_downgrade=registry["allowDowngrade"],
            min_age=_duration(registry["minAge"]),
        ),
        converge=ConvergeSpec(
            service_account_name=converge.get("serviceAccountName"),
            target_namespace=converge.get("targetNamespace"),
            release_name=converge.get("releaseName"),
            limits=Resources(cpu=limits["cpu"], memory=limits["memory"]),
            requests=(
                Resources(
                    cpu=requests.get("cpu", limits["cpu"]),
                    memory=requests.get("memory", limits["memory"]),
                )
                if requests
                else None
            ),
            values_json=json.dumps(converge.get("values") or {}, sort_keys=True),
            values_from=tuple(
                ValuesSource(
                    kind="ConfigMap" if source.get("configMapRef") else "Secret",
                    name=(source.get("configMapRef") or source.get("secretRef"))["name"],
                    key=source["key"],
                    optional=source["optional"],
                )
                for source in converge.get("valuesFrom", [])
            ),
            secret_key=(
                SecretKeyRef(
                    name=converge["secretKeySecretRef"]["name"],
                    key=converge["secretKeySecretRef"]["key"],
                )
                if converge.get("secretKeySecretRef")
                else None
            ),
            timeout=_duration(converge["timeout"]),
            image=converge["image"],
            log_retention_days=converge["logRetentionDays"],
            max_attempts=converge["maxAttempts"],
            redeploy_on_values_change=converge["redeployOnValuesChange"],
            deletion_policy=converge["deletionPolicy"],
            remediation=converge["remediation"]["strategy"],
            drift=DriftSpec(
                enabled=drift["enabled"],
                interval=_duration(drift["interval"]),
                mode=drift["mode"],
                max_retries=drift["maxRetries"],
            ),
        ),
        suspend=spec["suspend"],
    )


def _duration(text: str) -> Any:
    parsed = parse_duration(text)
    assert parsed is not None, text  # validated before
    return parsed


def meta_from_json(obj: dict[str, Any]) -> tuple[Meta | None, list[FieldProblem]]:
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        return None, [FieldProblem(path="metadata", message="is required")]
    problems = []
    for key in ("name", "namespace"):
        if not isinstance(metadata.get(key), str) or not metadata.get(key):
            problems.append(FieldProblem(path=f"metadata.{key}", message="is required"))
    if problems:
        return None, problems
    labels = metadata.get("labels") or {}
    annotations = metadata.get("annotations") or {}
    return (
        Meta(
            namespace=metadata["namespace"],
            name=metadata["name"],
            uid=str(metadata.get("uid", "")),
            generation=int(metadata.get("generation") or 1),
            resource_version=str(metadata.get("resourceVersion", "")),
            labels=pairs({str(k): str(v) for k, v in labels.items()}),
            annotations=pairs({str(k): str(v) for k, v in annotations.items()}),
            finalizers=tuple(metadata.get("finalizers") or ()),
            deletion_timestamp=parse_time(metadata.get("deletionTimestamp")),
        ),
        [],
    )


# A spec as the core sees it (None when it has problems) and its problems.
SpecDecoding = tuple[BundleSpec | None, tuple[FieldProblem, ...]]


def decode_bundle(
    obj: dict[str, Any], *, spec: SpecDecoding | None = None
) -> tuple[Bundle | None, list[FieldProblem]]:
    """A WerfBundle object as the core sees it. Without usable metadata there is no
    bundle; with a bad spec, the bundle carries ``spec=None`` and the problems.

    ``spec``, when given, is ``decode_spec(obj["spec"])`` as the caller already has it
    (``runtime.decoded``: the same uid and generation)."""
    if not isinstance(obj, dict):
        return None, [FieldProblem(path="", message="must be an object")]
    meta, problems = meta_from_json(obj)
    if meta is None:
        return None, problems
    if (
        obj.get("apiVersion") != f"{schema.GROUP}/{schema.VERSION}"
        or obj.get("kind") != schema.KIND
    ):
        return None, [
            FieldProblem(
                path="apiVersion",
                message=f"must be {schema.GROUP}/{schema.VERSION} with kind {schema.KIND}",
            )
        ]
    decoded, found = spec if spec is not None else decode_spec(obj.get("spec"))
    status = decode_status(obj.get("status") or {})
    bundle = Bundle(meta=meta, spec=decoded, status=status, spec_problems=found)
    return bundle, list(found)


def decode_spec(raw: Any) -> SpecDecoding:
    """A spec validated and defaulted against the schema, as the model, or its problems.
    Validation is the costliest part of decoding: ``runtime.decoded`` keeps the result
    while the object's generation stands."""
    plain = json.loads(json.dumps(raw, default=str))  # a copy of plain JSON types
    spec_json, problems = validate_spec(plain)
    return (spec_from_json(spec_json) if not problems else None), tuple(problems)


# --- status -------------------------------------------------------------------------------


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_time(value: datetime) -> str:
    text = value.astimezone(UTC).isoformat(timespec="milliseconds")
    text = text.replace("+00:00", "Z")
    return text.replace(".000Z", "Z")


_STATUS_FIELDS = {
    field.name: "".join(
        part.capitalize() if i else part for i, part in enumerate(field.name.split("_"))
    )
    for field in attrs.fields(BundleStatus)
}
_STATUS_FIELDS["last_etag"] = "lastETag"


def _camel(name: str) -> str:
    parts = name.split("_")
    return parts[0] + "".join(p.capitalize() for p in parts[1:])


# (attribute, JSON key) of every field, per attrs class met while encoding (None for a
# class that is not an attrs class): computed once, not per value.
_STATUS_TABLE = tuple(_STATUS_FIELDS.items())
_FIELD_TABLES: dict[type, tuple[tuple[str, str], ...] | None] = {BundleStatus: _STATUS_TABLE}
_SCALARS = frozenset((str, int, bool, float))


def _field_table(cls: type) -> tuple[tuple[str, str], ...] | None:
    try:
        return _FIELD_TABLES[cls]
    except KeyError:
        table = (
            tuple((f.name, _camel(f.name)) for f in attrs.fields(cls)) if attrs.has(cls) else None
        )
        _FIELD_TABLES[cls] = table
        return table


def _encode(value: Any) -> Any:
    cls = type(value)
    if cls in _SCALARS:
        return value
    if isinstance(value, datetime):
        return format_time(value)
    table = _field_table(cls)
    if table is not None:
        return _encode_fields(value, table)
    if isinstance(value, tuple):
        return [_encode(v) for v in value]
    return value


def _encode_fields(value: Any, table: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    out = {}
    for name, key in table:
        item = getattr(value, name)
        if item is not None:
            out[key] = item if type(item) in _SCALARS else _encode(item)
    return out


def encode_status(status: BundleStatus) -> dict[str, Any]:
    """The status as the API stores it: camelCase, RFC 3339 times, unset fields omitted."""
    return _encode_fields(status, _STATUS_TABLE)


def decode_status(data: dict[str, Any]) -> BundleStatus:
    """Read a status back. Tolerant: a field that does not parse takes its default, so
    a status damaged by hand never stops the bundle (the next pass rewrites it)."""
    if not isinstance(data, dict):
        return BundleStatus()
    values: dict[str, Any] = {}
    for key, raw in data.items():  # only the keys present: a status sets about two thirds
        name = _STATUS_NAMES.get(key)
        if name is None or raw is None:
            continue
        if name in _STRING_FIELDS:  # most fields: taken as they are
            if isinstance(raw, str):
                values[name] = raw
            continue
        try:
            values[name] = _decode_status_field(name, raw)
        except (TypeError, ValueError, KeyError, AttributeError):
            continue
    try:
        return BundleStatus(**values)
    except (TypeError, ValueError):
        return BundleStatus()


def _required_time(raw: Any) -> datetime:
    parsed = parse_time(raw)
    if parsed is None:
        raise ValueError("not a time")
    return parsed


def _condition(c: dict[str, Any]) -> Condition:
    return Condition(
        type=c["type"],
        status=c["status"],
        reason=c.get("reason", ""),
        message=c.get("message", ""),
        last_transition_time=_required_time(c["lastTransitionTime"]),
        observed_generation=int(c.get("observedGeneration", 0)),
    )


def _history_entry(e: dict[str, Any]) -> HistoryEntry:
    return HistoryEntry(
        tag=e["tag"],
        digest=e["digest"],
        values_hash=e.get("valuesHash", ""),
        job_name=e["jobName"],
        attempt=int(e.get("attempt", 1)),
        started_at=_required_time(e["startedAt"]),
        finished_at=parse_time(e.get("finishedAt")),
        result=e.get("result", "Running"),
    )


_TIME_FIELDS = frozenset(
    {
        "last_sync_time",
        "last_poll_time",
        "next_poll_time",
        "last_error_time",
        "last_drift_check_time",
    }
)
_INT_FIELDS = frozenset(
    {
        "observed_generation",
        "poll_count",
        "consecutive_failures",
        "attempts",
        "drift_corrections",
    }
)


# JSON key -> attribute, and the attributes that are plain strings in JSON and model.
_NESTED_FIELDS = frozenset({"conditions", "version_history", "selection", "soak"})
_STATUS_NAMES = {key: name for name, key in _STATUS_TABLE}
_STRING_FIELDS = frozenset(
    name for name in _STATUS_FIELDS if name not in _TIME_FIELDS | _INT_FIELDS | _NESTED_FIELDS
)


def _decode_status_field(name: str, raw: Any) -> Any:
    if name in _TIME_FIELDS:
        return _required_time(raw)
    if name in _INT_FIELDS:
        return int(raw)
    if name == "conditions":
        return tuple(_condition(c) for c in raw)
    if name == "version_history":
        return tuple(_history_entry(e) for e in raw)
    if name == "selection":
        return SelectionStatus(
            selected=raw.get("selected"),
            considered=int(raw.get("considered", 0)),
            rejected=tuple(
                Rejection(tag=r["tag"], reason=r["reason"]) for r in raw.get("rejected", [])
            ),
        )
    if name == "soak":
        return Soak(tag=raw["tag"], digest=raw["digest"], since=_required_time(raw["since"]))
    if not isinstance(raw, str):
        raise TypeError(name)
    return raw


# --- Jobs ---------------------------------------------------------------------------------


def decode_job(obj: dict[str, Any]) -> JobObservation | None:
    """A werfop Job as an observation; None when it carries no werfop identity."""
    metadata = obj.get("metadata") or {}
    annotations = metadata.get("annotations") or {}
    labels = metadata.get("labels") or {}
    try:
        attempt = int(annotations.get(names.ANNOTATION_ATTEMPT, ""))
    except ValueError:
        return None
    tag = annotations.get(names.ANNOTATION_TAG)
    if not tag or not metadata.get("name"):
        return None
    status = obj.get("status") or {}
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    message = ""
    state = job_state(status)
    if state == "Failed":
        failed = conditions.get("Failed") or {}
        message = " ".join(x for x in (failed.get("reason"), failed.get("message")) if x)
    finished = parse_time(status.get("completionTime"))
    if state == "Failed" and finished is None:
        finished = parse_time((conditions.get("Failed") or {}).get("lastTransitionTime"))
    return JobObservation(
        name=metadata["name"],
        namespace=metadata.get("namespace", ""),
        kind=_job_kind(labels.get(names.LABEL_JOB_KIND)),
        tag=tag,
        digest=annotations.get(names.ANNOTATION_DIGEST, ""),
        values_hash=annotations.get(names.ANNOTATION_VALUES_HASH, ""),
        attempt=attempt,
        state=state,
        started_at=parse_time(status.get("startTime"))
        or parse_time(metadata.get("creationTimestamp")),
        finished_at=finished if state != "Active" else None,
        message=message,
    )


def job_state(status: Any) -> JobState:
    """Succeeded, Failed or Active, from a Job's ``status`` (counts or conditions)."""
    if not isinstance(status, dict):
        return "Active"
    conditions = status.get("conditions")
    done = {
        c.get("type")
        for c in (conditions if isinstance(conditions, list) else ())
        if isinstance(c, dict) and _true(c)
    }
    if status.get("succeeded") or "Complete" in done:
        return "Succeeded"
    if status.get("failed") or "Failed" in done:
        return "Failed"
    return "Active"


def _job_kind(label: str | None) -> JobKind:
    if label == "plan":
        return "plan"
    if label == "uninstall":
        return "uninstall"
    return "apply"


def _true(condition: dict[str, Any] | None) -> bool:
    return bool(condition) and condition.get("status") == "True"  # type: ignore[union-attr]


__all__ = [
    "decode_bundle",
    "decode_job",
    "decode_spec",
    "decode_status",
    "encode_status",
    "format_duration",
    "format_time",
    "parse_time",
    "spec_from_json",
    "validate",
    "validate_spec",
]
