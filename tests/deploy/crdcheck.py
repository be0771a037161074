"""What the API server does to a WerfBundle before it stores it, emulated offline.

Role: given the committed CRD (not ``werfop.api.schema``: the point is to test what we
ship), apply the steps a kube-apiserver applies to a create request and report what a
user would see: drop ``null`` fields, apply structural defaults, reject unknown fields
(structural schema plus the strict field validation that ``kubectl apply`` asks for),
validate the OpenAPI v3 schema (``jsonschema``), then evaluate every
``x-kubernetes-validations`` CEL rule (``cel-python``) on the defaulted object.
Messages are worded as the API server words them.

A CEL rule is evaluated only where the schema validation of its own subtree passed, the
way the codec checks a rule only on a well-typed value; a ``duration()`` of a string the
pattern already rejected would only add noise.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import celpy
import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[2]
CRD_PATH = ROOT / "deploy" / "crd" / "werf.io_werfbundles.yaml"


@attrs.frozen
class Rejection:
    """One error as the API server reports it: ``path: message``."""

    path: str
    message: str
    rule: dict[str, Any] | None = attrs.field(default=None, eq=False)  # the CEL rule, if any

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def load_crd(path: Path = CRD_PATH) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def openapi_schema(crd: dict[str, Any]) -> dict[str, Any]:
    (version,) = crd["spec"]["versions"]
    return version["schema"]["openAPIV3Schema"]


# --- pruning and defaulting -------------------------------------------------------------


def default(schema: dict[str, Any], value: Any) -> Any:
    """Structural defaulting: nulls of non-nullable fields dropped, then defaults set,
    recursively (into defaulted objects too), as the API server does on create."""
    if isinstance(value, dict) and "properties" in schema:
        properties = schema["properties"]
        for key in [k for k, v in value.items() if v is None]:
            if not properties.get(key, {}).get("nullable", False):
                del value[key]
        for key, child in properties.items():
            if key not in value and "default" in child:
                value[key] = copy.deepcopy(child["default"])
            if key in value:
                value[key] = default(child, value[key])
    elif isinstance(value, list) and "items" in schema:
        return [default(schema["items"], item) for item in value]
    return value


# --- schema validation --------------------------------------------------------------------

_KEYWORDS = (
    "type",
    "required",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "maxItems",
    "minItems",
    "enum",
)


def strict_json_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI schema as JSON Schema, with ``additionalProperties: false`` wherever a
    structural schema prunes (every object with properties and no preserve-unknown)."""
    out: dict[str, Any] = {k: schema[k] for k in _KEYWORDS if k in schema}
    if schema.get("x-kubernetes-int-or-string"):
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if "properties" in schema:
        out["properties"] = {k: strict_json_schema(v) for k, v in schema["properties"].items()}
        if not schema.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
    if "items" in schema:
        out["items"] = strict_json_schema(schema["items"])
    return out


def _path(parts: Iterator[Any] | Any) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _shown(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, dict | list) else f'"{_type(value)}"'


def _type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _schema_errors(validator: jsonschema.Validator, obj: dict[str, Any]) -> list[Rejection]:
    out = []
    for error in validator.iter_errors(obj):
        out += _worded(error)
    return out


def _worded(error: jsonschema.ValidationError) -> list[Rejection]:
    """A jsonschema error in the API server's words (field.ErrorList rendering)."""
    path = _path(error.absolute_path)
    value, expected = error.instance, error.validator_value
    match error.validator:
        case "required":
            return [
                Rejection(_child(path, key), "Required value")
                for key in expected
                if not isinstance(value, dict) or key not in value
            ]
        case "additionalProperties":
            known = error.schema.get("properties", {})
            return [
                Rejection(_child(path, key), f'unknown field "{_child(path, key)}"')
                for key in value
                if key not in known
            ]
        case "type":
            shown = f'"{_type(value)}"'
            return [
                Rejection(
                    path,
                    f"Invalid value: {shown}: {path} in body must be of type {expected}: {shown}",
                )
            ]
        case "anyOf":  # int-or-string is the only anyOf a structural schema allows
            shown = f'"{_type(value)}"'
            return [
                Rejection(
                    path,
                    f"Invalid value: {shown}: {path} in body must be of type integer or string: {shown}",
                )
            ]
        case "pattern":
            return [
                Rejection(
                    path,
                    f"Invalid value: {_shown(value)}: {path} in body should match '{expected}'",
                )
            ]
        case "minLength":
            return [
                Rejection(
                    path,
                    f"Invalid value: {_shown(value)}: {path} in body should be at least "
                    f"{expected} chars long",
                )
            ]
        case "maxLength":
            return [Rejection(path, f"Too long: may not be longer than {expected}")]
        case "minimum":
            return [
                Rejection(
                    path,
                    f"Invalid value: {_shown(value)}: {path} in body should be greater than or "
                    f"equal to {expected}",
                )
            ]
        case "maximum":
            return [
                Rejection(
                    path,
                    f"Invalid value: {_shown(value)}: {path} in body should be less than or "
                    f"equal to {expected}",
                )
            ]
        case "maxItems":
            return [Rejection(path, f"Too many: {len(value)}: must have at most {expected} items")]
        case "enum":
            supported = ", ".join(json.dumps(v) for v in expected)
            return [
                Rejection(
                    path, f"Unsupported value: {_shown(value)}: supported values: {supported}"
                )
            ]
    return [Rejection(path, f"Invalid value: {_shown(value)}: {error.message}")]


# --- CEL ------------------------------------------------------------------------------------


@functools.cache
def _program(expression: str) -> celpy.Runner:
    environment = celpy.Environment()
    return environment.program(environment.compile(expression))


def compile_rule(expression: str) -> None:
    """Parse ``expression`` as CEL; raises ``celpy.CELParseError`` when it does not parse."""
    _program(expression)


def evaluate_rule(expression: str, value: Any) -> bool | Exception:
    """The rule's result with ``self`` bound to ``value``; an evaluation error is returned."""
    result = _program(expression).evaluate({"self": celpy.json_to_cel(value)})
    if isinstance(result, Exception):
        return result
    return bool(result)


def _cel_errors(schema: dict[str, Any], value: Any, path: str, bad: set[str]) -> list[Rejection]:
    if any(b == path or b.startswith((path + ".", path + "[")) for b in bad if path):
        return []  # this subtree failed its schema: its rules are not evaluated
    out: list[Rejection] = []
    if isinstance(value, dict):
        for key, child in schema.get("properties", {}).items():
            if key in value:
                out += _cel_errors(child, value[key], _child(path, key), bad)
    elif isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            out += _cel_errors(schema["items"], item, f"{path}[{index}]", bad)
    for rule in schema.get("x-kubernetes-validations", []):
        result = evaluate_rule(rule["rule"], value)
        if result is True:
            continue
        where = path + rule.get("fieldPath", "")
        message = rule.get("message") or f"failed rule: {rule['rule']}"
        if isinstance(result, Exception):
            message = f"{message} (evaluation error: {result})"
        out.append(Rejection(where, f"Invalid value: {_shown(value)}: {message}", rule=rule))
    return out


# --- the whole admission -------------------------------------------------------------------


class CrdValidator:
    """Validates WerfBundle objects the way an API server with this CRD would."""

    def __init__(self, crd: dict[str, Any] | None = None):
        self.crd = crd if crd is not None else load_crd()
        self.schema = openapi_schema(self.crd)
        strict = strict_json_schema(self.schema)
        strict["properties"]["metadata"] = {"type": "object"}
        jsonschema.Draft4Validator.check_schema(strict)
        self.validator = jsonschema.Draft4Validator(strict)

    def admit(self, obj: dict[str, Any]) -> tuple[dict[str, Any], list[Rejection]]:
        """The object as it would be stored (defaulted), and every rejection."""
        stored = default(self.schema, copy.deepcopy(obj))
        errors = _schema_errors(self.validator, stored)
        bad = {e.path for e in errors}
        errors += _cel_errors(self.schema, stored, "", bad)
        return stored, sorted(errors, key=lambda e: (e.path, e.message))

    def rejections(self, obj: dict[str, Any]) -> list[Rejection]:
        return self.admit(obj)[1]


def walk(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every node of an OpenAPI schema with its path (``[]`` for array items)."""
    yield path, schema
    for key, child in schema.get("properties", {}).items():
        yield from walk(child, _child(path, key))
    if "items" in schema:
        yield from walk(schema["items"], f"{path}[]")
