"""The closed union of actions a pass may ask for, and the ``Plan`` that carries them.

Role: inert records with absolute targets (a full Job manifest, a full status), never
deltas or client references. Executing any action twice is the same as once; the
executor in ``werfop.runtime`` matches on the union with ``assert_never``.
Must not: perform anything. Neighbours: ``reconcile`` builds plans, ``runtime.executor``
runs them, ``core.timeline`` types ``Plan.timeline`` for logs, metrics and the simulator.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

import attrs

from werfop.core.model import BundleStatus, PollRecord, Sensitive
from werfop.core.timeline import Entry


@attrs.frozen(kw_only=True)
class AddFinalizer:
    """Set the bundle's finalizers to ``finalizers`` (which include ``werf.io/finalizer``);
    a patch guarded by resourceVersion."""

    namespace: str
    name: str
    resource_version: str
    finalizers: tuple[str, ...]


@attrs.frozen(kw_only=True)
class RemoveFinalizer:
    """Set the bundle's finalizers to ``finalizers`` (without ``werf.io/finalizer``)."""

    namespace: str
    name: str
    resource_version: str
    finalizers: tuple[str, ...]


@attrs.frozen(kw_only=True)
class CreateJob:
    """Create the Job, then its inputs Secret owned by the Job.

    Creating an existing Job or Secret is success: names are deterministic. ``secret``
    holds file name to content; values and credentials travel only in it.
    """

    job: dict[str, Any] = attrs.field(hash=False)
    secret_name: str | None  # None: the Job mounts no inputs (the uninstall Job)
    secret_files: tuple[tuple[str, Sensitive], ...]


@attrs.frozen(kw_only=True)
class DeleteJob:
    """Delete a Job (and, through its owner reference, its pod and inputs Secret)."""

    namespace: str
    name: str


@attrs.frozen(kw_only=True)
class SaveLogs:
    """Create or replace the ConfigMap holding a finished Job's captured log."""

    config_map: dict[str, Any] = attrs.field(hash=False)


@attrs.frozen(kw_only=True)
class DeleteLogs:
    """Delete a log ConfigMap older than the bundle's ``logRetentionDays``."""

    namespace: str
    name: str


@attrs.frozen(kw_only=True)
class WriteStatus:
    """Replace the bundle's status through the status subresource.

    ``resource_version`` guards the write: a conflict means re-read and decide again.
    """

    namespace: str
    name: str
    resource_version: str
    status: BundleStatus


@attrs.frozen(kw_only=True)
class EmitEvent:
    """A Kubernetes Event on the bundle. ``reason`` is stable CamelCase."""

    namespace: str
    name: str
    uid: str
    type: Literal["Normal", "Warning"]
    reason: str
    message: str


Action = (
    AddFinalizer
    | RemoveFinalizer
    | CreateJob
    | DeleteJob
    | SaveLogs
    | DeleteLogs
    | WriteStatus
    | EmitEvent
)


@attrs.frozen(kw_only=True)
class Plan:
    """What to do now, and when to look at this bundle again (None: only on events).

    ``polls`` is the bundle's poll record after this pass, for the runtime to keep and
    hand back with the next observation: a quiet poll changes only the record, and its
    plan writes nothing (None: a deletion pass, nothing to keep).
    """

    actions: tuple[Action, ...] = ()
    requeue_after: timedelta | None = None
    timeline: tuple[Entry, ...] = ()
    polls: PollRecord | None = None

    @property
    def is_empty(self) -> bool:
        return not self.actions
