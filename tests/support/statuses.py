"""A sample ``BundleStatus`` with every kind of field set, for the codec, executor and
observer tests that encode, write and read statuses back."""

from __future__ import annotations

from datetime import timedelta

from support.world import T0
from werfop.core.model import BundleStatus, Condition, HistoryEntry, Rejection, SelectionStatus


def sample_status(polls: int = 1, entries: int = 1) -> BundleStatus:
    """Synced, with a Ready condition, poll times (``polls`` minutes after ``T0``), an ETag,
    a history of ``entries`` deploys an hour apart (``1.0.0`` first) and a selection
    with a rejected tag. No soak and no next poll: tests set those themselves."""
    return BundleStatus(
        phase="Synced",
        conditions=(
            Condition(
                type="Ready",
                status="True",
                reason="Succeeded",
                message="applied",
                last_transition_time=T0,
                observed_generation=1,
            ),
        ),
        observed_generation=1,
        last_poll_time=T0 + timedelta(minutes=polls),
        poll_count=polls,
        last_etag="W/1",
        version_history=tuple(
            HistoryEntry(
                tag=f"1.0.{i}",
                digest=f"sha256:{i}",
                values_hash="v",
                job_name=f"job-{i}",
                attempt=1,
                started_at=T0 + timedelta(hours=i),
                finished_at=T0 + timedelta(hours=i, minutes=1),
                result="Succeeded",
            )
            for i in range(entries)
        ),
        selection=SelectionStatus(
            selected=f"1.0.{entries - 1}",
            considered=entries + 1,
            rejected=(Rejection(tag="2.0.0", reason="x"),),
        ),
    )
