"""``werfop validate``: each kind of problem is one ``file:document:field: message`` line
(documents counted from 1), errors exit 2, warnings alone exit 0."""

from __future__ import annotations

from pathlib import Path

import pytest

from werfop.main import main

BUNDLE = """\
apiVersion: werf.io/v1alpha1
kind: WerfBundle
metadata: {{name: shop, namespace: default}}
spec:
  registry: {{url: ghcr.io/acme/shop{registry}}}
  converge: {{{converge}}}
"""


def _bundle(registry: str = "", converge: str = "") -> str:
    return BUNDLE.format(registry=registry, converge=converge)


def _validate(tmp_path: Path, capsys, text: str, *more: str) -> tuple[int, list[str], str]:
    path = tmp_path / "m.yaml"
    path.write_text(text)
    code = main(["validate", str(path), *more])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


CONFIG_MAP = """\
---
apiVersion: v1
kind: ConfigMap
metadata: {name: shop-values, namespace: default}
data: {"values.yaml": "replicas: 2"}
"""


@pytest.mark.parametrize(
    ("text", "line"),
    [
        pytest.param(
            _bundle(", pollInterval: 5s"),
            "1:spec.registry.pollInterval: must be between 30s and 24h",
            id="schema-bound",
        ),
        pytest.param(
            _bundle(", colour: red"),
            "1:spec.registry.colour: unknown field",
            id="schema-unknown-field",
        ),
        pytest.param(
            _bundle(', versionConstraint: "banana"'),
            "1:spec.registry.versionConstraint: alternative 1: 'banana' is not a version",
            id="semver-constraint",
        ),
        pytest.param(
            _bundle(', tagFilter: {include: "^(a)\\\\1$"}'),
            "1:spec.registry.tagFilter.include:",
            id="re2-backreference",
        ),
        pytest.param(
            _bundle(converge="targetNamespace: prod"),
            "1:spec.converge.serviceAccountName: required to deploy from namespace 'default' "
            "into namespace 'prod'",
            id="cross-namespace-without-service-account",
        ),
        pytest.param(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n",
            "1:kind: must be one of Namespace, ServiceAccount, ConfigMap, Secret, WerfBundle, not 'Pod'",
            id="unknown-kind",
        ),
        pytest.param(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n",
            "1:metadata.name: is required",
            id="no-name",
        ),
        pytest.param(
            CONFIG_MAP + CONFIG_MAP,
            "2:-: ConfigMap default/shop-values is defined twice",
            id="duplicate",
        ),
        pytest.param(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [x}\n",
            "1:-: not valid YAML: while parsing a flow sequence (line 3, column 20)",
            id="yaml-syntax",
        ),
        pytest.param(
            _bundle(converge="valuesFrom: [{configMapRef: {name: shop-values}, key: other.yaml}]")
            + CONFIG_MAP,
            "1:spec.converge.valuesFrom[0].configMapRef.name: ConfigMap default/shop-values "
            "has no key 'other.yaml'",
            id="present-config-map-without-the-key",
        ),
        pytest.param(
            _bundle(converge="valuesFrom: [{configMapRef: {name: shop-values}}]")
            + CONFIG_MAP.replace("replicas: 2", "[not: a mapping"),
            "1:spec.converge.valuesFrom[0].configMapRef.name:",
            id="present-values-that-are-not-yaml",
        ),
        pytest.param(
            _bundle(", secretRef: {name: creds}")
            + "---\napiVersion: v1\nkind: Secret\nmetadata: {name: creds}\n"
            "stringData: {registrytoken: abc}\n",
            "1:spec.registry.secretRef.name: Secret default/creds: type Opaque has neither",
            id="present-registry-secret-werf-cannot-use",
        ),
        pytest.param(
            _bundle(converge="targetNamespace: prod, serviceAccountName: werf")
            + "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: prod}\n",
            "1:spec.converge.targetNamespace: namespace 'prod' does not accept bundles from "
            "'default'",
            id="present-namespace-that-does-not-accept",
        ),
    ],
)
def test_an_error_is_one_line_naming_file_document_and_field(tmp_path, capsys, text, line):
    code, out, _ = _validate(tmp_path, capsys, text)

    assert 2 == code
    prefix = f"{tmp_path / 'm.yaml'}:"
    assert any(o.startswith(prefix + line) for o in out), out


def test_the_document_is_counted_from_one_across_the_file(tmp_path, capsys):
    text = CONFIG_MAP.removeprefix("---\n") + "---\n" + _bundle(", pollInterval: 5s")

    code, out, _ = _validate(tmp_path, capsys, text)

    assert 2 == code
    assert [
        f"{tmp_path / 'm.yaml'}:2:spec.registry.pollInterval: must be between 30s and 24h"
    ] == out


@pytest.mark.parametrize(
    ("converge", "registry", "field", "what"),
    [
        pytest.param(
            "valuesFrom: [{configMapRef: {name: other}}]",
            "",
            "spec.converge.valuesFrom[0].configMapRef.name",
            "ConfigMap default/other",
            id="config-map",
        ),
        pytest.param(
            "valuesFrom: [{secretRef: {name: vals}}]",
            "",
            "spec.converge.valuesFrom[0].secretRef.name",
            "Secret default/vals",
            id="values-secret",
        ),
        pytest.param(
            "",
            ", secretRef: {name: creds}",
            "spec.registry.secretRef.name",
            "Secret default/creds",
            id="registry-secret",
        ),
        pytest.param(
            "",
            ", caSecretRef: {name: ca}",
            "spec.registry.caSecretRef.name",
            "Secret default/ca",
            id="ca-secret",
        ),
        pytest.param(
            "secretKeySecretRef: {name: key}",
            "",
            "spec.converge.secretKeySecretRef.name",
            "Secret default/key",
            id="werf-secret-key",
        ),
        pytest.param(
            "serviceAccountName: werf",
            "",
            "spec.converge.serviceAccountName",
            "ServiceAccount default/werf",
            id="service-account",
        ),
        pytest.param(
            "targetNamespace: prod, serviceAccountName: werf",
            "",
            "spec.converge.targetNamespace",
            "Namespace prod",
            id="target-namespace",
        ),
    ],
)
def test_a_reference_absent_from_the_files_is_a_warning(
    tmp_path, capsys, converge, registry, field, what
):
    code, out, err = _validate(tmp_path, capsys, _bundle(registry, converge))

    assert 0 == code, out
    assert (
        f"{tmp_path / 'm.yaml'}:1:{field}: warning: {what} is not among the given files "
        "(fine if it exists in the cluster)"
    ) in out
    assert not [o for o in out if ": warning: " not in o]
    assert "0 errors" in err


def test_an_absent_optional_values_source_is_not_reported(tmp_path, capsys):
    text = _bundle(converge="valuesFrom: [{configMapRef: {name: other}, optional: true}]")

    assert (0, []) == _validate(tmp_path, capsys, text)[:2]


def test_present_references_that_are_fine_give_no_line(tmp_path, capsys):
    text = (
        _bundle(
            converge="targetNamespace: prod, serviceAccountName: werf, "
            "valuesFrom: [{configMapRef: {name: shop-values}}]"
        )
        + CONFIG_MAP
        + "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: prod, annotations: "
        "{werf.io/accept-bundles-from: default}}\n"
        + "---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: werf, namespace: prod}\n"
    )

    assert (0, []) == _validate(tmp_path, capsys, text)[:2]


def test_a_folder_is_read_and_its_scenario_skipped_with_a_note(capsys):
    examples = Path(__file__).resolve().parents[2] / "examples"

    code = main(["validate", str(examples)])

    captured = capsys.readouterr()
    assert (0, "") == (code, captured.out)
    assert f"note: {examples / 'scenario.yaml'}: skipped, a scenario\n" in captured.err


def test_a_missing_path_is_an_error(tmp_path, capsys):
    code = main(["validate", str(tmp_path / "nope.yaml")])

    assert 2 == code
    assert [f"{tmp_path / 'nope.yaml'}:-:-: no such file or directory"] == (
        capsys.readouterr().out.splitlines()
    )


def test_no_cross_namespace_refuses_another_target_as_the_operator_would(tmp_path, capsys):
    text = (
        _bundle(converge="targetNamespace: prod, serviceAccountName: werf")
        + "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: prod, annotations: "
        "{werf.io/accept-bundles-from: '*'}}\n"
        + "---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: werf, namespace: prod}\n"
    )
    assert (0, []) == _validate(tmp_path, capsys, text)[:2]

    code, out, _ = _validate(tmp_path, capsys, text, "--no-cross-namespace")

    assert 2 == code
    assert [
        f"{tmp_path / 'm.yaml'}:1:spec.converge.targetNamespace: deploying from 'default' into "
        "'prod' is disabled on this operator (--no-cross-namespace)"
    ] == out


def test_a_scenario_named_as_a_path_is_skipped_with_a_note(tmp_path, capsys):
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text("until: 1h\n")

    code = main(["validate", str(scenario)])

    captured = capsys.readouterr()
    assert (0, "") == (code, captured.out)
    assert f"note: {scenario}: skipped, a scenario\n" in captured.err
