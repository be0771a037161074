"""The manifests under deploy/ and the werf Job we render: valid for Kubernetes (checked
offline with kubernetes-validate's bundled schemas), every pod template admitted by the
*restricted* Pod Security Standard, and the operator's Deployment consistent with the
flags, ports and names the code uses."""

from __future__ import annotations

import re
import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import attrs
import kubernetes_validate
import pytest
import yaml

from werfop.api.codec import decode_bundle
from werfop.core import jobspec
from werfop.core.model import Inputs, Sensitive, ValuesFile
from werfop.main import _parser
from werfop.runtime.http import parse_addr

from .manifests import (
    DEPLOY,
    NAMESPACE,
    SERVICE_ACCOUNT,
    all_objects,
    example_objects,
    find,
    flag,
    manifest_files,
    operator_container,
    operator_deployment,
)
from .podsecurity import restricted_violations

# The oldest Kubernetes we support (ValidatingAdmissionPolicy is v1 since 1.30) and the
# newest whose schemas kubernetes-validate ships.
KUBERNETES_VERSIONS = ["1.30.0", kubernetes_validate.utils.latest_version()]
# Prometheus Operator CRDs; checked by hand below and in test_monitoring.py
NO_BUILTIN_SCHEMA = {"ServiceMonitor", "PrometheusRule"}
DIGEST = "sha256:" + "b" * 64


def rendered_jobs() -> list[tuple[str, dict[str, Any]]]:
    """werf Jobs as the core renders them for the examples (apply, drift plan, uninstall),
    with every volume and env variant: values files, registry credentials, a custom CA,
    another target namespace."""
    out = []
    for obj in example_objects():
        if obj["kind"] != "WerfBundle":
            continue
        obj = {**obj, "metadata": {**obj["metadata"], "uid": f"uid-{obj['metadata']['name']}"}}
        bundle, problems = decode_bundle(obj)
        assert bundle is not None and bundle.spec is not None, problems
        inputs = Inputs(
            values_files=(
                ValuesFile(name="values-00.yaml", content=Sensitive("replicas: 2\n")),
                ValuesFile(name="values-inline.yaml", content=Sensitive("tls: true\n")),
            ),
            values_hash="v1",
            docker_config=Sensitive('{"auths": {}}'),
            ca_cert=Sensitive("-----BEGIN CERTIFICATE-----\n"),
        )
        name = obj["metadata"]["name"]
        for variant, given in (("plain", Inputs(values_hash="v0")), ("all-inputs", inputs)):
            with_inputs = attrs.evolve(bundle, inputs=given)
            version = {"tag": "1.0.0", "digest": DIGEST, "values_hash": given.values_hash}
            apply, _, _ = jobspec.render_apply_job(with_inputs, bundle.spec, **version, attempt=1)
            plan, _, _ = jobspec.render_plan_job(with_inputs, bundle.spec, **version, check=1)
            out += [(f"apply-{name}-{variant}", apply), (f"plan-{name}-{variant}", plan)]
        out.append((f"uninstall-{name}", jobspec.render_uninstall_job(bundle, bundle.spec, 1)))
    return out


JOBS = rendered_jobs()
OBJECTS = [(path, obj) for path, obj in all_objects()]


def _id(path: Path, obj: dict[str, Any]) -> str:
    return f"{path.relative_to(DEPLOY)}:{obj['kind']}/{obj['metadata']['name']}"


# --- schemas ------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize(
    "obj",
    [pytest.param(o, id=_id(p, o)) for p, o in OBJECTS if o["kind"] not in NO_BUILTIN_SCHEMA]
    + [pytest.param(job, id=f"rendered-job:{name}") for name, job in JOBS],
)
def test_manifest_is_valid_against_the_kubernetes_schema(obj, version):
    kubernetes_validate.validate(obj, version, strict=True)  # raises ValidationError


def test_only_the_prometheus_operator_objects_lack_a_builtin_schema_and_the_monitor_selects_the_metrics_service():
    without = {o["kind"] for _, o in OBJECTS if o["kind"] in NO_BUILTIN_SCHEMA}
    monitor = find("ServiceMonitor", "werfop", NAMESPACE)
    service = find("Service", "werfop-metrics", NAMESPACE)
    (endpoint,) = monitor["spec"]["endpoints"]

    assert NO_BUILTIN_SCHEMA == without
    assert "monitoring.coreos.com/v1" == monitor["apiVersion"]
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert endpoint["port"] in [p["name"] for p in service["spec"]["ports"]]
    assert "/metrics" == endpoint["path"]


# --- the operator's namespace and Deployment -------------------------------------------------------


def test_operator_namespace_enforces_the_restricted_pod_security_standard():
    labels = find("Namespace", NAMESPACE)["metadata"]["labels"]

    assert "restricted" == labels["pod-security.kubernetes.io/enforce"]


def test_every_namespaced_object_lives_in_the_operator_namespace():
    cluster_scoped = {
        "Namespace",
        "CustomResourceDefinition",
        "ClusterRole",
        "ClusterRoleBinding",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    }
    misplaced = [
        _id(p, o)
        for p, o in OBJECTS
        if (o["kind"] in cluster_scoped) == ("namespace" in o["metadata"])
        or o["metadata"].get("namespace", NAMESPACE) != NAMESPACE
    ]
    assert [] == misplaced


def test_deployment_runs_two_replicas_with_leader_election_as_the_operator_account():
    deployment = operator_deployment()
    pod = deployment["spec"]["template"]
    args = operator_container()["args"]

    assert 2 == deployment["spec"]["replicas"]
    assert SERVICE_ACCOUNT == pod["spec"]["serviceAccountName"]
    assert "" == flag(args, "leader-elect")
    assert (
        deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    )


def test_deployment_arguments_are_accepted_by_werfop_run():
    parsed = _parser().parse_args(["run", *operator_container()["args"]])

    assert (True, "werfop-leader", "json") == (
        parsed.leader_elect,
        parsed.leader_election_id,
        parsed.log_format,
    )


def test_probes_and_ports_point_at_the_addresses_werfop_run_listens_on():
    container = operator_container()
    args = container["args"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    liveness, readiness = container["livenessProbe"], container["readinessProbe"]

    assert parse_addr(flag(args, "health-addr") or ":8081")[1] == ports["health"]
    assert parse_addr(flag(args, "metrics-addr") or ":8080")[1] == ports["metrics"]
    assert ("/healthz", "health") == (liveness["httpGet"]["path"], liveness["httpGet"]["port"])
    assert ("/readyz", "health") == (readiness["httpGet"]["path"], readiness["httpGet"]["port"])


def test_metrics_service_and_disruption_budget_select_the_operator_pods():
    pod_labels = operator_deployment()["spec"]["template"]["metadata"]["labels"]
    service = find("Service", "werfop-metrics", NAMESPACE)
    budget = find("PodDisruptionBudget", "werfop", NAMESPACE)

    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert "metrics" == service["spec"]["ports"][0]["targetPort"]
    assert budget["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert 1 == budget["spec"]["minAvailable"]


def test_operator_container_has_requests_limits_and_a_read_only_root_filesystem():
    container = operator_container()
    resources = container["resources"]

    assert {"cpu", "memory"} == set(resources["requests"]) == set(resources["limits"])
    assert True is container["securityContext"]["readOnlyRootFilesystem"]


# --- pod security --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pod_spec",
    [pytest.param(operator_deployment()["spec"]["template"]["spec"], id="operator-deployment")]
    + [pytest.param(job["spec"]["template"]["spec"], id=f"werf-job:{name}") for name, job in JOBS],
)
def test_pod_template_meets_the_restricted_pod_security_standard(pod_spec):
    assert [] == restricted_violations(pod_spec)
    assert [] == [
        c["name"]
        for c in pod_spec["containers"]
        if c.get("securityContext", {}).get("readOnlyRootFilesystem") is not True
    ]


def test_every_pod_template_under_deploy_is_checked():
    templates = [_id(p, o) for p, o in OBJECTS if "template" in o.get("spec", {})]

    assert ["manager/deployment.yaml:Deployment/werfop"] == templates


# --- kustomize ------------------------------------------------------------------------------------


def _kustomized_files(directory: Path) -> list[Path]:
    """Manifest files a kustomization reaches through its resources, recursively."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    files: list[Path] = []
    for entry in kustomization["resources"]:
        target = (directory / entry).resolve()
        assert target.exists(), f"{directory / 'kustomization.yaml'} lists missing {entry}"
        files += _kustomized_files(target) if target.is_dir() else [target]
    return files


OPTIONAL = [DEPLOY / "monitoring", DEPLOY / "optional" / "watch-labelled-secrets"]


def is_optional(path: Path) -> bool:
    return any(directory in path.parents for directory in OPTIONAL)


def test_kubectl_apply_k_deploy_installs_every_manifest_but_the_optional_ones():
    reached = sorted(_kustomized_files(DEPLOY))

    assert sorted(set(reached)) == reached, "a manifest is listed twice"
    assert sorted(p for p in manifest_files() if not is_optional(p)) == reached
    assert sorted(p for p in manifest_files() if is_optional(p)) == sorted(
        f for d in OPTIONAL for f in _kustomized_files(d)
    )


KUBECTL = shutil.which("kubectl")
needs_kubectl = pytest.mark.skipif(
    KUBECTL is None, reason="kubectl (with its built-in kustomize) is not installed"
)


def _objects_of(text: str) -> list[tuple[str, str, str | None]]:
    return sorted(
        (d["kind"], d["metadata"]["name"], d["metadata"].get("namespace"))
        for d in yaml.safe_load_all(text)
        if d
    )


@needs_kubectl
def test_kubectl_kustomize_builds_every_manifest_with_the_default_image():
    built = subprocess.run(
        [KUBECTL, "kustomize", str(DEPLOY)], capture_output=True, text=True, check=True
    ).stdout
    deployment = next(d for d in yaml.safe_load_all(built) if d and d["kind"] == "Deployment")

    expected = [
        (o["kind"], o["metadata"]["name"], o["metadata"].get("namespace"))
        for p, o in OBJECTS
        if not is_optional(p)
    ]
    assert sorted(expected) == _objects_of(built)
    assert "werfop:0.1.0" == deployment["spec"]["template"]["spec"]["containers"][0]["image"]


@needs_kubectl
@pytest.mark.parametrize(
    ("img", "expected"),
    [
        (
            "registry.example.com:5000/team/werfop:1.2.3",
            "registry.example.com:5000/team/werfop:1.2.3",
        ),
        (f"ghcr.io/acme/werfop@{DIGEST}", f"ghcr.io/acme/werfop@{DIGEST}"),
        ("registry.example.com:5000/werfop", "registry.example.com:5000/werfop:latest"),
        ("werfop:dev", "werfop:dev"),
    ],
)
def test_make_deploy_sets_exactly_the_image_given_as_img(img, expected):
    built = subprocess.run(
        [str(DEPLOY / "scripts" / "kustomize.sh"), img],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    images = [
        c["image"]
        for d in yaml.safe_load_all(built)
        if d and d["kind"] == "Deployment"
        for c in d["spec"]["template"]["spec"]["containers"]
    ]
    assert [expected] == images


# --- the examples in the docs ---------------------------------------------------------------------

DOCS = [DEPLOY.parent / "docs" / "job-rbac.md", DEPLOY.parent / "docs" / "install.md"]


def doc_objects() -> list[tuple[str, dict[str, Any]]]:
    """Kubernetes objects in the docs' yaml blocks (not fragments, not kustomizations)."""
    out = []
    for doc in DOCS:
        for block in re.findall(r"```yaml\n(.*?)```", doc.read_text(), flags=re.S):
            for obj in yaml.safe_load_all(textwrap.dedent(block)):
                if isinstance(obj, dict) and "kind" in obj and obj["kind"] != "Kustomization":
                    out.append((f"{doc.name}:{obj['kind']}/{obj['metadata']['name']}", obj))
    return out


@pytest.mark.parametrize(("where", "obj"), [pytest.param(w, o, id=w) for w, o in doc_objects()])
def test_objects_in_the_docs_are_valid_kubernetes_objects(where, obj):
    kubernetes_validate.validate(obj, KUBERNETES_VERSIONS[0], strict=True)


def test_docs_show_a_narrow_and_a_broad_role_for_the_werf_service_account():
    kinds = [where.split(":")[1] for where, _ in doc_objects() if where.startswith("job-rbac")]

    assert {
        "Role/werf-deployer",
        "RoleBinding/werf-deployer-admin",
        "ServiceAccount/werf-deployer",
    } <= set(kinds)
