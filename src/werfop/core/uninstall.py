"""Deletion with ``deletionPolicy: Uninstall``: a Job uninstalls the release before the
finalizer goes.

Role: one step of the uninstall, as part of a deletion pass: first the bundle's other
Jobs are deleted (nothing may deploy while the release is removed), then an uninstall
Job runs; its failure is reported and retried with backoff; success marks the status
``uninstall: Done`` and the pass goes on to remove the finalizer. The annotation
``werf.io/skip-uninstall: "true"`` lets an admin release a stuck deletion.
Must not: run outside a deletion pass.
"""

from __future__ import annotations

from werfop.core import jobspec, schedule
from werfop.core.actions import CreateJob, DeleteJob
from werfop.core.step import Facts, Step
from werfop.core.timeline import Uninstalled, UninstallFailed, UninstallStarted


def step(facts: Facts, current: Step) -> Step:
    """Advance the uninstall by one pass."""
    bundle, now = facts.bundle, facts.now
    status = current.status
    others = sorted(
        (j for j in bundle.jobs if j.kind != "uninstall"), key=lambda j: (j.namespace, j.name)
    )
    if others:
        return current.then(
            status.replace(uninstall="Running"),
            actions=[DeleteJob(namespace=j.namespace, name=j.name) for j in others],
        )
    runs = sorted((j for j in bundle.jobs if j.kind == "uninstall"), key=lambda j: j.attempt)
    last = runs[-1] if runs else None
    if last is not None and last.state == "Active":
        return current.then(status.replace(uninstall="Running"))
    if last is not None and last.state == "Succeeded":
        return current.then(
            status.replace(uninstall="Done"),
            actions=[DeleteJob(namespace=r.namespace, name=r.name) for r in runs],
            timeline=(Uninstalled(job=last.name),),
        )
    if last is not None:  # failed: report, then retry after a backoff
        retry_at = (last.finished_at or now) + schedule.job_backoff(last.attempt)
        if status.uninstall != "Failed":
            current = current.then(
                timeline=(
                    UninstallFailed(
                        job=last.name, attempt=last.attempt, message=last.message or ""
                    ),
                )
            )
        if retry_at > now:
            return current.then(status.replace(uninstall="Failed"), wake=(retry_at,))
    attempt = (last.attempt if last is not None else 0) + 1
    manifest = jobspec.render_uninstall_job(bundle, facts.spec, attempt)
    return current.then(
        status.replace(uninstall="Running"),
        actions=(CreateJob(job=manifest, secret_name=None, secret_files=()),),
        timeline=(UninstallStarted(job=manifest["metadata"]["name"], attempt=attempt),),
    )
