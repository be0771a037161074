"""The werf Job as rendered: names, labels, command, and what must never be in it."""

import re
from datetime import timedelta

import pytest

from werfop.core import jobspec
from werfop.core.model import (
    Bundle,
    BundleSpec,
    BundleStatus,
    ConvergeSpec,
    Inputs,
    Meta,
    RegistrySpec,
    Sensitive,
    ValuesFile,
)

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def _bundle(name="shop", namespace="apps", target=None, sa=None, insecure=False, inputs=None):
    spec = BundleSpec(
        registry=RegistrySpec(url="ghcr.io/acme/shop", insecure=insecure),
        converge=ConvergeSpec(
            target_namespace=target, service_account_name=sa, timeout=timedelta(minutes=10)
        ),
    )
    meta = Meta(namespace=namespace, name=name, uid="uid-1")
    return Bundle(meta=meta, spec=spec, inputs=inputs or Inputs()), spec


def _render_kind(kind, bundle, spec):
    """The Job of each kind the operator renders, for tests that hold for all three."""
    if kind == "apply":
        return _render(bundle, spec)[0]
    if kind == "plan":
        return jobspec.render_plan_job(
            bundle, spec, tag="1.2.0", digest="sha256:" + "a" * 64, values_hash="h", check=1
        )[0]
    return jobspec.render_uninstall_job(bundle, spec, 1)


KINDS = ["apply", "plan", "uninstall"]


def _render(bundle, spec, attempt=1):
    return jobspec.render_apply_job(
        bundle, spec, tag="1.2.0", digest="sha256:" + "a" * 64, values_hash="h", attempt=attempt
    )


def test_command_is_exactly_werf_bundle_apply():
    bundle, spec = _bundle(
        inputs=Inputs(values_files=(ValuesFile(name="values-00.yaml", content=Sensitive("a: 1")),))
    )
    job, _, _ = _render(bundle, spec)
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert [
        "werf",
        "bundle",
        "apply",
        "--repo",
        "ghcr.io/acme/shop",
        "--tag",
        "1.2.0",
        "--release",
        "shop",
        "--namespace",
        "apps",
        "--timeout",
        "600",
        "--values",
        "/werfop/inputs/values-00.yaml",
    ] == container["command"]


def test_insecure_registry_adds_the_flag():
    bundle, spec = _bundle(insecure=True)
    job, _, _ = _render(bundle, spec)
    assert "--insecure-registry" in job["spec"]["template"]["spec"]["containers"][0]["command"]


def test_secrets_travel_only_as_files():
    canary = "canary-Zq81"
    inputs = Inputs(
        values_files=(ValuesFile(name="values-00.yaml", content=Sensitive(f"pw: {canary}")),),
        docker_config=Sensitive(f'{{"auths": {{"x": {{"auth": "{canary}"}}}}}}'),
    )
    bundle, spec = _bundle(inputs=inputs)
    job, secret_name, files = _render(bundle, spec)
    assert canary not in repr(job)
    assert canary not in repr(files)
    assert {"values-00.yaml", "docker-config.json"} == {name for name, _ in files}
    env = {e["name"]: e["value"] for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert "/werfop/docker" == env["DOCKER_CONFIG"]
    assert secret_name == job["spec"]["template"]["spec"]["volumes"][0]["secret"]["secretName"]


@pytest.mark.parametrize(
    "name", ["a", "shop", "x" * 253, "my.bundle.with.dots", "UPPER-not-allowed"]
)
@pytest.mark.parametrize("attempt", [1, 9])
def test_job_name_is_a_valid_dns_label_at_most_63(name, attempt):
    bundle, spec = _bundle(name=name)
    job, _, _ = _render(bundle, spec, attempt)
    assert len(job["metadata"]["name"]) <= 63
    assert DNS_LABEL.match(job["metadata"]["name"])
    for value in job["metadata"]["labels"].values():
        assert LABEL_VALUE.match(value) and len(value) <= 63


def test_job_name_is_deterministic_and_changes_with_the_attempt():
    bundle, spec = _bundle()
    assert _render(bundle, spec)[0] == _render(bundle, spec)[0]
    assert (
        _render(bundle, spec, 1)[0]["metadata"]["name"]
        != _render(bundle, spec, 2)[0]["metadata"]["name"]
    )


def test_owner_reference_only_within_the_bundle_namespace():
    same, spec = _bundle()
    assert "ownerReferences" in _render(same, spec)[0]["metadata"]
    other, spec = _bundle(target="prod", sa="deployer")
    job = _render(other, spec)[0]
    assert "ownerReferences" not in job["metadata"]
    assert "prod" == job["metadata"]["namespace"]
    assert "deployer" == job["spec"]["template"]["spec"]["serviceAccountName"]


def test_job_is_bounded_and_restricted():
    bundle, spec = _bundle()
    job = _render(bundle, spec)[0]
    assert 0 == job["spec"]["backoffLimit"]
    assert 600 + 300 == job["spec"]["activeDeadlineSeconds"]
    assert 7 * 86400 == job["spec"]["ttlSecondsAfterFinished"]
    pod = job["spec"]["template"]["spec"]
    assert "Never" == pod["restartPolicy"]
    sc = pod["containers"][0]["securityContext"]
    assert (False, ["ALL"], True, True) == (
        sc["allowPrivilegeEscalation"],
        sc["capabilities"]["drop"],
        sc["readOnlyRootFilesystem"],
        sc["runAsNonRoot"],
    )
    assert "RuntimeDefault" == pod["securityContext"]["seccompProfile"]["type"]


def test_annotations_carry_the_exact_identity():
    bundle, spec = _bundle()
    annotations = _render(bundle, spec, 2)[0]["metadata"]["annotations"]
    assert {
        "werf.io/bundle": "apps/shop",
        "werf.io/tag": "1.2.0",
        "werf.io/digest": "sha256:" + "a" * 64,
        "werf.io/values-hash": "h",
        "werf.io/attempt": "2",
    } == annotations


def test_plan_command_has_no_timeout_and_asks_for_exit_codes():
    # werf v2.75.0 cmd/werf/bundle/plan/plan.go:70-114 never calls SetupTrackingFlags
    # (the only --timeout, cmd/werf/common/common.go:1158); --exit-code is plan.go:127.
    bundle, spec = _bundle(
        insecure=True,
        inputs=Inputs(values_files=(ValuesFile(name="values-00.yaml", content=Sensitive("")),)),
    )
    job, _, _ = jobspec.render_plan_job(
        bundle, spec, tag="1.2.0", digest="sha256:" + "a" * 64, values_hash="h", check=3
    )
    assert [
        "werf",
        "bundle",
        "plan",
        "--repo",
        "ghcr.io/acme/shop",
        "--tag",
        "1.2.0",
        "--release",
        "shop",
        "--namespace",
        "apps",
        "--values",
        "/werfop/inputs/values-00.yaml",
        "--insecure-registry",
        "--exit-code",
    ] == job["spec"]["template"]["spec"]["containers"][0]["command"]


def test_uninstall_ignores_a_release_that_is_not_there():
    # 3p-helm-for-werf-helm@089f92cd (werf v2.75.0's go.mod:61) cmd/helm/uninstall.go:91.
    bundle, spec = _bundle(target="prod", sa="deployer")
    job = jobspec.render_uninstall_job(bundle, spec, 1)
    assert [
        "werf",
        "helm",
        "uninstall",
        "shop",
        "--namespace",
        "prod",
        "--ignore-not-found",
        "--wait",
        "--timeout",
        "600s",
    ] == job["spec"]["template"]["spec"]["containers"][0]["command"]


@pytest.mark.parametrize("kind", KINDS)
def test_every_job_turns_werfs_container_backend_and_telemetry_off(kind):
    # WERF_BUILDAH_MODE=docker is ModeDisabled (cmd/werf/common/container_backend.go:65-66):
    # the start-up hook (container_backend.go:32-34, main.go:40) does not unshare.
    bundle, spec = _bundle()
    pod = _render_kind(kind, bundle, spec)["spec"]["template"]["spec"]
    env = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}
    assert ("docker", "0") == (env["WERF_BUILDAH_MODE"], env["WERF_TELEMETRY"])
    assert pod["enableServiceLinks"] is False


@pytest.mark.parametrize("kind", KINDS)
def test_every_job_runs_at_most_timeout_plus_the_margin(kind):
    bundle, spec = _bundle()
    assert 600 + 300 == _render_kind(kind, bundle, spec)["spec"]["activeDeadlineSeconds"]


def test_uninstall_job_names_no_inputs_secret_even_with_credentials_and_a_ca():
    inputs = Inputs(docker_config=Sensitive("{}"), ca_cert=Sensitive("-----BEGIN"))
    bundle, spec = _bundle(inputs=inputs)
    bundle = Bundle(meta=bundle.meta, spec=spec, inputs=inputs, status=BundleStatus())
    job = jobspec.render_uninstall_job(bundle, spec, 1)
    pod = job["spec"]["template"]["spec"]
    assert ["home", "werf-home", "tmp"] == [v["name"] for v in pod["volumes"]]
    assert "inputs" not in repr(pod)
    env = {e["name"] for e in pod["containers"][0]["env"]}
    assert not env & {"DOCKER_CONFIG", "SSL_CERT_DIR"}
