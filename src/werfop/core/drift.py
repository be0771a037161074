"""Drift detection: ``werf bundle plan --exit-code`` of the applied version, on a timer.

Role: record finished drift checks (condition ``Drifted``: False on exit 0, True on
exit 2 or 3 with the plan's summary from the log, Unknown when the check itself failed),
start the next check every ``interval`` after a successful deploy, and in ``Correct``
mode apply the same version again, at most ``maxRetries`` times per version (then
condition ``DriftCorrectionFailed`` and no more corrections until a new version or a
spec change). Checks never run while another Job of the bundle is active.
Must not: choose versions (``deploy``) or record apply Jobs (``jobs``).
"""

from __future__ import annotations

from werfop.core import jobs, jobspec, names
from werfop.core.actions import CreateJob
from werfop.core.status import ConditionStatus, Verdict, set_condition
from werfop.core.step import Facts, Step
from werfop.core.timeline import (
    DriftCheckFailed,
    DriftCheckStarted,
    DriftCorrection,
    DriftCorrectionFailed,
    DriftDetected,
    Entry,
    NoDrift,
)

SUMMARY_LINES = 5
# werf v2.75.0 cmd/werf/main.go:70-91: 2 when changes are planned (resource changes or
# a release that is not up to date); 3 splits off "no resource changes, but the release
# must be installed" only when a feature gate asks for it (nelm
# pkg/action/release_plan_install.go:462-475): both mean the release is out of date.
DRIFT_EXIT_CODES = frozenset({2, 3})


def record(facts: Facts, step: Step) -> Step:
    """Fold finished checks into the status; ``drifted`` when the newest found drift."""
    generation = facts.bundle.meta.generation
    status = step.status
    drifted = False
    timeline: list[Entry] = []
    for job in jobs.pending_checks(facts.bundle.jobs, status.last_drift_check_time):
        summary = _summary(job.log_tail)
        value: ConditionStatus
        entry: Entry
        if job.exit_code == 0:
            value, reason, message, drifted = (
                "False",
                "NoDrift",
                "the cluster matches the bundle",
                False,
            )
            entry = NoDrift(job=job.name)
        elif job.exit_code in DRIFT_EXIT_CODES:
            value, reason, drifted = "True", "DriftDetected", True
            message = (
                f"werf bundle plan found changes: {summary}"
                if summary
                else "werf bundle plan found changes"
            )
            entry = DriftDetected(job=job.name, message=message)
        else:
            value, reason, drifted = "Unknown", "DriftCheckFailed", False
            message = f"the drift check {job.name} failed (exit code {job.exit_code})"
            entry = DriftCheckFailed(job=job.name, exit_code=job.exit_code)
        status = set_condition(status, names.DRIFTED, value, reason, message, facts.now, generation)
        status = status.replace(last_drift_check_time=job.finished_at)
        timeline.append(entry)
    if not timeline:
        return step
    return step.then(status, timeline=timeline, drifted=drifted)


def _summary(log: str | None) -> str:
    if not log:
        return ""
    lines = [line.strip() for line in log.strip().splitlines() if line.strip()]
    return "; ".join(lines[-SUMMARY_LINES:])[:500]


def check(facts: Facts, step: Step) -> Step:
    """On a synced bundle with no active Job: correct drift, or start the next check
    when it is due, or ask to be woken when it will be. A correction concludes the pass
    (``CorrectingDrift``); otherwise the caller gives the verdict."""
    spec, bundle, now = facts.spec, facts.bundle, facts.now
    drift = spec.converge.drift
    status = step.status
    if not drift.enabled or status.last_applied_tag is None or status.last_applied_digest is None:
        return step
    key = (status.last_applied_tag, status.last_applied_digest, bundle.inputs.values_hash)
    if step.drifted and drift.mode == "Correct":
        if status.drift_corrections < drift.max_retries:
            corrections = status.drift_corrections + 1
            noted = step.then(timeline=(DriftCorrection(tag=key[0], correction=corrections),))
            started = jobs.start(facts, noted, key, "DriftCorrection")
            name = started.status.active_job_name
            return started._replace(
                status=started.status.replace(drift_corrections=corrections),
                verdict=Verdict(
                    phase="Syncing",
                    ready="Unknown",
                    reason="CorrectingDrift",
                    message=f"job {name} applies tag {key[0]} again",
                    reconciling=True,
                ),
            )
        # No correction, but the checks go on every interval (not at the poll's pace).
        checked = status.last_drift_check_time or status.last_sync_time
        wake = [checked + drift.interval] if checked is not None else []
        failed = status.condition(names.DRIFT_CORRECTION_FAILED)
        told: list[Entry] = []
        if failed is None or failed.status != "True":
            told.append(DriftCorrectionFailed(tag=key[0], corrections=drift.max_retries))
        status = set_condition(
            status,
            names.DRIFT_CORRECTION_FAILED,
            "True",
            "RetriesExhausted",
            f"{drift.max_retries} corrections did not remove the drift of tag {key[0]}; "
            "no more until a new version or a spec change",
            now,
            bundle.meta.generation,
        )
        return step.then(status, timeline=told, wake=wake)
    since = status.last_drift_check_time or status.last_sync_time
    if since is None:
        return step
    due = since + drift.interval
    if due > now:
        return step.then(wake=(due,))
    manifest, secret_name, files = jobspec.render_plan_job(
        bundle, spec, tag=key[0], digest=key[1], values_hash=key[2], check=int(due.timestamp())
    )
    name = manifest["metadata"]["name"]
    if any(j.name == name for j in bundle.jobs):
        return step  # this check ran; its result is being recorded
    return step.then(
        actions=(CreateJob(job=manifest, secret_name=secret_name, secret_files=files),),
        timeline=(DriftCheckStarted(job=name, tag=key[0]),),
    )
