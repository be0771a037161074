"""The WerfBundle CRD we ship: generated from the schema, structural, documented, and
rejecting exactly what the operator's codec rejects, field for field.

The API server side is emulated offline by ``crdcheck`` (structural defaulting and
pruning, ``jsonschema`` for the OpenAPI schema, ``cel-python`` for the CEL rules) from the
committed YAML, so these tests check the file a user installs, not the Python schema.
"""

from __future__ import annotations

import copy
import types
import typing
from datetime import UTC, datetime
from typing import Any

import attrs
import jsonschema
import pytest

from werfop.api import schema
from werfop.api.codec import decode_bundle, encode_status, validate_spec
from werfop.api.crd import render_crd_yaml
from werfop.core.model import BundleStatus
from werfop.main import main

from .crdcheck import (
    CRD_PATH,
    CrdValidator,
    compile_rule,
    default,
    load_crd,
    openapi_schema,
    strict_json_schema,
    walk,
)
from .manifests import example_objects

CRD = CrdValidator()
SCHEMA = openapi_schema(load_crd())
T0 = datetime(2026, 1, 1, tzinfo=UTC)
DIGEST = "sha256:" + "a" * 64

BASE: dict[str, Any] = {
    "apiVersion": "werf.io/v1alpha1",
    "kind": "WerfBundle",
    "metadata": {"name": "shop", "namespace": "default"},
    "spec": {
        "registry": {"url": "ghcr.io/acme/shop", "versionConstraint": ">=1.0.0 <2.0.0"},
        "converge": {"valuesFrom": [{"configMapRef": {"name": "shop-values"}}]},
    },
}


def with_spec(path: str, value: Any) -> dict[str, Any]:
    """BASE with one spec field (dotted path, ``[0]`` for the first list item) set, or
    removed when ``value`` is ``DELETE``."""
    obj = copy.deepcopy(BASE)
    node: Any = obj
    parts = ["spec", *path.replace("[0]", ".0").split(".")] if path else ["spec"]
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
    last: Any = int(parts[-1]) if parts[-1].isdigit() else parts[-1]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return obj


DELETE = object()


def _rule_paths() -> dict[str, str]:
    """CEL expression -> the field its message is about (``schema.Rule.path``)."""
    out: dict[str, str] = {}

    def visit(field: schema.Field) -> None:
        for rule in field.rules:
            out[rule.cel] = rule.path
        for child in field.properties.values():
            visit(child)
        if field.items is not None:
            visit(field.items)

    visit(schema.SPEC)
    return out


RULE_PATHS = _rule_paths()


def fields_named(obj: dict[str, Any]) -> list[str]:
    """The fields the API server's errors are about. A CEL rule without ``fieldPath`` is
    reported at the object that carries it; its message is about ``schema.Rule.path``."""
    fields = set()
    for rejection in CRD.rejections(obj):
        path = rejection.path
        if rejection.rule is not None and "fieldPath" not in rejection.rule:
            extra = RULE_PATHS[rejection.rule["rule"]]
            path = f"{path}.{extra}" if extra else path
        fields.add(path)
    return sorted(fields)


def codec_fields(obj: dict[str, Any]) -> list[str]:
    _, problems = decode_bundle(obj)
    return sorted({p.path for p in problems})


# --- one source of truth --------------------------------------------------------------------


def test_committed_crd_is_exactly_what_werfop_crd_prints(capsys):
    assert 0 == main(["crd"])

    printed = capsys.readouterr().out
    assert render_crd_yaml() == printed
    assert printed == CRD_PATH.read_text(), (
        "deploy/crd/werf.io_werfbundles.yaml is stale: run `make manifests`"
    )


def test_api_server_defaults_equal_the_codec_defaults():
    minimal = with_spec("converge", DELETE)

    stored, rejections = CRD.admit(minimal)
    defaulted, problems = validate_spec(minimal["spec"])

    assert ([], []) == (rejections, problems)
    assert defaulted == stored["spec"]


# --- structure and documentation --------------------------------------------------------------


def test_schema_is_structural_so_kubernetes_accepts_and_prunes_with_it():
    problems = []
    for path, node in walk(SCHEMA):
        is_int_or_string = node.get("x-kubernetes-int-or-string") is True
        if "type" not in node and not is_int_or_string:
            problems.append(f"{path}: no type")
        if "anyOf" in node and (
            not is_int_or_string or [{"type": "integer"}, {"type": "string"}] != node["anyOf"]
        ):
            problems.append(f"{path}: anyOf other than int-or-string")
        if node.get("type") == "object" and path != "metadata":
            if not node.get("properties") and not node.get("x-kubernetes-preserve-unknown-fields"):
                problems.append(f"{path}: object without properties or preserve-unknown-fields")
            if "additionalProperties" in node and "properties" in node:
                problems.append(f"{path}: properties and additionalProperties together")
        for name in node.get("required", []):
            if name not in node.get("properties", {}):
                problems.append(f"{path}: required {name} is not a property")
    assert [] == problems


def test_every_default_is_valid_for_its_own_field():
    invalid = []
    for path, node in walk(SCHEMA):
        if "default" in node:
            value = default(node, copy.deepcopy(node["default"]))
            errors = list(jsonschema.Draft4Validator(strict_json_schema(node)).iter_errors(value))
            if errors:
                invalid.append(f"{path}: {errors[0].message}")
    assert [] == invalid


def test_every_cel_rule_compiles_and_has_a_one_line_message():
    rules = {
        (path, r["message"]): r["rule"]
        for path, node in walk(SCHEMA)
        for r in node.get("x-kubernetes-validations", [])
    }
    for rule in rules.values():
        compile_rule(rule)  # raises celpy.CELParseError

    assert [] == [message for _, message in rules if "\n" in message]


def test_cross_field_rules_users_rely_on_are_in_the_crd():
    rules = {
        (path, r["message"])
        for path, node in walk(SCHEMA)
        for r in node.get("x-kubernetes-validations", [])
    }
    assert {
        ("spec.registry", "tag and versionConstraint are mutually exclusive"),
        ("spec.registry.pollInterval", "must be between 30s and 24h"),
        ("spec.registry.minAge", "must be between 0s and 720h"),
        ("spec.converge.valuesFrom[]", "exactly one of configMapRef or secretRef must be set"),
        ("spec.converge.timeout", "must be between 1m and 24h"),
    } <= rules


def test_every_field_has_a_description_for_kubectl_explain():
    undocumented = [
        path
        for path, node in walk(SCHEMA)
        if path.startswith(("spec", "status")) and not node.get("description", "").strip()
    ]
    assert [] == undocumented


def test_the_readme_crd_reference_names_every_field():
    # The README's "The WerfBundle API" section is the reference users read; a field
    # added to the schema must be added there too.
    readme = (CRD_PATH.parents[2] / "README.md").read_text()
    reference = readme[readme.index("## The WerfBundle API") : readme.index("## Lifecycle")]
    unnamed = [
        path
        for path, _ in walk(SCHEMA)
        if path.startswith(("spec.", "status."))
        and path.rsplit(".", 1)[-1].strip("[]") not in reference
    ]
    assert [] == unnamed


def test_printer_columns_short_names_and_status_subresource():
    crd = load_crd()
    (version,) = crd["spec"]["versions"]
    columns = {c["name"]: c["jsonPath"] for c in version["additionalPrinterColumns"]}
    wide = [c["name"] for c in version["additionalPrinterColumns"] if c.get("priority") == 1]

    assert ["wb", "wbs"] == crd["spec"]["names"]["shortNames"]
    assert {"status": {}} == version["subresources"]
    assert ["Phase", "Desired", "Applied", "Ready", "Message", "Age", *wide] == list(columns)
    assert ["URL", "Target", "Last Sync", "Suspended"] == wide
    for name, json_path in columns.items():
        field = json_path.split("[")[0].lstrip(".")
        if not field.startswith("metadata"):
            assert field in dict(walk(SCHEMA)), (
                f"column {name} shows {json_path}, not in the schema"
            )


def test_bounds_users_rely_on_are_in_the_crd():
    nodes = dict(walk(SCHEMA))
    registry, converge = "spec.registry", "spec.converge"

    assert ("15m", "30s", "24h") == (
        nodes[f"{registry}.pollInterval"]["default"],
        *_duration_bounds(nodes[f"{registry}.pollInterval"]),
    )
    assert ("0s", "720h") == _duration_bounds(nodes[f"{registry}.minAge"])
    assert (1, 365, 7) == tuple(
        nodes[f"{converge}.logRetentionDays"][k] for k in ("minimum", "maximum", "default")
    )
    assert (1, 10, 3) == tuple(
        nodes[f"{converge}.maxAttempts"][k] for k in ("minimum", "maximum", "default")
    )
    assert 32 == nodes[f"{converge}.valuesFrom"]["maxItems"]
    assert ["Pending", "Syncing", "Synced", "Failed", "Suspended"] == nodes["status.phase"]["enum"]


def _duration_bounds(node: dict[str, Any]) -> tuple[str, str]:
    (rule,) = node["x-kubernetes-validations"]
    low, high = (part.split("'")[1] for part in rule["rule"].split("&&"))
    return low, high


# --- what the API server admits ---------------------------------------------------------------


@pytest.mark.parametrize(
    "obj",
    [
        pytest.param(o, id=o["metadata"]["name"])
        for o in example_objects()
        if o["kind"] == "WerfBundle"
    ],
)
def test_every_example_is_admitted_by_the_crd_and_decoded_by_the_codec(obj):
    assert [] == CRD.rejections(obj)
    assert [] == codec_fields(obj)


def sample(hint: Any, choice: int = 0) -> Any:
    """A value of the type ``hint`` with every optional part present (for attrs classes,
    every field set); ``choice`` picks among the alternatives of a ``Literal``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Literal:
        return args[min(choice, len(args) - 1)]
    if origin in (typing.Union, types.UnionType):
        return sample(next(a for a in args if a is not type(None)), choice)
    if origin is tuple:
        return (sample(args[0], choice),)
    if attrs.has(hint):
        hints = typing.get_type_hints(hint)
        return hint(**{f.name: sample(hints[f.name], choice) for f in attrs.fields(hint)})
    return {str: "x", int: 1, bool: True, datetime: T0}[hint]


def _literal_choices(hint: Any) -> int:
    """The most alternatives any Literal in ``hint`` (recursively) offers."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Literal:
        return len(args)
    if attrs.has(hint):
        return max(_literal_choices(h) for h in typing.get_type_hints(hint).values())
    return max((_literal_choices(a) for a in args), default=1)


@pytest.mark.parametrize("choice", range(_literal_choices(BundleStatus)))
def test_a_status_the_operator_writes_is_stored_whole_not_pruned(choice):
    """Every field set (each Literal in turn to each of its values): an unknown field
    would be pruned by the API server and an unlisted enum value rejected (422)."""
    status = sample(BundleStatus, choice)
    obj = {**BASE, "status": encode_status(status)}

    assert [] == [f.name for f in attrs.fields(BundleStatus) if getattr(status, f.name) is None]
    assert [] == [str(r) for r in CRD.rejections(obj)]


# --- the corpus of bad objects: one defect each ------------------------------------------------

URL = "spec.registry.url"
URL_MATCH = f"{URL} in body should match '{schema.REPOSITORY_PATTERN}'"
DURATION = schema.DURATION_PATTERN
QUANTITY = schema.QUANTITY_PATTERN
LIMITS = "spec.converge.resourceLimits"
REQUESTS = "spec.converge.resourceRequests"
SOURCE = "spec.converge.valuesFrom[0]"

CORPUS = [
    pytest.param(
        with_spec("registry.url", DELETE), ["spec.registry.url: Required value"], id="missing-url"
    ),
    pytest.param(
        with_spec("registry", DELETE), ["spec.registry: Required value"], id="no-registry"
    ),
    pytest.param(
        {k: v for k, v in BASE.items() if k != "spec"}, ["spec: Required value"], id="no-spec"
    ),
    pytest.param(
        with_spec("registry.url", "ghcr.io/acme/shop:1.0.0"),
        [f'{URL}: Invalid value: "ghcr.io/acme/shop:1.0.0": {URL_MATCH}'],
        id="tag-in-url",
    ),
    pytest.param(
        with_spec("registry.url", f"ghcr.io/acme/shop@{DIGEST}"),
        [f'{URL}: Invalid value: "ghcr.io/acme/shop@{DIGEST}": {URL_MATCH}'],
        id="digest-in-url",
    ),
    pytest.param(
        with_spec("registry.url", "https://ghcr.io/acme/shop"),
        [f'{URL}: Invalid value: "https://ghcr.io/acme/shop": {URL_MATCH}'],
        id="scheme-in-url",
    ),
    pytest.param(
        with_spec("registry.url", "ghcr.io"),
        [f'{URL}: Invalid value: "ghcr.io": {URL_MATCH}'],
        id="url-without-repository-path",
    ),
    pytest.param(
        with_spec("registry.pollInterval", "10 minutes"),
        [
            'spec.registry.pollInterval: Invalid value: "10 minutes": spec.registry.pollInterval'
            f" in body should match '{DURATION}'"
        ],
        id="poll-interval-not-a-duration",
    ),
    pytest.param(
        with_spec("registry.pollInterval", "1d"),
        [
            'spec.registry.pollInterval: Invalid value: "1d": spec.registry.pollInterval'
            f" in body should match '{DURATION}'"
        ],
        id="poll-interval-in-days",
    ),
    pytest.param(
        with_spec("registry.pollInterval", "10s"),
        ['spec.registry.pollInterval: Invalid value: "10s": must be between 30s and 24h'],
        id="poll-interval-too-short",
    ),
    pytest.param(
        with_spec("registry.pollInterval", "25h"),
        ['spec.registry.pollInterval: Invalid value: "25h": must be between 30s and 24h'],
        id="poll-interval-too-long",
    ),
    pytest.param(
        with_spec("registry.pollInterval", "1s" * 33),
        ["spec.registry.pollInterval: Too long: may not be longer than 64"],
        id="poll-interval-too-long-to-parse",
    ),
    pytest.param(
        with_spec("registry.minAge", "721h"),
        ['spec.registry.minAge: Invalid value: "721h": must be between 0s and 720h'],
        id="min-age-over-30-days",
    ),
    pytest.param(
        with_spec("converge.timeout", "30s"),
        ['spec.converge.timeout: Invalid value: "30s": must be between 1m and 24h'],
        id="timeout-too-short",
    ),
    pytest.param(
        with_spec("converge.resourceLimits", {"cpu": "two"}),
        [f"{LIMITS}.cpu: Invalid value: \"two\": {LIMITS}.cpu in body should match '{QUANTITY}'"],
        id="cpu-not-a-quantity",
    ),
    pytest.param(
        with_spec("converge.resourceLimits", {"memory": "1GB"}),
        [
            f'{LIMITS}.memory: Invalid value: "1GB": {LIMITS}.memory in body should match'
            f" '{QUANTITY}'"
        ],
        id="memory-with-a-bytes-suffix",
    ),
    pytest.param(
        with_spec("converge.resourceRequests", {"cpu": "-500m"}),
        [
            f'{REQUESTS}.cpu: Invalid value: "-500m": {REQUESTS}.cpu in body should match'
            f" '{QUANTITY}'"
        ],
        id="negative-quantity-string",
    ),
    pytest.param(
        with_spec("converge.resourceRequests", {"memory": -1}),
        [
            f"{REQUESTS}.memory: Invalid value: -1: {REQUESTS}.memory in body should be greater"
            " than or equal to 0"
        ],
        id="negative-quantity-integer",
    ),
    pytest.param(
        with_spec("converge.resourceRequests", {"cpu": ""}),
        [
            f'{REQUESTS}.cpu: Invalid value: "": {REQUESTS}.cpu in body should be at least 1'
            " chars long",
            f'{REQUESTS}.cpu: Invalid value: "": {REQUESTS}.cpu in body should match'
            f" '{QUANTITY}'",
        ],
        id="empty-quantity",
    ),
    pytest.param(
        with_spec(
            "converge.valuesFrom",
            [{"configMapRef": {"name": "shop-values"}, "secretRef": {"name": "shop-secrets"}}],
        ),
        [
            f'{SOURCE}: Invalid value: "object": exactly one of configMapRef or secretRef must be set'
        ],
        id="both-refs",
    ),
    pytest.param(
        with_spec("converge.valuesFrom", [{"key": "values.yaml"}]),
        [
            f'{SOURCE}: Invalid value: "object": exactly one of configMapRef or secretRef must be set'
        ],
        id="neither-ref",
    ),
    pytest.param(
        with_spec("registry.tag", "main"),
        [
            'spec.registry.tag: Invalid value: "object": tag and versionConstraint are'
            " mutually exclusive"
        ],
        id="tag-and-version-constraint",
    ),
    pytest.param(
        with_spec("converge.logRetentionDays", -1),
        [
            "spec.converge.logRetentionDays: Invalid value: -1: spec.converge.logRetentionDays"
            " in body should be greater than or equal to 1"
        ],
        id="negative-retention",
    ),
    pytest.param(
        with_spec("converge.logRetentionDays", 366),
        [
            "spec.converge.logRetentionDays: Invalid value: 366: spec.converge.logRetentionDays"
            " in body should be less than or equal to 365"
        ],
        id="retention-over-a-year",
    ),
    pytest.param(
        with_spec("converge.logRetentionDays", "7"),
        [
            'spec.converge.logRetentionDays: Invalid value: "string": spec.converge.logRetentionDays'
            ' in body must be of type integer: "string"'
        ],
        id="retention-as-a-string",
    ),
    pytest.param(
        with_spec("converge.maxAttempts", 0),
        [
            "spec.converge.maxAttempts: Invalid value: 0: spec.converge.maxAttempts in body"
            " should be greater than or equal to 1"
        ],
        id="zero-attempts",
    ),
    pytest.param(
        with_spec("registry.branch", "main"),
        ['spec.registry.branch: unknown field "spec.registry.branch"'],
        id="unknown-field-in-registry",
    ),
    pytest.param(
        with_spec("converge.serviceAccount", "deployer"),
        ['spec.converge.serviceAccount: unknown field "spec.converge.serviceAccount"'],
        id="misspelled-service-account-name",
    ),
    pytest.param(
        with_spec("converge.valuesFrom[0].name", "shop-values"),
        [f'{SOURCE}.name: unknown field "{SOURCE}.name"'],
        id="unknown-field-in-values-source",
    ),
    pytest.param(
        with_spec("converge.targetNamespace", "Payments"),
        [
            'spec.converge.targetNamespace: Invalid value: "Payments": spec.converge.targetNamespace'
            f" in body should match '{schema.DNS_LABEL_PATTERN}'"
        ],
        id="target-namespace-not-a-dns-label",
    ),
    pytest.param(
        with_spec("converge.targetNamespace", ""),
        [
            'spec.converge.targetNamespace: Invalid value: "": spec.converge.targetNamespace in'
            " body should be at least 1 chars long",
            'spec.converge.targetNamespace: Invalid value: "": spec.converge.targetNamespace in'
            f" body should match '{schema.DNS_LABEL_PATTERN}'",
        ],
        id="empty-target-namespace",
    ),
    pytest.param(
        with_spec("converge.releaseName", "a" * 54),
        ["spec.converge.releaseName: Too long: may not be longer than 53"],
        id="release-name-over-53",
    ),
    pytest.param(
        with_spec("converge.serviceAccountName", "werf_deployer"),
        [
            'spec.converge.serviceAccountName: Invalid value: "werf_deployer":'
            " spec.converge.serviceAccountName in body should match"
            f" '{schema.DNS_SUBDOMAIN_PATTERN}'"
        ],
        id="service-account-with-underscore",
    ),
    pytest.param(
        with_spec("converge.valuesFrom", [{"configMapRef": {"name": "v"}}] * 33),
        ["spec.converge.valuesFrom: Too many: 33: must have at most 32 items"],
        id="too-many-values-sources",
    ),
    pytest.param(
        with_spec("converge.valuesFrom[0].key", "values/prod.yaml"),
        [
            f'{SOURCE}.key: Invalid value: "values/prod.yaml": {SOURCE}.key in body should match'
            " '^[-._a-zA-Z0-9]+$'"
        ],
        id="values-key-with-a-slash",
    ),
    pytest.param(
        with_spec("registry", {"url": "ghcr.io/acme/shop", "tag": "-rc"}),
        [
            'spec.registry.tag: Invalid value: "-rc": spec.registry.tag in body should match'
            f" '{schema.TAG_PATTERN}'"
        ],
        id="tag-starting-with-a-dash",
    ),
    pytest.param(
        with_spec("registry", {"url": "ghcr.io/acme/shop", "tag": ""}),
        [
            'spec.registry.tag: Invalid value: "": spec.registry.tag in body should be at least 1'
            " chars long",
            'spec.registry.tag: Invalid value: "": spec.registry.tag in body should match'
            f" '{schema.TAG_PATTERN}'",
        ],
        id="empty-tag",
    ),
    pytest.param(
        with_spec("registry.insecure", "yes"),
        [
            'spec.registry.insecure: Invalid value: "string": spec.registry.insecure in body must'
            ' be of type boolean: "string"'
        ],
        id="insecure-as-a-string",
    ),
    pytest.param(
        with_spec("suspend", "true"),
        [
            'spec.suspend: Invalid value: "string": spec.suspend in body must be of type boolean:'
            ' "string"'
        ],
        id="suspend-as-a-string",
    ),
    pytest.param(
        with_spec("registry.secretRef", {}),
        ["spec.registry.secretRef.name: Required value"],
        id="secret-ref-without-name",
    ),
    pytest.param(
        with_spec("registry.versionConstraint", ">=1.0.0" + " " * 1020),
        ["spec.registry.versionConstraint: Too long: may not be longer than 1024"],
        id="version-constraint-over-1024",
    ),
    pytest.param(
        with_spec("converge.image", ""),
        [
            'spec.converge.image: Invalid value: "": spec.converge.image in body should be at'
            " least 1 chars long"
        ],
        id="empty-image",
    ),
    pytest.param(
        with_spec("converge", "fast"),
        [
            'spec.converge: Invalid value: "string": spec.converge in body must be of type'
            ' object: "string"'
        ],
        id="converge-not-an-object",
    ),
]


@pytest.mark.parametrize(("obj", "expected"), CORPUS)
def test_bad_object_is_rejected_by_the_crd_with_the_message_users_see(obj, expected):
    assert expected == [str(r) for r in CRD.rejections(obj)]


@pytest.mark.parametrize(("obj", "expected"), CORPUS)
def test_bad_object_is_rejected_by_the_codec_naming_the_same_fields(obj, expected):
    named = fields_named(obj)

    assert named, "the corpus holds bad objects only"
    assert named == codec_fields(obj)


# --- agreement beyond the corpus: every spec field times a pool of awkward values ---------------

AWKWARD: list[Any] = [
    "",
    "x",
    "Ab",
    "a_b",
    "a/b",
    "-1",
    -1,
    0,
    1,
    1000,
    True,
    "0s",
    "10s",
    "1h",
    "25h",
    "1d",
    "1s" * 33,
    "1Gi",
    "2",
    2,
    "+1",
    "1e3",
    "a" * 600,
    None,
    {},
    [],
    {"name": "x"},
    {"name": "Bad_Name"},
]
SPEC_FIELDS = [
    path.removeprefix("spec.").replace("[]", "[0]")
    for path, _ in walk(SCHEMA["properties"]["spec"], "spec")
    if path.startswith("spec.")
    and ("[]" not in path or path.startswith("spec.converge.valuesFrom[]"))
    and not path.startswith("spec.converge.values.")
]


@pytest.mark.parametrize(
    "field",
    [f for f in SPEC_FIELDS],
)
def test_crd_and_codec_accept_and_reject_the_same_values_for(field):
    disagreements = []
    for value in AWKWARD:
        obj = with_spec(field, value)
        if fields_named(obj) != codec_fields(obj):
            disagreements.append((value, fields_named(obj), codec_fields(obj)))
    assert [] == disagreements
