"""werf's secret key (``spec.converge.secretKeySecretRef``): read from a Secret like the
other inputs, delivered to the Job only as the file ``$WERF_HOME/global_secret_key``,
never in an argument, a variable, a problem message or a repr."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from werfop.adapters.memory import ManualClock, MemoryCluster
from werfop.adapters.scripted_registry import ScriptedRegistry
from werfop.api.codec import spec_from_json, validate_spec
from werfop.core import jobspec
from werfop.core.model import (
    Bundle,
    BundleSpec,
    ConvergeSpec,
    Inputs,
    Meta,
    RegistrySpec,
    SecretKeyRef,
    Sensitive,
)
from werfop.runtime.observe import Observer
from werfop.runtime.registry_economy import RegistryEconomy

T0 = datetime(2026, 1, 1, tzinfo=UTC)
KEY = "canary-secret-key-0c4f7e"
META = Meta(namespace="default", name="shop", uid="uid-1")
SPEC = BundleSpec(
    registry=RegistrySpec(url="ghcr.io/acme/shop"),
    converge=ConvergeSpec(secret_key=SecretKeyRef(name="werf-key")),
)
PATH = "spec.converge.secretKeySecretRef.name"


def observer_with(data: dict[str, str] | None) -> Observer:
    clock = ManualClock(T0)
    cluster = MemoryCluster(clock)
    if data is not None:
        cluster.create(
            "Secret",
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "werf-key", "namespace": "default"},
                "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
            },
        )
    return Observer(cluster, RegistryEconomy(ScriptedRegistry(clock), clock), clock)


def test_the_schema_defaults_the_key_and_the_codec_reads_the_reference() -> None:
    raw = {
        "registry": {"url": "ghcr.io/acme/shop"},
        "converge": {"secretKeySecretRef": {"name": "werf-key"}},
    }
    value, problems = validate_spec(raw)
    assert [] == problems
    assert (
        SecretKeyRef(name="werf-key", key="secret-key") == spec_from_json(value).converge.secret_key
    )


def test_the_key_is_read_trimmed_and_kept_for_log_redaction() -> None:
    observer = observer_with({"secret-key": KEY + "\n"})

    inputs, _ = observer._inputs(META, SPEC)

    assert Sensitive(KEY) == inputs.secret_key
    assert Sensitive(KEY) in inputs.secret_values
    assert () == inputs.problems
    assert {"default/shop"} == observer.referrers[("default", "Secret", "werf-key")]


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        pytest.param(None, "Secret default/werf-key not found", id="no-secret"),
        pytest.param({"other": KEY}, "has no key 'secret-key'", id="no-key"),
        pytest.param({"secret-key": " \n"}, "key 'secret-key' is empty", id="empty"),
    ],
)
def test_a_missing_key_is_a_problem_on_the_field_that_never_quotes_a_value(
    data: dict[str, str] | None, fragment: str
) -> None:
    inputs, _ = observer_with(data)._inputs(META, SPEC)

    [problem] = inputs.problems
    assert (PATH, True) == (problem.path, fragment in problem.message)
    assert KEY not in repr(inputs)
    assert None is inputs.secret_key


def _bundle() -> Bundle:
    return Bundle(meta=META, spec=SPEC, inputs=Inputs(secret_key=Sensitive(KEY)))


@pytest.mark.parametrize("kind", ["apply", "plan"])
def test_the_job_gets_the_key_as_the_file_werf_home_global_secret_key(kind: str) -> None:
    bundle = _bundle()
    render = jobspec.render_apply_job if kind == "apply" else jobspec.render_plan_job
    extra = {"attempt": 1} if kind == "apply" else {"check": 1}
    job, secret_name, files = render(
        bundle, SPEC, tag="1.0.0", digest="sha256:" + "a" * 64, values_hash="h", **extra
    )
    pod = job["spec"]["template"]["spec"]
    [container] = pod["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["name"]: m for m in container["volumeMounts"]}

    assert ("werf-secret-key", Sensitive(KEY)) in files
    assert "/home/werf/.werf" == env["WERF_HOME"]
    assert {
        "secretName": secret_name,
        "defaultMode": 0o440,
        "items": [{"key": "werf-secret-key", "path": "global_secret_key"}],
    } == volumes["secret-key"]["secret"]
    assert {
        "name": "secret-key",
        "mountPath": "/home/werf/.werf/global_secret_key",
        "subPath": "global_secret_key",
        "readOnly": True,
    } == mounts["secret-key"]
    assert "/home/werf/.werf" == mounts["werf-home"]["mountPath"]
    assert {"emptyDir": {}} == {k: v for k, v in volumes["werf-home"].items() if k != "name"}
    assert KEY not in repr(job)
    assert not {"WERF_SECRET_KEY", "WERF_OLD_SECRET_KEY"} & set(env)
    assert not any("secret-key" in arg for arg in container["command"])


def test_the_uninstall_job_does_not_get_the_key() -> None:
    job = jobspec.render_uninstall_job(_bundle(), SPEC, 1)
    assert "secret-key" not in repr(job["spec"]["template"]["spec"]["volumes"])


CA_SPEC = BundleSpec(registry=RegistrySpec(url="ghcr.io/acme/shop", ca_secret_name="werf-key"))


def test_the_registry_ca_secret_is_read_like_the_other_input_secrets() -> None:
    """A referrer, so that a labelled CA Secret's change wakes its bundle (it did not)."""
    observer = observer_with({"ca.crt": "-----BEGIN CERTIFICATE-----\n"})

    inputs = observer.inputs(META, CA_SPEC)

    assert Sensitive("-----BEGIN CERTIFICATE-----\n") == inputs.ca_cert
    assert {"default/shop"} == observer.referrers[("default", "Secret", "werf-key")]


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        pytest.param(None, "Secret default/werf-key not found", id="no-secret"),
        pytest.param({"other": "x"}, "has no key 'ca.crt'", id="no-key"),
        pytest.param({"ca.crt": " "}, "key 'ca.crt' is empty", id="empty"),
    ],
)
def test_a_missing_ca_is_a_problem_on_its_field(data: dict[str, str] | None, fragment: str) -> None:
    inputs = observer_with(data).inputs(META, CA_SPEC)
    [problem] = inputs.problems
    assert "spec.registry.caSecretRef.name" == problem.path
    assert fragment in problem.message
    assert inputs.ca_cert is None
