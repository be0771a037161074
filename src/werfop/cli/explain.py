"""``werfop status NAME`` (alias ``explain``): why a WerfBundle is where it is.

Role: render, from the bundle's raw JSON and its Events, the Ready message and the
other conditions, a deletion in progress (uninstall, finalizers), what it follows, a
remediated (rolled back from) version, the selection (chosen tag and the rejected ones
with their reasons, or what the status holds instead), the polls (last, next), drift
checks, registry failures, the active Job, the last finished Job with the tail of
``status.lastJobLogs`` (captured and redacted by the operator; no live log is read), the
levers set (``werf.io/*`` annotations and whether they were handled), recent Events and
the version history. Pure: the caller passes ``now``. Must not: print spec values
(inline Helm values may hold secrets) or anything from a Secret.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from werfop.cli.age import age_since, format_age, parse_time
from werfop.cli.events import event_time
from werfop.cli.levers import HANDLED_FIELD, condition, status_of
from werfop.cli.table import render_table
from werfop.core import names

Obj = dict[str, Any]
LABEL = 14  # width of the field names


def explain(bundle: Obj, events: Sequence[Obj], now: datetime, *, log_lines: int = 20) -> str:
    """The text ``werfop status`` prints, ending with a newline."""
    meta, spec, status = bundle.get("metadata") or {}, bundle.get("spec") or {}, status_of(bundle)
    out: list[str] = []

    def field(name: str, value: str) -> None:
        out.append(f"{name + ':':<{LABEL - 1}} {value}".rstrip())

    field("Name", f"{meta.get('namespace')}/{meta.get('name')}")
    field("Phase", str(status.get("phase") or "<none: the operator has not written a status>"))
    ready = condition(bundle, names.READY)
    field("Ready", _condition_text(ready) if ready else "<none>")
    others = [c for c in status.get("conditions") or [] if c.get("type") != names.READY]
    for index, found in enumerate(others):
        text = f"{found.get('type')}={_condition_text(found)}"
        if index == 0:
            field("Conditions", text)
        else:
            out.append(f"{'':<{LABEL}}{text}")
    generation, observed = meta.get("generation"), status.get("observedGeneration")
    if observed != generation:
        field("Generation", f"{generation}, the status describes {observed or 'none yet'}")
    if meta.get("deletionTimestamp"):
        uninstall = status.get("uninstall")
        field(
            "Deleting",
            f"since {_when(meta['deletionTimestamp'], now)}"
            + (f"; uninstall {uninstall}" if uninstall else "")
            + f"; finalizers {', '.join(meta.get('finalizers') or []) or 'none'}",
        )
    field("Follows", _follows(spec))
    field("Suspended", "yes (spec.suspend)" if spec.get("suspend") else "no")
    if status.get("resolvedTargetNamespace"):
        field("Target", str(status["resolvedTargetNamespace"]))
    field("Desired", _version(status.get("desiredTag"), status.get("desiredDigest")))
    applied = _version(status.get("lastAppliedTag"), status.get("lastAppliedDigest"))
    if status.get("lastSyncTime"):
        applied += f", synced {_when(status['lastSyncTime'], now)}"
    field("Applied", applied)
    if status.get("remediatedTag"):
        field(
            "Remediated",
            f"{_version(status['remediatedTag'], status.get('remediatedDigest'))} failed "
            "spec.converge.maxAttempts and was rolled back from; not tried again until a new "
            "version, a spec change or werf.io/retry",
        )
    out += _selection(status)
    soak = status.get("soak")
    if soak:
        field("Soaking", f"{soak.get('tag')} since {_when(soak.get('since'), now)} (minAge)")
    field("Polls", _polls(status, now))
    if ((spec.get("converge") or {}).get("driftDetection") or {}).get("enabled"):
        field(
            "Drift checks",
            f"last {_when(status.get('lastDriftCheckTime'), now)}; "
            f"{int(status.get('driftCorrections') or 0)} correction(s) for this version",
        )
    failures = int(status.get("consecutiveFailures") or 0)
    if failures or status.get("lastErrorMessage"):
        field(
            "Registry",
            f"{failures} failure(s) in a row; last {_when(status.get('lastErrorTime'), now)}: "
            f"{status.get('lastErrorMessage') or ''}",
        )
    active = status.get("activeJobName")
    where = status.get("activeJobNamespace") or status.get("resolvedTargetNamespace") or ""
    field("Active Job", f"{where}/{active}" if active else "none")
    out += _last_job(status, now, log_lines)
    out += _levers(meta, status)
    out += _events(events, now)
    out += _history(status, now)
    return "\n".join(out) + "\n"


def _condition_text(found: Obj) -> str:
    text = f"{found.get('status')} ({found.get('reason') or 'no reason'})"
    message = " ".join(str(found.get("message") or "").split())
    return f"{text} {message}" if message else text


def _follows(spec: Obj) -> str:
    registry = spec.get("registry") or {}
    url = str(registry.get("url") or "<no spec.registry.url>")
    if registry.get("tag"):
        policy = f"tag {registry['tag']}"
    elif registry.get("versionConstraint"):
        policy = f"versions {registry['versionConstraint']}"
    else:
        policy = "the highest release"
    extras = [f"every {registry['pollInterval']}"] if registry.get("pollInterval") else []
    filters = registry.get("tagFilter") or {}
    extras += [f"{k} /{v}/" for k, v in sorted(filters.items()) if v]
    if registry.get("allowDowngrade"):
        extras.append("downgrades allowed")
    if registry.get("minAge") not in (None, "0s"):
        extras.append(f"minAge {registry['minAge']}")
    return f"{url}, {policy}" + (f" ({', '.join(extras)})" if extras else "")


def _version(tag: object, digest: object) -> str:
    if not tag:
        return "none"
    return f"{tag} ({digest})" if digest else str(tag)


def _when(text: object, now: datetime) -> str:
    """``2026-01-01T00:00:00Z (3m ago)``, or ``(in 20s)`` for a future instant."""
    moment = parse_time(text)
    if moment is None:
        return "never" if not text else str(text)
    if moment > now:
        return f"{text} (in {format_age(moment - now)})"
    return f"{text} ({format_age(now - moment)} ago)"


def _selection(status: Obj) -> list[str]:
    selection = status.get("selection")
    if not selection:
        return [f"{'Selection:':<{LABEL}}none recorded (no poll has chosen a tag yet)"]
    chosen = selection.get("selected") or "nothing"
    considered = selection.get("considered")
    head = f"{chosen} chosen" + (f" from {considered} tag(s)" if considered is not None else "")
    lines = [f"{'Selection:':<{LABEL}}{head}"]
    for rejected in selection.get("rejected") or []:
        lines.append(f"{'':<{LABEL}}rejected {rejected.get('tag')}: {rejected.get('reason')}")
    return lines


def _polls(status: Obj, now: datetime) -> str:
    """The poll record as the status holds it: polls that change nothing write no status
    (the operator keeps its schedule in memory), so these are the values of the last
    write, and a next poll in the past is not a missed one."""
    count = status.get("pollCount") or 0
    parts = [f"{count} so far", f"last {_when(status.get('lastPollTime'), now)}"]
    next_poll = status.get("nextPollTime")
    moment = parse_time(next_poll)
    if moment is None:
        parts.append("next: none scheduled")
    elif moment <= now:
        parts.append(f"next {next_poll} (passed {format_age(now - moment)} ago)")
    else:
        parts.append(f"next {_when(next_poll, now)}")
    return "; ".join(parts) + " (as of the last status write; quiet polls write none)"


def _last_job(status: Obj, now: datetime, log_lines: int) -> list[str]:
    finished = [e for e in status.get("versionHistory") or [] if e.get("result") != "Running"]
    if not finished:
        return [f"{'Last Job:':<{LABEL}}none finished yet"]
    last = finished[0]
    text = (
        f"{last.get('jobName')} {last.get('result')} (tag {last.get('tag')}, attempt "
        f"{last.get('attempt')}, finished {_when(last.get('finishedAt'), now)})"
    )
    lines = [f"{'Last Job:':<{LABEL}}{text}"]
    logs = str(status.get("lastJobLogs") or "").rstrip("\n")
    if logs and log_lines > 0:
        tail = logs.splitlines()[-log_lines:]
        count = f"{len(tail)} line" + ("s" if len(tail) != 1 else "")
        lines.append(f"Log tail (status.lastJobLogs, redacted; last {count}):")
        lines += [f"  | {line}".rstrip() for line in tail]
    return lines


def _levers(meta: Obj, status: Obj) -> list[str]:
    annotations = meta.get("annotations") or {}
    lines = []
    for annotation, handled_field in HANDLED_FIELD.items():
        if annotation in annotations:
            value = annotations[annotation]
            done = "handled" if status.get(handled_field) == value else "not handled yet"
            lines.append(f"{'':<{LABEL}}{annotation}={value} ({done})")
    if names.ROLLBACK_TO in annotations:
        tag = annotations[names.ROLLBACK_TO]
        held = "held" if status.get("desiredTag") == tag else "not held"
        lines.append(f"{'':<{LABEL}}{names.ROLLBACK_TO}={tag} ({held})")
    if not lines:
        return []
    return [f"{'Levers:':<{LABEL}}{lines[0].strip()}", *lines[1:]]


def _events(events: Sequence[Obj], now: datetime) -> list[str]:
    if not events:
        return ["Events:       none"]
    rows = [
        [
            age_since(event_time(e), now),
            str(e.get("type") or ""),
            str(e.get("reason") or ""),
            " ".join(str(e.get("message") or "").split()),
        ]
        for e in events
    ]
    table = render_table(["AGE", "TYPE", "REASON", "MESSAGE"], rows)
    return ["Events (oldest first):", *("  " + line for line in table.splitlines())]


def _history(status: Obj, now: datetime) -> list[str]:
    history = status.get("versionHistory") or []
    if not history:
        return ["History:      none"]
    rows = [
        [
            str(e.get("tag") or ""),
            str(e.get("result") or ""),
            str(e.get("attempt") or ""),
            age_since(e.get("startedAt"), now) + " ago" if e.get("startedAt") else "",
            str(e.get("jobName") or ""),
        ]
        for e in history
    ]
    table = render_table(["TAG", "RESULT", "ATTEMPT", "STARTED", "JOB"], rows)
    return ["History (newest first):", *("  " + line for line in table.splitlines())]
