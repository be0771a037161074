"""The decision core: pure functions from observations to plans.

Nothing in this package performs I/O, logs, sleeps, reads the environment, draws random
numbers or reads ambient time. ``tests/unit/test_architecture.py`` enforces that.
Other tools may ``import werfop.core``; the names below are its stable surface.
"""

from werfop.core.actions import (
    Action,
    AddFinalizer,
    CreateJob,
    DeleteJob,
    DeleteLogs,
    EmitEvent,
    Plan,
    RemoveFinalizer,
    SaveLogs,
    WriteStatus,
)
from werfop.core.model import (
    Bundle,
    BundleSpec,
    BundleStatus,
    Inputs,
    JobObservation,
    PollRecord,
    RegistryUnavailable,
    TagList,
)
from werfop.core.reconcile import is_poll_due, reconcile
from werfop.core.timeline import EVENT_REASONS, Entry
from werfop.core.versions import Policy, Selection, select

__all__ = [
    "EVENT_REASONS",
    "Action",
    "AddFinalizer",
    "Bundle",
    "BundleSpec",
    "BundleStatus",
    "CreateJob",
    "DeleteJob",
    "DeleteLogs",
    "EmitEvent",
    "Entry",
    "Inputs",
    "JobObservation",
    "Plan",
    "Policy",
    "PollRecord",
    "RegistryUnavailable",
    "RemoveFinalizer",
    "SaveLogs",
    "Selection",
    "TagList",
    "WriteStatus",
    "is_poll_due",
    "reconcile",
    "select",
]
