"""The day-2 levers: what each command changes on a WerfBundle, and how its status
shows that the operator has acted on the change and settled.

Role: pure functions over raw WerfBundle JSON (as the API server returns it), so that
``--wait`` waits for the record the operator really writes:
- ``werf.io/reconcile-at``, ``werf.io/redeploy-at``, ``werf.io/retry``: the operator
  copies a new value into ``status.lastHandledReconcileAt``, ``lastHandledRedeployAt``,
  ``lastHandledRetry`` in the pass that acts on it (``core.reconcile``), in the same
  status write as the Job that pass creates;
- ``werf.io/rollback-to-version``: no handled field; the pass that honours it sets
  ``status.desiredTag`` to the tag, or refuses with ``Ready`` reason
  ``RollbackUnavailable`` naming the tag;
- ``spec.suspend``: a spec change, so a new ``metadata.generation``; handled once
  ``status.observedGeneration`` reaches it.
Settled (kstatus): ``observedGeneration`` equals ``generation``, no active Job and no
``Reconciling=True``. Must not: talk to the API server (``bundles``) or sleep (``wait``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from werfop.core import names

Obj = dict[str, Any]
Handled = Callable[[Obj], bool]

# annotation -> the status field that records the last value acted on
HANDLED_FIELD = {
    names.RECONCILE_AT: "lastHandledReconcileAt",
    names.REDEPLOY_AT: "lastHandledRedeployAt",
    names.RETRY: "lastHandledRetry",
}
ROLLBACK_REFUSED = "RollbackUnavailable"


def status_of(bundle: Obj) -> Obj:
    return bundle.get("status") or {}


def condition(bundle: Obj, type_: str) -> Obj:
    """Condition ``type_`` of the bundle's status; ``{}`` when it has none."""
    for found in status_of(bundle).get("conditions") or []:
        if found.get("type") == type_:
            return dict(found)
    return {}


def is_suspended(bundle: Obj) -> bool:
    return bool((bundle.get("spec") or {}).get("suspend"))


def history_tags(bundle: Obj) -> list[str]:
    """Tags in ``status.versionHistory``, newest first, each once."""
    seen: list[str] = []
    for entry in status_of(bundle).get("versionHistory") or []:
        tag = entry.get("tag")
        if isinstance(tag, str) and tag not in seen:
            seen.append(tag)
    return seen


def annotation_patch(annotation: str, value: str | None) -> Obj:
    """A JSON merge patch setting (or, with None, removing) one annotation."""
    return {"metadata": {"annotations": {annotation: value}}}


def suspend_patch(suspend: bool) -> Obj:
    return {"spec": {"suspend": suspend}}


def handled_annotation(annotation: str, value: str) -> Handled:
    """The operator has acted on ``annotation: value`` (one with a handled field)."""
    field = HANDLED_FIELD[annotation]
    return lambda bundle: status_of(bundle).get(field) == value


def handled_rollback(tag: str) -> Handled:
    """The operator holds ``tag`` (desiredTag), or refused it naming it."""

    def check(bundle: Obj) -> bool:
        if status_of(bundle).get("desiredTag") == tag:
            return True
        ready = condition(bundle, names.READY)
        return ready.get("reason") == ROLLBACK_REFUSED and repr(tag) in str(ready.get("message"))

    return check


def handled_generation(generation: int) -> Handled:
    """The operator has observed spec generation ``generation`` (or a later one)."""
    return lambda bundle: int(status_of(bundle).get("observedGeneration") or 0) >= generation


def is_settled(bundle: Obj) -> bool:
    """No pass has more to do for now: the status describes the current spec, no Job is
    active, and nothing is reconciling (a retry waiting for its backoff counts as
    reconciling: its outcome is not known yet)."""
    status = status_of(bundle)
    generation = (bundle.get("metadata") or {}).get("generation")
    if status.get("observedGeneration") != generation or not status.get("phase"):
        return False
    if status.get("activeJobName"):
        return False
    return condition(bundle, names.RECONCILING).get("status") != "True"


def is_failed(bundle: Obj) -> bool:
    return status_of(bundle).get("phase") == "Failed"


def poll_failure(bundle: Obj) -> str | None:
    """Why the bundle's last registry poll failed (``consecutiveFailures`` in a row and
    ``lastErrorMessage``); None when it succeeded."""
    status = status_of(bundle)
    failures = int(status.get("consecutiveFailures") or 0)
    if failures <= 0:
        return None
    message = status.get("lastErrorMessage") or "no message"
    return f"{message} ({failures} in a row; the operator retries with backoff)"


def summary(bundle: Obj) -> str:
    """``Phase: Ready message`` in one line, for the end of a wait."""
    status = status_of(bundle)
    message = condition(bundle, names.READY).get("message") or ""
    phase = status.get("phase") or "Unknown"
    return f"{phase}: {message}" if message else phase
