"""Spec rules the schema cannot express, checked on every pass.

Role: return every problem with a field path, so the status can name it. Must not:
raise. Neighbours: ``api.codec`` enforces types, formats and bounds; this module the
cross-field and cross-object rules that need the bundle's own namespace and name.
"""

from __future__ import annotations

from werfop.core.model import BundleSpec, FieldProblem, Meta
from werfop.core.versions import Policy, policy_error

MAX_RELEASE_NAME = 53


def policy_for(spec: BundleSpec, last_applied: str | None) -> Policy:
    registry = spec.registry
    return Policy(
        constraint=registry.version_constraint,
        tag=registry.tag,
        include=registry.tag_filter.include,
        exclude=registry.tag_filter.exclude,
        allow_downgrade=registry.allow_downgrade,
        last_applied=last_applied,
    )


def spec_problems(
    meta: Meta, spec: BundleSpec, policy: Policy | None = None
) -> tuple[FieldProblem, ...]:
    """The spec's problems; ``policy``: the spec's version policy when the caller has
    built it already (under any applied tag: the policy's own errors ignore it)."""
    problems: list[FieldProblem] = []
    converge = spec.converge
    target = converge.target_namespace or meta.namespace
    if target != meta.namespace and not converge.service_account_name:
        problems.append(
            FieldProblem(
                path="spec.converge.serviceAccountName",
                message=(
                    f"required to deploy from namespace {meta.namespace!r} "
                    f"into namespace {target!r}"
                ),
            )
        )
    if converge.release_name is None and len(meta.name) > MAX_RELEASE_NAME:
        problems.append(
            FieldProblem(
                path="spec.converge.releaseName",
                message=(
                    f"the bundle name is {len(meta.name)} characters, more than a release "
                    f"name may have ({MAX_RELEASE_NAME}); set releaseName"
                ),
            )
        )
    error = policy_error(policy if policy is not None else policy_for(spec, None))
    if error is not None:
        path, _, message = error.partition(": ")
        problems.append(FieldProblem(path=path, message=message))
    return tuple(problems)
