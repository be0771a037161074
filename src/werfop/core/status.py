"""Phase and kstatus conditions from a verdict, and Events from old -> new status.

Role: turn the pass's verdict into ``phase`` and the ``Ready``/``Reconciling``/
``Stalled`` conditions (transition times move only when a condition's status moves),
and describe the differences between two statuses as Kubernetes Events.
Must not: decide anything about deploys; ``reconcile`` hands over the verdict.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import attrs

from werfop.core.model import BundleStatus, Condition, Phase

ConditionStatus = Literal["True", "False", "Unknown"]

READY = "Ready"
RECONCILING = "Reconciling"
STALLED = "Stalled"


@attrs.frozen(kw_only=True)
class Verdict:
    """What the pass concluded, in the words the status will use."""

    phase: Phase
    ready: ConditionStatus
    reason: str
    message: str
    reconciling: bool = False
    stalled: bool = False


def set_condition(
    status: BundleStatus,
    type_: str,
    value: ConditionStatus | None,
    reason: str,
    message: str,
    now: datetime,
    generation: int,
) -> BundleStatus:
    """``status`` with condition ``type_`` set (or removed, when ``value`` is None); the
    transition time moves only when the condition's status does."""
    others = tuple(c for c in status.conditions if c.type != type_)
    if value is None:
        return attrs.evolve(status, conditions=others)
    updated = _condition(status, type_, value, reason, message, now, generation)
    return attrs.evolve(status, conditions=(*others, updated))


def _condition(
    old: BundleStatus,
    type_: str,
    status: ConditionStatus,
    reason: str,
    message: str,
    now: datetime,
    generation: int,
) -> Condition:
    previous = old.condition(type_)
    moved = previous is None or previous.status != status
    return Condition(
        type=type_,
        status=status,
        reason=reason,
        message=message,
        last_transition_time=now if moved or previous is None else previous.last_transition_time,
        observed_generation=generation,
    )


def apply_verdict(
    old: BundleStatus, new: BundleStatus, verdict: Verdict, now: datetime, generation: int
) -> BundleStatus:
    """``new`` with phase, conditions and observedGeneration set from ``verdict``."""
    conditions = [
        _condition(old, READY, verdict.ready, verdict.reason, verdict.message, now, generation)
    ]
    if verdict.reconciling:
        conditions.append(
            _condition(old, RECONCILING, "True", verdict.reason, verdict.message, now, generation)
        )
    if verdict.stalled:
        conditions.append(
            _condition(old, STALLED, "True", verdict.reason, verdict.message, now, generation)
        )
    # Conditions owned by other concerns (Drifted, DriftCorrectionFailed) are kept.
    conditions += [c for c in new.conditions if c.type not in (READY, RECONCILING, STALLED)]
    settled = tuple(conditions)
    if (new.phase, new.conditions, new.observed_generation) == (
        verdict.phase,
        settled,
        generation,
    ):
        return new  # the verdict is the one already recorded
    return attrs.evolve(
        new,
        phase=verdict.phase,
        conditions=settled,
        observed_generation=generation,
    )


@attrs.frozen(kw_only=True)
class EventSpec:
    type: Literal["Normal", "Warning"]
    reason: str
    message: str


def events_between(old: BundleStatus, new: BundleStatus) -> tuple[EventSpec, ...]:
    """Events for what changed: phase moves and registry failures (deduplicated: one
    Event when failing starts or its message changes, not one per retry)."""
    events: list[EventSpec] = []
    if old.phase != new.phase:
        ready = new.condition(READY)
        detail = f": {ready.message}" if ready is not None and ready.message else ""
        events.append(
            EventSpec(
                type="Warning" if new.phase == "Failed" else "Normal",
                reason=f"Phase{new.phase}",
                message=f"phase {old.phase} -> {new.phase}{detail}",
            )
        )
    if new.consecutive_failures > 0 and (
        old.consecutive_failures == 0 or old.last_error_message != new.last_error_message
    ):
        events.append(
            EventSpec(
                type="Warning",
                reason="RegistryUnavailable",
                message=new.last_error_message or "registry unavailable",
            )
        )
    return tuple(events)
