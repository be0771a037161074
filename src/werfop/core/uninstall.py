"""Deletion with ``deletionPolicy: Uninstall``: a Job uninstalls the release before the
finalizer goes.

Role: one step of the uninstall, as part of a deletion pass: first the bundle's other
Jobs are deleted (nothing may deploy while the release is removed), then an uninstall
Job runs; its failure is reported and retried with backoff; success marks the status
``uninstall: Done`` and the pass goes on to remove the finalizer. The annotation
``werf.io/skip-uninstall: "true"`` lets an admin release a stuck deletion.
Must not: be called outside ``reconcile``'s deletion path (it appends to the pass).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from werfop.core import jobspec, schedule
from werfop.core.actions import CreateJob, DeleteJob
from werfop.core.model import BundleSpec, BundleStatus

if TYPE_CHECKING:
    from werfop.core.reconcile import _Pass


def step(p: _Pass, spec: BundleSpec, status: BundleStatus) -> BundleStatus:
    """Advance the uninstall by one pass; returns the status to write."""
    others = [j for j in p.bundle.jobs if j.kind != "uninstall"]
    for job in sorted(others, key=lambda j: (j.namespace, j.name)):
        p.actions.append(DeleteJob(namespace=job.namespace, name=job.name))
    if others:
        return attrs.evolve(status, uninstall="Running")
    runs = sorted((j for j in p.bundle.jobs if j.kind == "uninstall"), key=lambda j: j.attempt)
    last = runs[-1] if runs else None
    if last is not None and last.state == "Active":
        return attrs.evolve(status, uninstall="Running")
    if last is not None and last.state == "Succeeded":
        p._note("Uninstalled", job=last.name)
        p._event("Normal", "Uninstalled", f"job {last.name} uninstalled the release")
        for run in runs:
            p.actions.append(DeleteJob(namespace=run.namespace, name=run.name))
        return attrs.evolve(status, uninstall="Done")
    if last is not None:  # failed: report, then retry after a backoff
        retry_at = (last.finished_at or p.now) + schedule.job_backoff(last.attempt)
        if status.uninstall != "Failed":
            p._note("UninstallFailed", job=last.name, attempt=last.attempt)
            p._event(
                "Warning",
                "UninstallFailed",
                f"job {last.name} could not uninstall the release: {last.message or 'failed'};"
                f" retrying (annotate werf.io/skip-uninstall=true to give up)",
            )
        if retry_at > p.now:
            p.wake.append(retry_at)
            return attrs.evolve(status, uninstall="Failed")
    attempt = (last.attempt if last is not None else 0) + 1
    manifest = jobspec.render_uninstall_job(p.bundle, spec, attempt)
    name = manifest["metadata"]["name"]
    p.actions.append(CreateJob(job=manifest, secret_name=None, secret_files=()))
    p._note("UninstallStarted", job=name, attempt=attempt)
    return attrs.evolve(status, uninstall="Running")
