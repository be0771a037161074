"""Phase and kstatus conditions from a verdict, and Events from old -> new status.

Role: turn the pass's verdict into ``phase`` and the ``Ready``/``Reconciling``/
``Stalled`` conditions (transition times move only when a condition's status moves).
Events come from the timeline (``core.timeline``).
Must not: decide anything about deploys; ``reconcile`` hands over the verdict.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, NamedTuple

from werfop.core import names
from werfop.core.model import BundleStatus, Condition, Phase, find_condition

ConditionStatus = Literal["True", "False", "Unknown"]

READY = names.READY
RECONCILING = names.RECONCILING
STALLED = names.STALLED


class Verdict(NamedTuple):
    """What the pass concluded, in the words the status will use. (A named tuple, as
    ``core.step``'s values: every pass builds one, and a tuple is built in a third of
    the time of an attrs instance.)"""

    phase: Phase
    ready: ConditionStatus
    reason: str
    message: str
    reconciling: bool = False
    stalled: bool = False


Conditions = tuple[Condition, ...]


def set_condition(
    status: BundleStatus,
    type_: str,
    value: ConditionStatus | None,
    reason: str,
    message: str,
    now: datetime,
    generation: int,
) -> BundleStatus:
    """``status`` with condition ``type_`` set (or removed, when ``value`` is None): see
    ``with_condition``; ``status`` itself when that changes nothing."""
    conditions = with_condition(status.conditions, type_, value, reason, message, now, generation)
    if conditions is status.conditions:
        return status
    return status.replace(conditions=conditions)


def with_condition(
    conditions: Conditions,
    type_: str,
    value: ConditionStatus | None,
    reason: str,
    message: str,
    now: datetime,
    generation: int,
) -> Conditions:
    """``conditions`` with ``type_`` set (moved to the end) or removed (``value`` None);
    the transition time moves only when the condition's status does. The same tuple
    when that changes nothing (most passes: building a status is a tenth of a pass)."""
    previous = find_condition(conditions, type_)
    if value is None:
        if previous is None:
            return conditions
        return tuple(c for c in conditions if c.type != type_)
    if (
        previous is not None
        and previous.status == value
        and previous.reason == reason
        and previous.message == message
        and previous.observed_generation == generation
    ):
        return conditions
    others = tuple(c for c in conditions if c.type != type_)
    return (*others, _condition(previous, type_, value, reason, message, now, generation))


def _condition(
    previous: Condition | None,
    type_: str,
    status: ConditionStatus,
    reason: str,
    message: str,
    now: datetime,
    generation: int,
) -> Condition:
    moved = previous is None or previous.status != status
    return Condition(
        type=type_,
        status=status,
        reason=reason,
        message=message,
        last_transition_time=now if moved or previous is None else previous.last_transition_time,
        observed_generation=generation,
    )


def verdict_conditions(
    old: BundleStatus, new: BundleStatus, verdict: Verdict, now: datetime, generation: int
) -> Conditions | None:
    """The conditions ``new`` takes from ``verdict`` (transition times against ``old``);
    None when ``new`` already says it: the phase, the generation and the conditions."""
    wanted = _wanted(verdict)
    if _recorded(new, verdict, wanted, generation):
        return None  # the verdict is the one already recorded (most passes)
    conditions = [
        _condition(
            old.condition(type_), type_, value, verdict.reason, verdict.message, now, generation
        )
        for type_, value in wanted
    ]
    # Conditions owned by other concerns (Drifted, RegistryReachable...) are kept.
    conditions += [c for c in new.conditions if c.type not in (READY, RECONCILING, STALLED)]
    return tuple(conditions)


def _wanted(verdict: Verdict) -> list[tuple[str, ConditionStatus]]:
    """The kstatus conditions ``verdict`` sets, in order: Ready, then Reconciling and
    Stalled when they are True (absent otherwise)."""
    wanted: list[tuple[str, ConditionStatus]] = [(READY, verdict.ready)]
    if verdict.reconciling:
        wanted.append((RECONCILING, "True"))
    if verdict.stalled:
        wanted.append((STALLED, "True"))
    return wanted


def _recorded(
    status: BundleStatus,
    verdict: Verdict,
    wanted: list[tuple[str, ConditionStatus]],
    generation: int,
) -> bool:
    """Whether ``status`` already says ``verdict``: the phase, the generation, and the
    ``wanted`` conditions first, with its words and no other of them."""
    if status.phase != verdict.phase or status.observed_generation != generation:
        return False
    conditions = status.conditions
    if len(conditions) < len(wanted):
        return False
    for condition, (type_, value) in zip(conditions, wanted, strict=False):
        if (
            condition.type != type_
            or condition.status != value
            or condition.reason != verdict.reason
            or condition.message != verdict.message
            or condition.observed_generation != generation
        ):
            return False
    for condition in conditions[len(wanted) :]:
        if condition.type == RECONCILING or condition.type == STALLED:
            return False
    return True
