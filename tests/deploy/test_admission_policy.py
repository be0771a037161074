"""The ValidatingAdmissionPolicy in deploy/policy/: a WerfBundle's spec may be written only
by someone who could do werfop's work by hand (create Jobs in the target namespace, get
the Secrets and ConfigMaps it names), so werfop cannot be used to escalate privileges.

The policy's CEL is evaluated with ``cel-python`` the way the API server evaluates it:
``object`` (defaulted by the CRD, see ``crdcheck``), ``oldObject``, ``request``,
``variables`` in order, and an ``authorizer`` that answers from a set of grants.
"""

from __future__ import annotations

import copy
from typing import Any

import attrs
import celpy
import pytest
from celpy import celtypes

from .crdcheck import CrdValidator
from .manifests import find

POLICY = find("ValidatingAdmissionPolicy", "werfbundles.werf.io-requester-rights")
BINDING = find("ValidatingAdmissionPolicyBinding", "werfbundles.werf.io-requester-rights")
CRD = CrdValidator()

Grant = tuple[str, str, str, str | None, str]  # group, resource, namespace, name, verb


@attrs.frozen
class Authorizer:
    """Answers ``authorizer.group(g).resource(r).namespace(n)[.name(x)].check(v).allowed()``
    from grants; a grant with name None covers every name in its namespace."""

    grants: frozenset[Grant]

    def functions(self) -> dict[str, Any]:
        def step(key: str):
            def add(builder: celtypes.MapType, value: celtypes.StringType) -> celtypes.MapType:
                return celtypes.MapType({**builder, celtypes.StringType(key): value})

            return add

        def check(builder: celtypes.MapType, verb: celtypes.StringType) -> celtypes.BoolType:
            def get(key: str) -> str | None:
                value = dict(builder).get(celtypes.StringType(key))
                return None if value is None else str(value)

            group, resource, namespace = get("group"), get("resource"), get("namespace")
            assert group is not None and resource is not None and namespace is not None
            name = get("name")
            return celtypes.BoolType(
                (group, resource, namespace, name, str(verb)) in self.grants
                or (group, resource, namespace, None, str(verb)) in self.grants
            )

        return {
            "group": step("group"),
            "resource": step("resource"),
            "namespace": step("namespace"),
            "name": step("name"),
            "check": check,
            "allowed": lambda decision: decision,
            "join": lambda items, sep: celtypes.StringType(str(sep).join(str(i) for i in items)),
        }


def _evaluate(expression: str, activation: dict[str, Any], functions: dict[str, Any]) -> Any:
    environment = celpy.Environment()
    program = environment.program(environment.compile(expression), functions=functions)
    result = program.evaluate(activation)
    if isinstance(result, Exception):
        raise result
    return result


def admit(obj: dict[str, Any], grants: set[Grant], old: dict[str, Any] | None = None) -> list[str]:
    """The messages of the validations that deny this request (empty: admitted)."""
    stored, rejections = CRD.admit(obj)
    assert [] == rejections
    functions = Authorizer(frozenset(grants)).functions()
    activation: dict[str, Any] = {
        "object": celpy.json_to_cel(stored),
        "oldObject": celpy.json_to_cel(CRD.admit(old)[0] if old else None),
        "request": celpy.json_to_cel(
            {
                "operation": "UPDATE" if old else "CREATE",
                "namespace": obj["metadata"]["namespace"],
            }
        ),
        "authorizer": celtypes.MapType({}),
    }
    variables: dict[str, Any] = {}
    for variable in POLICY["spec"]["variables"]:
        activation["variables"] = celtypes.MapType(variables)
        variables[celtypes.StringType(variable["name"])] = _evaluate(
            variable["expression"], activation, functions
        )
    activation["variables"] = celtypes.MapType(variables)
    denied = []
    for validation in POLICY["spec"]["validations"]:
        if not _evaluate(validation["expression"], activation, functions):
            denied.append(str(_evaluate(validation["messageExpression"], activation, functions)))
    return denied


SHOP = {
    "apiVersion": "werf.io/v1alpha1",
    "kind": "WerfBundle",
    "metadata": {"name": "shop", "namespace": "shop"},
    "spec": {
        "registry": {"url": "ghcr.io/acme/shop", "secretRef": {"name": "shop-registry"}},
        "converge": {
            "valuesFrom": [
                {"configMapRef": {"name": "shop-values"}},
                {"secretRef": {"name": "shop-secrets"}},
            ]
        },
    },
}
CROSS = {
    "apiVersion": "werf.io/v1alpha1",
    "kind": "WerfBundle",
    "metadata": {"name": "billing", "namespace": "platform"},
    "spec": {
        "registry": {"url": "ghcr.io/acme/billing"},
        "converge": {"targetNamespace": "payments", "serviceAccountName": "werf-deployer"},
    },
}
SHOP_OWNER: set[Grant] = {
    ("batch", "jobs", "shop", None, "create"),
    ("", "secrets", "shop", "shop-registry", "get"),
    ("", "secrets", "shop", "shop-secrets", "get"),
    ("", "configmaps", "shop", "shop-values", "get"),
}


def _changed(obj: dict[str, Any], change) -> dict[str, Any]:
    new = copy.deepcopy(obj)
    change(new)
    return new


def test_owner_who_could_do_it_by_hand_may_create_the_bundle():
    assert [] == admit(SHOP, SHOP_OWNER)


def test_namespace_wide_grants_count_like_named_ones():
    grants = {
        ("batch", "jobs", "shop", None, "create"),
        ("", "secrets", "shop", None, "get"),
        ("", "configmaps", "shop", None, "get"),
    }
    assert [] == admit(SHOP, grants)


def test_bundle_cannot_deploy_where_its_author_may_not_create_jobs():
    grants = {("batch", "jobs", "platform", None, "create")}

    assert [
        "you may not create Jobs in namespace payments, so you may not make a WerfBundle "
        "deploy there"
    ] == admit(CROSS, grants)


def test_author_with_job_rights_in_the_target_namespace_may_deploy_there():
    assert [] == admit(CROSS, {("batch", "jobs", "payments", None, "create")})


def test_bundle_cannot_name_a_secret_its_author_may_not_read():
    grants = SHOP_OWNER - {("", "secrets", "shop", "shop-secrets", "get")}

    assert [
        "you may not get every Secret this WerfBundle names in namespace shop: "
        "shop-registry, shop-secrets"
    ] == admit(SHOP, grants)


def test_bundle_cannot_name_a_secret_key_its_author_may_not_read():
    # werfop copies werf's secret key into the Job's inputs Secret in the target
    # namespace: naming it must need the right to read it, like every other input.
    with_key = _changed(
        SHOP, lambda b: b["spec"]["converge"].update(secretKeySecretRef={"name": "shop-werf-key"})
    )

    assert [
        "you may not get every Secret this WerfBundle names in namespace shop: "
        "shop-registry, shop-werf-key, shop-secrets"
    ] == admit(with_key, SHOP_OWNER)
    assert [] == admit(with_key, SHOP_OWNER | {("", "secrets", "shop", "shop-werf-key", "get")})


def test_bundle_cannot_name_a_config_map_its_author_may_not_read():
    grants = SHOP_OWNER - {("", "configmaps", "shop", "shop-values", "get")}

    assert [
        "you may not get every ConfigMap this WerfBundle names in namespace shop: shop-values"
    ] == admit(SHOP, grants)


def test_metadata_only_updates_are_not_checked():
    """The operator's finalizer patches and a user's werf.io/retry annotation change no spec."""
    annotated = _changed(
        CROSS,
        lambda o: o["metadata"].update(
            annotations={"werf.io/retry": "2"}, finalizers=["werf.io/finalizer"]
        ),
    )
    assert [] == admit(annotated, set(), old=CROSS)


def test_a_spec_update_is_checked_like_a_create():
    moved = _changed(CROSS, lambda o: o["spec"]["converge"].update(targetNamespace="kube-system"))

    assert [
        "you may not create Jobs in namespace kube-system, so you may not make a WerfBundle "
        "deploy there"
    ] == admit(moved, {("batch", "jobs", "payments", None, "create")}, old=CROSS)


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("failurePolicy", "Fail"),
        (
            "matchConstraints",
            {
                "resourceRules": [
                    {
                        "apiGroups": ["werf.io"],
                        "apiVersions": ["*"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["werfbundles"],  # not werfbundles/status: werfop's writes
                    }
                ]
            },
        ),
    ],
)
def test_policy_fails_closed_and_matches_bundle_writes_only(field, expected):
    assert expected == POLICY["spec"][field]


def test_binding_denies_with_the_policy():
    assert (POLICY["metadata"]["name"], ["Deny"]) == (
        BINDING["spec"]["policyName"],
        BINDING["spec"]["validationActions"],
    )
