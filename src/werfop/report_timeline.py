"""Read a simulation's timeline (the events of the JSON report) into what people look at:
each bundle's phases over time, its Jobs as spans, and durations with their units.

Role: shared by the text and the HTML reports, so both say the same thing. It reads the
report's plain data only (``{"time", "bundle", "type", ...fields}``), tolerantly: an
event type it does not know is kept as a marker, a field it does not know is shown as
it is. The entry types are ``core.timeline``'s (``Phase<phase>`` with ``from``, ``to``
and ``message``; ``JobCreated`` with its ``cause``).
Must not: decide anything about bundles, or import the runtime or adapters.
Neighbours: ``simulate`` (writes the events), ``report_text``, ``report_html``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, get_args

import attrs

from werfop.api.codec import parse_time
from werfop.core.model import Phase

# The operator's phases, and the simulator's own for a bundle deleted during the run.
PHASES: tuple[str, ...] = (*get_args(Phase), "Deleted")

# A Job's first entry (its kind), and the entries that end it (its result).
JOB_STARTS = {"JobCreated": "apply", "DriftCheckStarted": "plan", "UninstallStarted": "uninstall"}
JOB_ENDS = {
    "JobSucceeded": "succeeded",
    "JobFailed": "failed",
    "NoDrift": "succeeded",
    "DriftDetected": "succeeded",  # the check ran; it found drift (the lane marks it)
    "DriftCheckFailed": "failed",
    "Uninstalled": "succeeded",
    "UninstallFailed": "failed",
}
# Entries that tell a phase move without a phase entry of their own (the Event table:
# "the move to Syncing is told by JobCreated", "to Synced by JobSucceeded").
IMPLIED_PHASE = {"JobCreated": "Syncing", "JobSucceeded": "Synced"}
REGISTRY_ERRORS = frozenset(("RegistryUnavailable",))


def is_duration_field(name: str) -> bool:
    """Timeline fields that are durations in seconds (``retryIn``): by name, so a field
    the core adds later (``requeueIn``, ``retryAfter``) gets its unit too."""
    return name.endswith(("In", "After")) or name in ("duration", "delay", "backoff")


def format_seconds(value: float) -> str:
    """``29s``, ``8m11s``, ``1h0m5s``, ``0.5s``: rounded to the second from 10 s on."""
    if value < 10:
        return f"{value:.3g}s"
    total = round(value)
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{seconds}s"
    return f"{minutes}m{seconds}s" if minutes else f"{seconds}s"


def phase_after(event: dict[str, Any]) -> str | None:
    """The phase ``event`` says its bundle moved to, or None."""
    kind = str(event.get("type", ""))
    to = event.get("to")
    if isinstance(to, str) and to in PHASES:
        return to
    if kind.startswith("Phase") and kind[5:] in PHASES:
        return kind[5:]
    return IMPLIED_PHASE.get(kind)


@attrs.frozen(kw_only=True)
class Span:
    start: datetime
    end: datetime
    phase: str
    message: str | None = None


@attrs.frozen(kw_only=True)
class JobSpan:
    name: str
    kind: str
    start: datetime
    end: datetime | None  # None: still running when the run ended
    result: str  # succeeded, failed or running
    tag: str | None = None
    cause: str | None = None
    attempt: int | None = None
    reason: str | None = None
    fields: tuple[tuple[str, Any], ...] = ()


@attrs.frozen(kw_only=True)
class Lane:
    bundle: str
    phase: str  # at the end of the run
    spans: tuple[Span, ...]
    jobs: tuple[JobSpan, ...]
    markers: tuple[dict[str, Any], ...]  # every other event worth a mark (not quiet polls)


def final_phase(data: dict[str, Any]) -> str:
    """A bundle's phase at the end of the run: ``Deleted`` once it was deleted."""
    if data.get("deletedAt"):
        return "Deleted"
    return str((data.get("status") or {}).get("phase") or "Pending")


def lanes(document: dict[str, Any]) -> list[Lane]:
    """One lane per bundle of the report, in its order, from the events and statuses."""
    start = parse_time(document["run"]["start"])
    end = parse_time(document["run"]["end"])
    assert start is not None and end is not None
    events: dict[str, list[dict[str, Any]]] = {key: [] for key in document["bundles"]}
    for event in document["events"]:
        events.setdefault(event["bundle"], []).append(event)
    result = []
    for key, data in document["bundles"].items():
        deleted = parse_time(data.get("deletedAt"))
        result.append(_lane(key, events[key], start, deleted or end, end, final_phase(data)))
    return result


def _lane(
    key: str,
    events: list[dict[str, Any]],
    start: datetime,
    stop: datetime,
    end: datetime,
    phase: str,
) -> Lane:
    spans: list[Span] = []
    current, since, message = "Pending", start, None
    opened: dict[str, dict[str, Any]] = {}
    jobs: list[JobSpan] = []
    markers: list[dict[str, Any]] = []
    for event in events:
        at = parse_time(event["time"])
        assert at is not None
        kind = event["type"]
        moved = phase_after(event)
        if moved is not None and moved != current:
            if at > since:
                spans.append(Span(start=since, end=at, phase=current, message=message))
            current, since = moved, at
            message = event.get("message") if isinstance(event.get("message"), str) else None
        elif moved is not None and isinstance(event.get("message"), str):
            message = event["message"]
        job = event.get("job")
        if isinstance(job, str) and (kind in JOB_STARTS or kind in JOB_ENDS):
            if kind in JOB_STARTS and job not in opened:
                opened[job] = event | {"kind": JOB_STARTS[kind], "at": at}
            elif kind in JOB_ENDS:
                first = opened.pop(job, None) or (event | {"kind": "apply", "at": at})
                jobs.append(_job(first, at, JOB_ENDS[kind], event))
            continue
        if moved is None and kind != "Polled":
            markers.append(event)
    if stop > since:
        spans.append(Span(start=since, end=stop, phase=current, message=message))
    if stop < end:
        spans.append(Span(start=stop, end=end, phase="Deleted"))
    jobs += [_job(first, None, "running", None) for first in opened.values()]
    return Lane(
        bundle=key,
        phase=phase,
        spans=tuple(spans),
        jobs=tuple(sorted(jobs, key=lambda j: j.start)),
        markers=tuple(markers),
    )


def _job(
    first: dict[str, Any], end: datetime | None, result: str, last: dict[str, Any] | None
) -> JobSpan:
    skip = {"time", "bundle", "type", "job", "at", "kind"}
    fields = {k: v for k, v in first.items() if k not in skip}
    if last is not None:
        fields |= {k: v for k, v in last.items() if k not in skip}
    attempt = first.get("attempt")
    return JobSpan(
        name=first["job"],
        kind=first["kind"],
        start=first["at"],
        end=end,
        result=result,
        tag=_text(first.get("tag")),
        cause=_text(first.get("cause")),
        attempt=attempt if isinstance(attempt, int) else None,
        reason=_text(last.get("reason")) if last is not None else None,
        fields=tuple(fields.items()),
    )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
