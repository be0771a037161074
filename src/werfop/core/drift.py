"""Drift detection: ``werf bundle plan --exit-code`` of the applied version, on a timer.

Role: record finished drift checks (condition ``Drifted``: False on exit 0, True on
exit 2 or 3 with the plan's summary from the log, Unknown when the check itself failed),
start the next check every ``interval`` after a successful deploy, and in ``Correct``
mode apply the same version again, at most ``maxRetries`` times per version (then
condition ``DriftCorrectionFailed`` and no more corrections until a new version or a
spec change). Checks never run while another Job of the bundle is active.
Must not: be called outside ``reconcile`` (it appends to the pass).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from werfop.core import jobspec
from werfop.core.actions import CreateJob
from werfop.core.model import BundleSpec, BundleStatus, JobObservation
from werfop.core.status import ConditionStatus, set_condition

if TYPE_CHECKING:
    from werfop.core.reconcile import _Pass

DRIFTED = "Drifted"
CORRECTION_FAILED = "DriftCorrectionFailed"
SUMMARY_LINES = 5
# werf v2.75.0 cmd/werf/main.go:70-91: 2 when changes are planned (resource changes or
# a release that is not up to date); 3 splits off "no resource changes, but the release
# must be installed" only when a feature gate asks for it (nelm
# pkg/action/release_plan_install.go:462-475): both mean the release is out of date.
DRIFT_EXIT_CODES = frozenset({2, 3})


def pending_checks(
    jobs: tuple[JobObservation, ...], last_check: datetime | None
) -> list[JobObservation]:
    """Finished plan Jobs the status has not recorded yet, oldest first."""
    done = [j for j in jobs if j.kind == "plan" and j.state != "Active" and j.finished_at]
    fresh = [
        j for j in done if last_check is None or (j.finished_at and j.finished_at > last_check)
    ]
    return sorted(fresh, key=lambda j: (j.finished_at or datetime.min, j.name))


def record(p: _Pass, spec: BundleSpec, status: BundleStatus) -> tuple[BundleStatus, bool]:
    """Fold finished checks into the status; True when the newest found drift."""
    generation = p.bundle.meta.generation
    drifted = False
    for job in pending_checks(p.bundle.jobs, status.last_drift_check_time):
        summary = _summary(job.log_tail)
        value: ConditionStatus
        if job.exit_code == 0:
            value, reason, message, drifted = (
                "False",
                "NoDrift",
                "the cluster matches the bundle",
                False,
            )
        elif job.exit_code in DRIFT_EXIT_CODES:
            value, reason, drifted = "True", "DriftDetected", True
            message = (
                f"werf bundle plan found changes: {summary}"
                if summary
                else ("werf bundle plan found changes")
            )
        else:
            value, reason, drifted = "Unknown", "DriftCheckFailed", False
            message = f"the drift check {job.name} failed (exit code {job.exit_code})"
        status = set_condition(status, DRIFTED, value, reason, message, p.now, generation)
        status = attrs.evolve(status, last_drift_check_time=job.finished_at)
        p._note("DriftChecked", job=job.name, drifted=value)
        if value == "True":
            p._event("Warning", "DriftDetected", message)
    return status, drifted


def _summary(log: str | None) -> str:
    if not log:
        return ""
    lines = [line.strip() for line in log.strip().splitlines() if line.strip()]
    return "; ".join(lines[-SUMMARY_LINES:])[:500]


def step(p: _Pass, spec: BundleSpec, status: BundleStatus, drifted: bool) -> BundleStatus | None:
    """Called on a synced bundle with no active Job: correct drift, or start the next
    check when it is due. Returns the new status when it started a Job, else None (and
    adds the next check time to the pass's wake-ups)."""
    drift = spec.converge.drift
    if not drift.enabled or status.last_applied_tag is None or status.last_applied_digest is None:
        return None
    key = (status.last_applied_tag, status.last_applied_digest, p.bundle.inputs.values_hash)
    generation = p.bundle.meta.generation
    if drifted and drift.mode == "Correct":
        if status.drift_corrections < drift.max_retries:
            p._note("DriftCorrection", tag=key[0], correction=status.drift_corrections + 1)
            started, _ = p._start_job(spec, status, key)
            return attrs.evolve(started, drift_corrections=status.drift_corrections + 1)
        # No correction, but the checks go on every interval (not at the poll's pace).
        checked = status.last_drift_check_time or status.last_sync_time
        if checked is not None:
            p.wake.append(checked + drift.interval)
        failed = status.condition(CORRECTION_FAILED)
        if failed is None or failed.status != "True":
            p._note("DriftCorrectionFailed", tag=key[0], corrections=status.drift_corrections)
            p._event(
                "Warning",
                CORRECTION_FAILED,
                f"{drift.max_retries} corrections did not remove the drift of tag {key[0]}",
            )
        return set_condition(
            status,
            CORRECTION_FAILED,
            "True",
            "RetriesExhausted",
            f"{drift.max_retries} corrections did not remove the drift of tag {key[0]}; "
            "no more until a new version or a spec change",
            p.now,
            generation,
        )
    since = status.last_drift_check_time or status.last_sync_time
    if since is None:
        return None
    due = since + drift.interval
    if due > p.now:
        p.wake.append(due)
        return None
    check = int(due.timestamp())
    manifest, secret_name, files = jobspec.render_plan_job(
        p.bundle, spec, tag=key[0], digest=key[1], values_hash=key[2], check=check
    )
    if any(j.name == manifest["metadata"]["name"] for j in p.bundle.jobs):
        return None  # this check ran; its result is being recorded
    p.actions.append(CreateJob(job=manifest, secret_name=secret_name, secret_files=files))
    p._note("DriftCheckStarted", job=manifest["metadata"]["name"], tag=key[0])
    return status
