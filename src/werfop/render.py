"""``werfop render``: the Job and inputs Secret the operator would create, offline.

Role: load manifests exactly as ``werfop simulate`` does (``simulate.load_manifests``,
``check_objects``, ``populate``), read each WerfBundle's inputs with the operator's own
``Observer`` over an in-memory cluster holding those objects, and render with
``werfop.core.jobspec``, the code the operator's passes call. Reviewers see the werf
command, the pod and the inputs before anything runs.
Must not: contact a cluster or a registry, or print a value or a credential: every file
of the inputs Secret is shown as the sha256 of its content.
Neighbours: ``main`` (argument parsing), ``simulate`` (loading), ``core.jobspec``.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from datetime import UTC, datetime
from typing import Any, Literal

import attrs
import yaml

from werfop.adapters.memory import ManualClock, MemoryCluster
from werfop.adapters.scripted_registry import ScriptedRegistry
from werfop.api import schema
from werfop.api.codec import decode_bundle
from werfop.core import jobspec
from werfop.core.model import Bundle, Sensitive
from werfop.runtime.observe import Observer
from werfop.runtime.registry_economy import RegistryEconomy
from werfop.simulate import InputError, check_objects, load_manifests, populate

Kind = Literal["apply", "plan", "uninstall"]
# Used when a file's WerfBundle has no metadata.uid (the API server assigns it): the
# Job's name hashes the uid, so it differs on the cluster; stderr says so.
PLACEHOLDER_UID = "00000000-0000-0000-0000-000000000000"
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$")
_TAG = re.compile(schema.TAG_PATTERN)
_NOW = datetime(2026, 1, 1, tzinfo=UTC)  # nothing rendered depends on the time


def render(
    paths: list[str], *, tag: str, digest: str | None, kind: Kind
) -> tuple[list[dict[str, Any]], list[str]]:
    """The manifests (per bundle: the Job, then its inputs Secret with every file as
    ``sha256:<hex>``) and notes for stderr. Raises ``InputError`` naming the file, the
    object and the field for bad arguments, manifests or inputs."""
    problems: list[str] = []
    if not _TAG.match(tag):
        problems.append(f"--tag: {tag!r} is not a valid tag")
    if digest is not None and not _DIGEST.match(digest):
        problems.append(f"--digest: {digest!r} is not a digest such as sha256:<64 hex>")
    if problems:
        raise InputError(problems)
    documents = load_manifests(paths)
    objects = check_objects(documents)
    bundles = [
        (f"{file} document {index} ({obj['metadata']['name']})", obj)
        for (file, index, _), obj in zip(documents, objects, strict=True)
        if obj["kind"] == "WerfBundle"
    ]
    if not bundles:
        raise InputError([f"{', '.join(paths)}: no WerfBundle found"])
    clock = ManualClock(_NOW)
    cluster = MemoryCluster(clock)
    notes: list[str] = []
    placeholders: list[str] = []
    for where, obj in bundles:
        if not obj["metadata"].get("uid"):
            obj["metadata"]["uid"] = PLACEHOLDER_UID
            placeholders.append(where)
    populate(cluster, objects)
    observer = Observer(cluster, RegistryEconomy(ScriptedRegistry(clock), clock), clock)
    manifests: list[dict[str, Any]] = []
    for where, obj in bundles:
        bundle, found = decode_bundle(obj)
        problems += [f"{where}: {p.path}: {p.message}" for p in found]
        if bundle is None or bundle.spec is None:
            continue
        inputs = observer.inputs(bundle.meta, bundle.spec)
        problems += [f"{where}: {p.path}: {p.message}" for p in inputs.problems]
        if not inputs.problems:
            manifests += _render_one(attrs.evolve(bundle, inputs=inputs), tag, digest, kind)
    if problems:
        raise InputError(problems)
    notes += [
        f"{where}: no metadata.uid, rendered with {PLACEHOLDER_UID}: the Job's name "
        "on the cluster differs (it hashes the uid)"
        for where in placeholders
    ]
    if digest is None and kind != "uninstall":
        notes.append("no --digest: the Job's name and werf.io/digest differ on the cluster")
    return manifests, notes


def _render_one(bundle: Bundle, tag: str, digest: str | None, kind: Kind) -> list[dict[str, Any]]:
    spec = bundle.spec
    assert spec is not None
    values_hash = bundle.inputs.values_hash
    if kind == "uninstall":
        status = bundle.status.replace(last_applied_tag=tag)
        return [jobspec.render_uninstall_job(attrs.evolve(bundle, status=status), spec, 1)]
    if kind == "plan":
        job, secret_name, files = jobspec.render_plan_job(
            bundle, spec, tag=tag, digest=digest or "", values_hash=values_hash, check=1
        )
    else:
        job, secret_name, files = jobspec.render_apply_job(
            bundle, spec, tag=tag, digest=digest or "", values_hash=values_hash, attempt=1
        )
    hashed = tuple((name, Sensitive(_sha256(content))) for name, content in files)
    secret = jobspec.render_inputs_secret(job, secret_name, hashed, "<the Job's uid>")
    secret["data"] = {name: content.value for name, content in hashed}
    return [job, secret]


def _sha256(content: Sensitive) -> str:
    return "sha256:" + hashlib.sha256(content.value.encode()).hexdigest()


class _Dumper(yaml.SafeDumper):
    """No ``&id001`` anchors: the Job's labels appear twice and must read as written."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def run_cli(paths: list[str], tag: str, digest: str | None, kind: Kind, output: str) -> int:
    """Exit 0 with the manifests on stdout; 2 on bad input (each problem on stderr)."""
    try:
        manifests, notes = render(paths, tag=tag, digest=digest, kind=kind)
    except InputError as error:
        for problem in error.problems:
            print(f"werfop render: {problem}", file=sys.stderr)
        return 2
    for note in notes:
        print(f"werfop render: note: {note}", file=sys.stderr)
    if output == "json":
        document = {"apiVersion": "v1", "kind": "List", "items": manifests}
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        sys.stdout.write(yaml.dump_all(manifests, Dumper=_Dumper, sort_keys=False))
    return 0
