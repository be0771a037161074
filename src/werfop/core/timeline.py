"""The timeline: what a pass observed or decided, as a closed union of typed entries.

Role: one record per thing that happened, for the operator's log, the simulator's
report and metrics, and the one source of Kubernetes Events: an entry that users
should see in ``kubectl describe`` says so (``event()``), and ``reconcile`` turns those
into ``EmitEvent`` actions in one place. An entry's ``type`` is its Event reason when it
has one (``JobCreated``, ``PhaseFailed``, ``RegistryUnavailable``, ``DriftDetected``...),
so a simulation previews what ``kubectl describe`` will show; ``EVENT_REASONS`` lists
them, and the other types are timeline-only (``Polled``, ``JobPruned``...).
``fields`` never holds secret values.
Must not: decide anything.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

import attrs

from werfop.core import names
from werfop.core.model import Phase

EventType = Literal["Normal", "Warning"]

# Why a deploy Job was created: a closed set (README "Timeline and Events").
Cause = Literal[
    "Install",  # nothing applied yet
    "NewVersion",  # another tag than the applied one
    "DigestChanged",  # the applied tag, re-pushed
    "ValuesChanged",  # the applied tag and digest, with other values
    "Retry",  # the same deploy again after a failed attempt
    "Redeploy",  # werf.io/redeploy-at
    "Rollback",  # werf.io/rollback-to-version
    "Repair",  # the applied version again after a failed apply of another
    "Remediation",  # spec.converge.remediation.strategy rollback
    "DriftCorrection",  # driftDetection mode Correct
]
CAUSES: tuple[str, ...] = Cause.__args__  # type: ignore[attr-defined]


@attrs.frozen(kw_only=True)
class EventSpec:
    """A Kubernetes Event to raise on the bundle."""

    type: EventType
    reason: str
    message: str


_HIDDEN = {"show": False}


def _hidden(default: Any = None) -> Any:
    return attrs.field(default=default, metadata=_HIDDEN)


class _Entry:
    """What every entry does alike: its ``type`` and its public ``fields``."""

    __slots__ = ()

    @property
    def type(self) -> str:
        return type(self).__name__

    @property
    def fields(self) -> tuple[tuple[str, Any], ...]:
        return tuple((label, getattr(self, name)) for name, label in _shown(type(self)))

    def event(self) -> EventSpec | None:
        return None


_SHOWN: dict[type, tuple[tuple[str, str], ...]] = {}
_LABELS = {"from_": "from", "retry_in": "retryIn"}


def _shown(cls: type) -> tuple[tuple[str, str], ...]:
    found = _SHOWN.get(cls)
    if found is None:
        found = tuple(
            (a.name, _LABELS.get(a.name, a.name))
            for a in attrs.fields(cls)
            if a.metadata.get("show", True)
        )
        _SHOWN[cls] = found
    return found


# -- polls and requests ----------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Polled(_Entry):
    selected: str | None
    tags: int


@attrs.frozen(kw_only=True)
class RegistryUnavailable(_Entry):
    status: int | None
    reason: str
    failures: int
    retry_in: float  # seconds
    message: str = _hidden("")
    announce: bool = _hidden(False)  # first failure, or a new message: one Event

    def event(self) -> EventSpec | None:
        if not self.announce:
            return None
        return EventSpec(type="Warning", reason=self.type, message=self.message)


@attrs.frozen(kw_only=True)
class PollRequested(_Entry):
    value: str


@attrs.frozen(kw_only=True)
class RetryRequested(_Entry):
    value: str


@attrs.frozen(kw_only=True)
class RedeployRequested(_Entry):
    value: str


@attrs.frozen(kw_only=True)
class RollbackHeld(_Entry):
    tag: str


@attrs.frozen(kw_only=True)
class DesiredDropped(_Entry):
    tag: str


# -- Jobs ------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class JobAdopted(_Entry):
    job: str
    tag: str
    attempt: int


@attrs.frozen(kw_only=True)
class JobCreated(_Entry):
    job: str
    tag: str
    digest: str
    cause: Cause
    attempt: int  # attempts at this deploy, this one included
    namespace: str = _hidden("")

    def event(self) -> EventSpec:
        return EventSpec(
            type="Normal",
            reason=self.type,
            message=f"job {self.namespace}/{self.job} applies tag {self.tag} ({self.cause})",
        )


@attrs.frozen(kw_only=True)
class JobSucceeded(_Entry):
    job: str
    tag: str

    def event(self) -> EventSpec:
        return EventSpec(
            type="Normal", reason=self.type, message=f"job {self.job} applied tag {self.tag}"
        )


@attrs.frozen(kw_only=True)
class JobFailed(_Entry):
    job: str
    tag: str
    reason: str

    def event(self) -> EventSpec:
        return EventSpec(
            type="Warning",
            reason=self.type,
            message=f"job {self.job} for tag {self.tag} failed: {self.reason}",
        )


@attrs.frozen(kw_only=True)
class JobPruned(_Entry):
    job: str
    kind: str


# -- phase -----------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class PhaseChanged(_Entry):
    """Its type is ``Phase<to>``, the Event's reason (``PhaseFailed``...)."""

    from_: str
    to: str
    message: str  # the Ready message
    announce: bool = _hidden(True)  # False: a Job entry of the same pass told it

    @property
    def type(self) -> str:
        return f"Phase{self.to}"

    def event(self) -> EventSpec | None:
        if not self.announce:
            return None
        detail = f": {self.message}" if self.message else ""
        return EventSpec(
            type="Warning" if self.to == "Failed" else "Normal",
            reason=self.type,
            message=f"phase {self.from_} -> {self.to}{detail}",
        )


# -- drift -----------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class DriftCheckStarted(_Entry):
    job: str
    tag: str


@attrs.frozen(kw_only=True)
class NoDrift(_Entry):
    job: str


@attrs.frozen(kw_only=True)
class DriftDetected(_Entry):
    job: str
    message: str = _hidden("")

    def event(self) -> EventSpec:
        return EventSpec(type="Warning", reason=self.type, message=self.message)


@attrs.frozen(kw_only=True)
class DriftCheckFailed(_Entry):
    job: str
    exit_code: int | None


@attrs.frozen(kw_only=True)
class DriftCorrection(_Entry):
    tag: str
    correction: int


@attrs.frozen(kw_only=True)
class DriftCorrectionFailed(_Entry):
    tag: str
    corrections: int

    def event(self) -> EventSpec:
        return EventSpec(
            type="Warning",
            reason=self.type,
            message=f"{self.corrections} corrections did not remove the drift of tag {self.tag}",
        )


# -- deletion --------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class UninstallStarted(_Entry):
    job: str
    attempt: int


@attrs.frozen(kw_only=True)
class Uninstalled(_Entry):
    job: str

    def event(self) -> EventSpec:
        return EventSpec(
            type="Normal", reason=self.type, message=f"job {self.job} uninstalled the release"
        )


@attrs.frozen(kw_only=True)
class UninstallFailed(_Entry):
    job: str
    attempt: int
    message: str = _hidden("")

    def event(self) -> EventSpec:
        return EventSpec(
            type="Warning",
            reason=self.type,
            message=(
                f"job {self.job} could not uninstall the release: {self.message or 'failed'};"
                f" retrying (annotate {names.SKIP_UNINSTALL}=true to give up)"
            ),
        )


@attrs.frozen(kw_only=True)
class Finalizing(_Entry):
    jobs: int


@attrs.frozen(kw_only=True)
class Finalized(_Entry):
    pass


Entry = (
    Polled
    | RegistryUnavailable
    | PollRequested
    | RetryRequested
    | RedeployRequested
    | RollbackHeld
    | DesiredDropped
    | JobAdopted
    | JobCreated
    | JobSucceeded
    | JobFailed
    | JobPruned
    | PhaseChanged
    | DriftCheckStarted
    | NoDrift
    | DriftDetected
    | DriftCheckFailed
    | DriftCorrection
    | DriftCorrectionFailed
    | UninstallStarted
    | Uninstalled
    | UninstallFailed
    | Finalizing
    | Finalized
)

# Every reason an Event on a WerfBundle can carry (docs/troubleshooting.md lists each).
EVENT_REASONS: tuple[str, ...] = (
    "JobCreated",
    "JobSucceeded",
    "JobFailed",
    "RegistryUnavailable",
    *(f"Phase{p}" for p in get_args(Phase)),
    "DriftDetected",
    "DriftCorrectionFailed",
    "Uninstalled",
    "UninstallFailed",
)
