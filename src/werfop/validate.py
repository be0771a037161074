"""``werfop validate``: check manifests offline, as the operator would, fast enough for a
pre-commit hook.

Role: load files and folders with the simulator's strict loading
(``simulate.read_manifests``, ``check_documents``: the schema through ``api.codec``),
apply the cross-field rules every pass applies (``core.validation.spec_problems``:
semver constraints, RE2 tag filters, a cross-namespace target without a
ServiceAccount, a long release name), then check each WerfBundle's references against
the other given objects with the operator's own ``Observer`` over an in-memory cluster
holding them (a values key that is missing or not YAML, a registry Secret werf cannot
use, a CA Secret without ``ca.crt``, a target namespace that does not accept the
bundle's).

References checked (each a field of the bundle's spec):

- ``registry.secretRef``, ``registry.caSecretRef``, ``converge.secretKeySecretRef``,
  ``converge.valuesFrom[].secretRef``: a Secret in the bundle's namespace;
- ``converge.valuesFrom[].configMapRef``: a ConfigMap in the bundle's namespace;
- ``converge.serviceAccountName``: a ServiceAccount in the target namespace;
- ``converge.targetNamespace`` (when not the bundle's): a Namespace document, whose
  ``werf.io/accept-bundles-from`` must name the bundle's namespace.

A referenced object present among the files is checked as a pass would read it; a
problem with it is an error. One absent from the files is a *warning*, never an error:
it may well exist in the cluster already (Secrets rarely live in Git). An optional
``valuesFrom`` source is not reported when absent.

``--no-cross-namespace`` checks as ``werfop run --no-cross-namespace`` runs: a bundle
that targets another namespace is an error, whatever the files hold.

Must not: contact a cluster or a registry, run anything, or print a Secret's content.
Neighbours: ``simulate`` (loading), ``render`` (the same observer, to render Jobs).
Exit codes: 0 valid (warnings allowed), 2 at least one error.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import attrs

from werfop.adapters.memory import ManualClock, MemoryCluster
from werfop.adapters.scripted_registry import ScriptedRegistry
from werfop.core import jobspec
from werfop.core.model import Bundle
from werfop.core.validation import spec_problems
from werfop.runtime.observe import Observer
from werfop.runtime.registry_economy import RegistryEconomy
from werfop.simulate import (
    SCENARIO_AS_MANIFEST,
    Problem,
    check_documents,
    populate,
    read_manifests,
)

_NOW = datetime(2026, 1, 1, tzinfo=UTC)  # nothing checked depends on the time


@attrs.frozen(kw_only=True)
class Report:
    errors: tuple[Problem, ...]
    warnings: tuple[Problem, ...]
    notes: tuple[str, ...]
    files: int
    objects: int


@attrs.frozen(kw_only=True)
class _Reference:
    field: str  # the spec field that names it
    kind: str
    namespace: str
    name: str
    optional: bool = False


def validate(paths: list[str], *, allow_cross_namespace: bool = True) -> Report:
    """Every error and warning for the manifests in ``paths`` (files or folders);
    ``allow_cross_namespace`` false checks them as ``werfop run --no-cross-namespace``
    would run them."""
    notes: list[str] = []
    documents, errors = read_manifests(paths, note=notes.append)
    # a simulator scenario is not a manifest: named or in a folder, it is skipped
    notes += [f"{p.file}: skipped, a scenario" for p in errors if p.message == SCENARIO_AS_MANIFEST]
    errors = [p for p in errors if p.message != SCENARIO_AS_MANIFEST]
    checked, found = check_documents(documents)
    errors += found
    warnings: list[Problem] = []
    objects = [obj for _, _, obj, _ in checked]
    present = {
        (
            o["kind"],
            o["metadata"].get("namespace", "") if o["kind"] != "Namespace" else "",
            o["metadata"]["name"],
        )
        for o in objects
    }
    bundles = [
        (file, index, bundle)
        for file, index, _, bundle in checked
        if bundle is not None and bundle.spec is not None
    ]
    observer = None
    if bundles:
        clock = ManualClock(_NOW)
        cluster = MemoryCluster(clock)
        populate(cluster, objects)
        observer = Observer(
            cluster,
            RegistryEconomy(ScriptedRegistry(clock), clock),
            clock,
            allow_cross_namespace=allow_cross_namespace,
        )
    for file, index, bundle in bundles:
        spec = bundle.spec
        assert spec is not None and observer is not None
        name = bundle.meta.name

        def problem(
            field: str, message: str, file: str = file, index: int = index, name: str = name
        ) -> Problem:
            return Problem(file=file, document=index, field=field, message=message, name=name)

        errors += [problem(p.path, p.message) for p in spec_problems(bundle.meta, spec)]
        absent = {
            ref.field: ref
            for ref in references(bundle)
            if (ref.kind, ref.namespace, ref.name) not in present
            # with cross-namespace deploys off, the target is refused whatever exists
            and (allow_cross_namespace or ref.kind != "Namespace")
        }
        for ref in absent.values():
            if not ref.optional:
                where = f"{ref.namespace}/{ref.name}" if ref.namespace else ref.name
                warnings.append(
                    problem(
                        ref.field,
                        f"{ref.kind} {where} is not among the given files "
                        "(fine if it exists in the cluster)",
                    )
                )
        inputs = observer.inputs(bundle.meta, spec)
        errors += [problem(p.path, p.message) for p in inputs.problems if p.path not in absent]
    return Report(
        errors=tuple(_ordered(errors)),
        warnings=tuple(_ordered(warnings)),
        notes=tuple(notes),
        files=len({file for file, _, _ in documents}),
        objects=len(objects),
    )


def references(bundle: Bundle) -> list[_Reference]:
    """The objects a bundle's spec names, each with the field that names it (the field
    path the observer reports a problem with it under)."""
    spec = bundle.spec
    assert spec is not None
    meta = bundle.meta
    found: list[_Reference] = []
    registry, converge = spec.registry, spec.converge

    def secret(field: str, name: str | None) -> None:
        if name:
            found.append(
                _Reference(field=field, kind="Secret", namespace=meta.namespace, name=name)
            )

    secret("spec.registry.secretRef.name", registry.secret_name)
    secret("spec.registry.caSecretRef.name", registry.ca_secret_name)
    if converge.secret_key is not None:
        secret("spec.converge.secretKeySecretRef.name", converge.secret_key.name)
    for index, source in enumerate(converge.values_from):
        ref = "configMapRef" if source.kind == "ConfigMap" else "secretRef"
        found.append(
            _Reference(
                field=f"spec.converge.valuesFrom[{index}].{ref}.name",
                kind=source.kind,
                namespace=meta.namespace,
                name=source.name,
                optional=source.optional,
            )
        )
    target = jobspec.target_namespace(meta, spec)
    if target != meta.namespace:
        found.append(
            _Reference(
                field="spec.converge.targetNamespace", kind="Namespace", namespace="", name=target
            )
        )
    if converge.service_account_name:
        found.append(
            _Reference(
                field="spec.converge.serviceAccountName",
                kind="ServiceAccount",
                namespace=target,
                name=converge.service_account_name,
            )
        )
    return found


def _ordered(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.file, p.document or 0, p.field or "", p.message))


def run_cli(paths: list[str], *, allow_cross_namespace: bool = True) -> int:
    """Print each problem as ``file:document:field: message`` (warnings say so) on
    stdout, a summary on stderr; exit 2 when there is an error, else 0."""
    report = validate(paths, allow_cross_namespace=allow_cross_namespace)
    out = sys.stdout
    for problem in report.errors:
        out.write(problem.line() + "\n")
    for problem in report.warnings:
        out.write(problem.line("warning: ") + "\n")
    for note in report.notes:  # the loader's words are the simulator's: no --scenario here
        note = note.split(" (pass it with --scenario")[0]
        print(f"werfop validate: note: {note}", file=sys.stderr)
    print(
        f"werfop validate: {report.objects} objects in {report.files} files: "
        f"{len(report.errors)} errors, {len(report.warnings)} warnings",
        file=sys.stderr,
    )
    return 2 if report.errors else 0
