"""Render the werf Job and its inputs Secret from a decision: pure, deterministic data.

Role: names (at most 63 characters, stable for the same inputs), labels (always valid
label values), the restricted pod, and the exact ``werf bundle apply`` command.
Must not: talk to the API, or put a value or a credential in an argument or an
environment variable: those travel as files of a Secret owned by the Job.
Neighbours: ``reconcile`` decides *what* to deploy; this module says *how it looks*.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from werfop.core.model import MANAGED_BY, Bundle, BundleSpec, Meta, Sensitive

API_VERSION = "werf.io/v1alpha1"
KIND = "WerfBundle"

LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_BUNDLE = "werf.io/bundle"
LABEL_BUNDLE_NAMESPACE = "werf.io/bundle-namespace"
LABEL_BUNDLE_UID = "werf.io/bundle-uid"
LABEL_JOB_KIND = "werf.io/job-kind"

ANNOTATION_BUNDLE = "werf.io/bundle"
ANNOTATION_TAG = "werf.io/tag"
ANNOTATION_DIGEST = "werf.io/digest"
ANNOTATION_VALUES_HASH = "werf.io/values-hash"
ANNOTATION_ATTEMPT = "werf.io/attempt"

INPUTS_DIR = "/werfop/inputs"
DOCKER_DIR = "/werfop/docker"
CA_DIR = "/werfop/ca"
HOME_DIR = "/home/werf"
WERF_UID = 1000
DEADLINE_MARGIN_SECONDS = 300
MAX_NAME = 63
_HASH_LEN = 10
_LABEL_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

DOCKER_CONFIG_FILE = "docker-config.json"
CA_FILE = "ca.crt"


def short_hash(*parts: str, length: int = _HASH_LEN) -> str:
    """A stable lowercase hex hash of the parts (NUL-separated, so parts cannot blur)."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:length]


def _dns_prefix(name: str, budget: int) -> str:
    cleaned = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    return cleaned[:budget].rstrip("-") or "wb"


def job_name(meta: Meta, kind: str, tag: str, digest: str, values_hash: str, attempt: int) -> str:
    """``<bundle prefix>-<hash>``: at most 63 characters, a valid DNS label, and the same
    for the same (bundle uid, kind, tag, digest, values hash, attempt)."""
    digest_part = short_hash(meta.uid, kind, tag, digest, values_hash, str(attempt))
    prefix = _dns_prefix(meta.name, MAX_NAME - _HASH_LEN - 1)
    return f"{prefix}-{digest_part}"


def label_value(value: str) -> str:
    """``value`` when it is a valid label value, else a valid prefix plus a hash."""
    if len(value) <= MAX_NAME and _LABEL_VALUE_RE.match(value):
        return value
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", value)
    prefix = cleaned[: MAX_NAME - _HASH_LEN - 1].strip("-_.")
    hashed = short_hash(value)
    return f"{prefix}-{hashed}" if prefix else hashed


def bundle_labels(meta: Meta) -> dict[str, str]:
    """The labels that tie an object to its bundle (selectable across namespaces)."""
    return {
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_BUNDLE: label_value(meta.name),
        LABEL_BUNDLE_NAMESPACE: label_value(meta.namespace),
        LABEL_BUNDLE_UID: label_value(meta.uid),
    }


def owner_reference(meta: Meta) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "name": meta.name,
        "uid": meta.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def target_namespace(meta: Meta, spec: BundleSpec) -> str:
    return spec.converge.target_namespace or meta.namespace


def release_name(meta: Meta, spec: BundleSpec) -> str:
    return spec.converge.release_name or meta.name


def values_file_names(spec: BundleSpec, has_inline: bool) -> tuple[str, ...]:
    """The values files in merge order: one per ``valuesFrom`` entry, then inline values."""
    names = [f"values-{index:02d}.yaml" for index in range(len(spec.converge.values_from))]
    if has_inline:
        names.append("values-inline.yaml")
    return tuple(names)


def apply_command(
    bundle: Bundle, spec: BundleSpec, tag: str, values_files: tuple[str, ...]
) -> list[str]:
    """The exact werf command line: no value and no credential ever appears in it."""
    meta = bundle.meta
    command = [
        "werf",
        "bundle",
        "apply",
        "--repo",
        spec.registry.url,
        "--tag",
        tag,
        "--release",
        release_name(meta, spec),
        "--namespace",
        target_namespace(meta, spec),
        "--timeout",
        str(int(spec.converge.timeout.total_seconds())),
    ]
    for name in values_files:
        command += ["--values", f"{INPUTS_DIR}/{name}"]
    if spec.registry.insecure:
        command.append("--insecure-registry")
    return command


def render_apply_job(
    bundle: Bundle,
    spec: BundleSpec,
    *,
    tag: str,
    digest: str,
    values_hash: str,
    attempt: int,
) -> tuple[dict[str, Any], str, tuple[tuple[str, Sensitive], ...]]:
    """The Job manifest, its inputs Secret's name and the Secret's files."""
    meta = bundle.meta
    name = job_name(meta, "apply", tag, digest, values_hash, attempt)
    secret_name = f"{name}-inputs"
    files = _input_files(bundle)
    command = apply_command(bundle, spec, tag, tuple(f.name for f in bundle.inputs.values_files))
    annotations = {
        ANNOTATION_BUNDLE: meta.key,
        ANNOTATION_TAG: tag,
        ANNOTATION_DIGEST: digest,
        ANNOTATION_VALUES_HASH: values_hash,
        ANNOTATION_ATTEMPT: str(attempt),
    }
    job = _job(bundle, spec, name, "apply", secret_name, command, annotations)
    return job, secret_name, files


def render_plan_job(
    bundle: Bundle, spec: BundleSpec, *, tag: str, digest: str, values_hash: str, check: int
) -> tuple[dict[str, Any], str, tuple[tuple[str, Sensitive], ...]]:
    """A drift check: ``werf bundle plan --exit-code`` of the applied version with the
    same inputs as an apply (exit 0: no drift, 2: drift, anything else: check failed)."""
    meta = bundle.meta
    name = job_name(meta, "plan", tag, digest, values_hash, check)
    secret_name = f"{name}-inputs"
    files = _input_files(bundle)
    command = apply_command(bundle, spec, tag, tuple(f.name for f in bundle.inputs.values_files))
    command[2] = "plan"
    command.append("--exit-code")
    annotations = {
        ANNOTATION_BUNDLE: meta.key,
        ANNOTATION_TAG: tag,
        ANNOTATION_DIGEST: digest,
        ANNOTATION_VALUES_HASH: values_hash,
        ANNOTATION_ATTEMPT: str(check),
    }
    return _job(bundle, spec, name, "plan", secret_name, command, annotations), secret_name, files


def _input_files(bundle: Bundle) -> tuple[tuple[str, Sensitive], ...]:
    inputs = bundle.inputs
    files: list[tuple[str, Sensitive]] = [(f.name, f.content) for f in inputs.values_files]
    if inputs.docker_config is not None:
        files.append((DOCKER_CONFIG_FILE, inputs.docker_config))
    if inputs.ca_cert is not None:
        files.append((CA_FILE, inputs.ca_cert))
    return tuple(files)


def render_uninstall_job(bundle: Bundle, spec: BundleSpec, attempt: int) -> dict[str, Any]:
    """The Job that uninstalls the release when a bundle with ``deletionPolicy:
    Uninstall`` is deleted. No owner reference: a foreground deletion of the bundle
    must not garbage-collect the Job that is cleaning up after it."""
    meta = bundle.meta
    release = release_name(meta, spec)
    target = target_namespace(meta, spec)
    name = job_name(meta, "uninstall", release, target, "", attempt)
    timeout = int(spec.converge.timeout.total_seconds())
    command = [
        "werf",
        "helm",
        "uninstall",
        release,
        "--namespace",
        target,
        "--wait",
        "--timeout",
        f"{timeout}s",
    ]
    annotations = {
        ANNOTATION_BUNDLE: meta.key,
        ANNOTATION_TAG: bundle.status.last_applied_tag or "-",
        ANNOTATION_DIGEST: "",
        ANNOTATION_VALUES_HASH: "",
        ANNOTATION_ATTEMPT: str(attempt),
    }
    job = _job(bundle, spec, name, "uninstall", f"{name}-inputs", command, annotations)
    job["metadata"].pop("ownerReferences", None)
    pod = job["spec"]["template"]["spec"]
    pod["volumes"] = [v for v in pod["volumes"] if v["name"] != "inputs"]
    for container in pod["containers"]:
        container["volumeMounts"] = [m for m in container["volumeMounts"] if m["name"] != "inputs"]
    return job


def _job(
    bundle: Bundle,
    spec: BundleSpec,
    name: str,
    kind: str,
    secret_name: str,
    command: list[str],
    annotations: dict[str, str],
) -> dict[str, Any]:
    meta = bundle.meta
    namespace = target_namespace(meta, spec)
    labels = {**bundle_labels(meta), LABEL_JOB_KIND: kind}
    converge = spec.converge
    env = [
        {"name": "HOME", "value": HOME_DIR},
        {"name": "TMPDIR", "value": "/tmp"},
        {"name": "WERF_LOG_COLOR_MODE", "value": "off"},
    ]
    volumes: list[dict[str, Any]] = [
        {"name": "inputs", "secret": {"secretName": secret_name, "defaultMode": 0o440}},
        {"name": "home", "emptyDir": {}},
        {"name": "tmp", "emptyDir": {}},
    ]
    mounts: list[dict[str, Any]] = [
        {"name": "inputs", "mountPath": INPUTS_DIR, "readOnly": True},
        {"name": "home", "mountPath": HOME_DIR},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    if bundle.inputs.docker_config is not None:
        env.append({"name": "DOCKER_CONFIG", "value": DOCKER_DIR})
        volumes.append(_projected("docker", secret_name, DOCKER_CONFIG_FILE, "config.json"))
        mounts.append({"name": "docker", "mountPath": DOCKER_DIR, "readOnly": True})
    if bundle.inputs.ca_cert is not None:
        # Go (werf) adds the certificates in SSL_CERT_DIR to the system trust store.
        env.append({"name": "SSL_CERT_DIR", "value": f"{CA_DIR}:/etc/ssl/certs"})
        volumes.append(_projected("ca", secret_name, CA_FILE, CA_FILE))
        mounts.append({"name": "ca", "mountPath": CA_DIR, "readOnly": True})
    requests = converge.effective_requests
    container = {
        "name": "werf",
        "image": converge.image,
        "imagePullPolicy": "IfNotPresent",
        "command": command,
        "env": env,
        "resources": {
            "limits": {"cpu": converge.limits.cpu, "memory": converge.limits.memory},
            "requests": {"cpu": requests.cpu, "memory": requests.memory},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": WERF_UID,
            "runAsGroup": WERF_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": mounts,
    }
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": WERF_UID,
            "runAsGroup": WERF_UID,
            "fsGroup": WERF_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": volumes,
    }
    if converge.service_account_name:
        pod_spec["serviceAccountName"] = converge.service_account_name
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "labels": labels,
        "annotations": annotations,
    }
    if namespace == meta.namespace:
        # A cross-namespace owner reference would get the Job garbage-collected at once.
        metadata["ownerReferences"] = [owner_reference(meta)]
    timeout = int(converge.timeout.total_seconds())
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": timeout + DEADLINE_MARGIN_SECONDS,
            "ttlSecondsAfterFinished": converge.log_retention_days * 86400,
            "template": {
                "metadata": {"labels": labels, "annotations": dict(annotations)},
                "spec": pod_spec,
            },
        },
    }


def _projected(volume: str, secret_name: str, key: str, path: str) -> dict[str, Any]:
    return {
        "name": volume,
        "secret": {
            "secretName": secret_name,
            "defaultMode": 0o440,
            "items": [{"key": key, "path": path}],
        },
    }


def logs_config_map_name(job: str) -> str:
    return f"{job}-logs"
