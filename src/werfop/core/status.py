"""Phase and kstatus conditions from a verdict, and Events from old -> new status.

Role: turn the pass's verdict into ``phase`` and the ``Ready``/``Reconciling``/
``Stalled`` conditions (transition times move only when a condition's status moves).
Events come from the timeline (``core.timeline``).
Must not: decide anything about deploys; ``reconcile`` hands over the verdict.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import attrs

from werfop.core import names
from werfop.core.model import BundleStatus, Condition, Phase

ConditionStatus = Literal["True", "False", "Unknown"]

READY = names.READY
RECONCILING = names.RECONCILING
STALLED = names.STALLED


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
