"""Render the werf Job and its inputs Secret from a decision: pure, deterministic data.

Role: names (at most 63 characters, stable for the same inputs), labels (always valid
label values), the restricted pod, and the exact ``werf bundle apply`` command.
Must not: talk to the API, or put a value or a credential in an argument or an
environment variable: those travel as files of a Secret owned by the Job.
Neighbours: ``reconcile`` decides *what* to deploy; this module says *how it looks*.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from werfop.core import names
from werfop.core.model import Bundle, BundleSpec, Meta, Sensitive

INPUTS_DIR = "/werfop/inputs"
DOCKER_DIR = "/werfop/docker"
CA_DIR = "/werfop/ca"
HOME_DIR = "/home/werf"
# werf's home ($WERF_HOME, werf v2.75.0 pkg/werf/main.go:107-118), an emptyDir of its
# own: a file mounted into it (the secret key) makes the container runtime create the
# mount point's parent directories as root, which werf then could not write to.
WERF_HOME_DIR = f"{HOME_DIR}/.werf"
# werf reads its secret key from $WERF_SECRET_KEY, <cwd>/.werf_secret_key, then
# $WERF_HOME/global_secret_key (common-go pkg/secrets_manager/secret_key.go:44-99; werf
# sets that home through SetWerfHomeDir, pkg/werf/main.go:130): the last is a file.
SECRET_KEY_NAME = "global_secret_key"
WERF_UID = 1000
# Added to spec.converge.timeout for the Job's activeDeadlineSeconds: the bundle pull,
# werf's start-up and the report after the last stage. werf's --timeout bounds each
# resource's tracking only (werf v2.75.0 cmd/werf/common/cmd_data.go:317-319), so the
# deadline, not werf, bounds the whole run (docs/job.md, "How long a Job may run").
DEADLINE_MARGIN_SECONDS = 300

# The werf image sets WERF_BUILDAH_MODE=auto (scripts/werf-in-image/dockerfile/werf/
# alpine.Dockerfile:48); "auto" makes werf's start-up hook re-exec itself in a user
# namespace (cmd/werf/main.go:40, cmd/werf/common/container_backend.go:32-34), which
# the restricted pod forbids. "docker" is ModeDisabled (container_backend.go:65-66): no
# start-up hook, and bundle apply/plan and helm uninstall never start a container
# backend, so no Docker daemon is needed either.
BUILDAH_MODE = "docker"
# Telemetry is on by default (pkg/telemetry/telemetry.go:97-107); "0" turns it off.
TELEMETRY = "0"
MAX_NAME = 63
_HASH_LEN = 10
_LABEL_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

DOCKER_CONFIG_FILE = "docker-config.json"
CA_FILE = "ca.crt"
SECRET_KEY_FILE = "werf-secret-key"


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
        names.LABEL_MANAGED_BY: names.MANAGED_BY,
        names.LABEL_BUNDLE: label_value(meta.name),
        names.LABEL_BUNDLE_NAMESPACE: label_value(meta.namespace),
        names.LABEL_BUNDLE_UID: label_value(meta.uid),
    }


def owner_reference(meta: Meta) -> dict[str, Any]:
    return {
        "apiVersion": names.API_VERSION,
        "kind": names.KIND,
        "name": meta.name,
        "uid": meta.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def target_namespace(meta: Meta, spec: BundleSpec) -> str:
    return spec.converge.target_namespace or meta.namespace


def release_name(meta: Meta, spec: BundleSpec) -> str:
    return spec.converge.release_name or meta.name


INLINE_VALUES_FILE = "values-inline.yaml"  # merged last, after every valuesFrom entry


def values_file_name(index: int) -> str:
    """The inputs file of ``valuesFrom[index]`` (merge order: by index, then inline)."""
    return f"values-{index:02d}.yaml"


def apply_command(
    bundle: Bundle, spec: BundleSpec, tag: str, values_files: tuple[str, ...]
) -> list[str]:
    """The exact ``werf bundle apply`` command line: no value and no credential ever
    appears in it. ``--timeout`` is werf's per-resource tracking timeout in seconds."""
    timeout = ["--timeout", str(int(spec.converge.timeout.total_seconds()))]
    return _bundle_command("apply", bundle, spec, tag, values_files, timeout)


def plan_command(
    bundle: Bundle, spec: BundleSpec, tag: str, values_files: tuple[str, ...]
) -> list[str]:
    """``werf bundle plan --exit-code`` with apply's inputs. No ``--timeout``: plan never
    sets up the tracking flags (werf v2.75.0 cmd/werf/bundle/plan/plan.go:70-114), so
    cobra would refuse it as an unknown flag. Exit codes (plan.go:127, main.go:70-91):
    0 no change, 2 changes, 1 error; 3 (a release to install without resource changes)
    only behind a feature gate, read as drift too (``core.drift``)."""
    return [*_bundle_command("plan", bundle, spec, tag, values_files, []), "--exit-code"]


def _bundle_command(
    verb: str,
    bundle: Bundle,
    spec: BundleSpec,
    tag: str,
    values_files: tuple[str, ...],
    extra: list[str],
) -> list[str]:
    meta = bundle.meta
    command = [
        "werf",
        "bundle",
        verb,
        "--repo",
        spec.registry.url,
        "--tag",
        tag,
        "--release",
        release_name(meta, spec),
        "--namespace",
        target_namespace(meta, spec),
        *extra,
    ]
    for name in values_files:
        command += ["--values", f"{INPUTS_DIR}/{name}"]
    if spec.registry.insecure:
        command.append("--insecure-registry")
    return command


def uninstall_command(bundle: Bundle, spec: BundleSpec) -> list[str]:
    """``werf helm uninstall``; ``--ignore-not-found`` makes a release that never deployed
    or is already gone a success (3p-helm-for-werf-helm@089f92cd, the fork werf v2.75.0
    requires: cmd/helm/uninstall.go:91). ``--timeout`` is a Go duration there
    (uninstall.go:95), per Kubernetes operation."""
    meta = bundle.meta
    return [
        "werf",
        "helm",
        "uninstall",
        release_name(meta, spec),
        "--namespace",
        target_namespace(meta, spec),
        "--ignore-not-found",
        "--wait",
        "--timeout",
        f"{int(spec.converge.timeout.total_seconds())}s",
    ]


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
    command = apply_command(bundle, spec, tag, tuple(f.name for f in bundle.inputs.values_files))
    annotations = _annotations(meta, tag, digest, values_hash, attempt)
    job = _job(bundle, spec, name, "apply", command, annotations, inputs=secret_name)
    return job, secret_name, _input_files(bundle)


def render_plan_job(
    bundle: Bundle, spec: BundleSpec, *, tag: str, digest: str, values_hash: str, check: int
) -> tuple[dict[str, Any], str, tuple[tuple[str, Sensitive], ...]]:
    """A drift check: ``werf bundle plan --exit-code`` of the applied version with the
    same inputs as an apply (exit 0: no drift, 2 or 3: drift, anything else: failed)."""
    meta = bundle.meta
    name = job_name(meta, "plan", tag, digest, values_hash, check)
    secret_name = f"{name}-inputs"
    command = plan_command(bundle, spec, tag, tuple(f.name for f in bundle.inputs.values_files))
    annotations = _annotations(meta, tag, digest, values_hash, check)
    job = _job(bundle, spec, name, "plan", command, annotations, inputs=secret_name)
    return job, secret_name, _input_files(bundle)


def _annotations(
    meta: Meta, tag: str, digest: str, values_hash: str, attempt: int
) -> dict[str, str]:
    return {
        names.ANNOTATION_BUNDLE: meta.key,
        names.ANNOTATION_TAG: tag,
        names.ANNOTATION_DIGEST: digest,
        names.ANNOTATION_VALUES_HASH: values_hash,
        names.ANNOTATION_ATTEMPT: str(attempt),
    }


def _input_files(bundle: Bundle) -> tuple[tuple[str, Sensitive], ...]:
    inputs = bundle.inputs
    files: list[tuple[str, Sensitive]] = [(f.name, f.content) for f in inputs.values_files]
    if inputs.docker_config is not None:
        files.append((DOCKER_CONFIG_FILE, inputs.docker_config))
    if inputs.ca_cert is not None:
        files.append((CA_FILE, inputs.ca_cert))
    if inputs.secret_key is not None:
        files.append((SECRET_KEY_FILE, inputs.secret_key))
    return tuple(files)


def render_uninstall_job(bundle: Bundle, spec: BundleSpec, attempt: int) -> dict[str, Any]:
    """The Job that uninstalls the release when a bundle with ``deletionPolicy:
    Uninstall`` is deleted. No owner reference: a foreground deletion of the bundle
    must not garbage-collect the Job that is cleaning up after it. No inputs Secret and
    no volume that would name one: ``werf helm uninstall`` pulls nothing."""
    meta = bundle.meta
    release = release_name(meta, spec)
    target = target_namespace(meta, spec)
    name = job_name(meta, "uninstall", release, target, "", attempt)
    annotations = _annotations(meta, bundle.status.last_applied_tag or "-", "", "", attempt)
    job = _job(bundle, spec, name, "uninstall", uninstall_command(bundle, spec), annotations)
    job["metadata"].pop("ownerReferences", None)
    return job


def _job(
    bundle: Bundle,
    spec: BundleSpec,
    name: str,
    kind: str,
    command: list[str],
    annotations: dict[str, str],
    *,
    inputs: str | None = None,
) -> dict[str, Any]:
    """The Job; ``inputs`` names the inputs Secret its volumes read (None: no inputs)."""
    meta = bundle.meta
    namespace = target_namespace(meta, spec)
    labels = {**bundle_labels(meta), names.LABEL_JOB_KIND: kind}
    converge = spec.converge
    env = [
        {"name": "HOME", "value": HOME_DIR},
        {"name": "TMPDIR", "value": "/tmp"},
        {"name": "WERF_LOG_COLOR_MODE", "value": "off"},
        {"name": "WERF_BUILDAH_MODE", "value": BUILDAH_MODE},
        {"name": "WERF_TELEMETRY", "value": TELEMETRY},
        {"name": "WERF_HOME", "value": WERF_HOME_DIR},
    ]
    volumes: list[dict[str, Any]] = [
        {"name": "home", "emptyDir": {}},
        {"name": "werf-home", "emptyDir": {}},
        {"name": "tmp", "emptyDir": {}},
    ]
    mounts: list[dict[str, Any]] = [
        {"name": "home", "mountPath": HOME_DIR},
        {"name": "werf-home", "mountPath": WERF_HOME_DIR},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    if inputs is not None:
        volumes.insert(
            0, {"name": "inputs", "secret": {"secretName": inputs, "defaultMode": 0o440}}
        )
        mounts.insert(0, {"name": "inputs", "mountPath": INPUTS_DIR, "readOnly": True})
        if bundle.inputs.docker_config is not None:
            env.append({"name": "DOCKER_CONFIG", "value": DOCKER_DIR})
            volumes.append(_projected("docker", inputs, DOCKER_CONFIG_FILE, "config.json"))
            mounts.append({"name": "docker", "mountPath": DOCKER_DIR, "readOnly": True})
        if bundle.inputs.ca_cert is not None:
            # Go (werf) adds the certificates in SSL_CERT_DIR to the system trust store.
            env.append({"name": "SSL_CERT_DIR", "value": f"{CA_DIR}:/etc/ssl/certs"})
            volumes.append(_projected("ca", inputs, CA_FILE, CA_FILE))
            mounts.append({"name": "ca", "mountPath": CA_DIR, "readOnly": True})
        if bundle.inputs.secret_key is not None:
            # A file, never an argument or a variable (werf's --secret-key and
            # WERF_SECRET_KEY would show in the pod spec or the process list).
            volumes.append(_projected("secret-key", inputs, SECRET_KEY_FILE, SECRET_KEY_NAME))
            mounts.append(
                {
                    "name": "secret-key",
                    "mountPath": f"{WERF_HOME_DIR}/{SECRET_KEY_NAME}",
                    "subPath": SECRET_KEY_NAME,
                    "readOnly": True,
                }
            )
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
        # werf reads WERF_SET_*, WERF_VALUES_* and WERF_SECRET_VALUES_* variables as
        # input; a Service named e.g. werf-values in the target namespace would inject
        # WERF_VALUES_SERVICE_HOST and friends through the service links.
        "enableServiceLinks": False,
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
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": active_deadline_seconds(spec),
            "ttlSecondsAfterFinished": converge.log_retention_days * 86400,
            "template": {
                "metadata": {"labels": labels, "annotations": dict(annotations)},
                "spec": pod_spec,
            },
        },
    }


def active_deadline_seconds(spec: BundleSpec) -> int:
    """The whole run's bound: ``spec.converge.timeout`` plus ``DEADLINE_MARGIN_SECONDS``.

    werf's own ``--timeout`` (the same value) bounds each resource's creation, readiness
    and deletion tracking, not the run: a release with hooks and several deploy stages
    can track for longer than one timeout. The deadline makes ``timeout`` the budget
    of a whole deploy, drift check or uninstall; a run that needs more is stopped by
    Kubernetes (reason DeadlineExceeded) and counts as a failed attempt.
    """
    return int(spec.converge.timeout.total_seconds()) + DEADLINE_MARGIN_SECONDS


def render_inputs_secret(
    job: dict[str, Any],
    secret_name: str,
    files: tuple[tuple[str, Sensitive], ...],
    job_uid: str,
) -> dict[str, Any]:
    """The Job's inputs Secret: its files base64-encoded, the Job's labels, and the Job
    (whose ``uid`` the API server gave it) as its controlling owner, so the Secret goes
    with the Job."""
    metadata = job["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": secret_name,
            "namespace": metadata["namespace"],
            "labels": dict(metadata.get("labels", {})),
            "ownerReferences": [
                {
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "name": metadata["name"],
                    "uid": job_uid,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "data": {
            name: base64.b64encode(content.value.encode()).decode() for name, content in files
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
