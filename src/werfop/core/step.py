"""The values a pass is folded from: the facts it was given and the step so far.

Role: ``reconcile`` runs sub-deciders in order (record the Jobs, check the spec, record
drift checks, poll, hold a rollback, deploy); each is a function
``(Facts, Step) -> Step`` that returns a new step with the status it changed, the
actions and timeline entries it adds, the moments it wants to be woken at and, when it
concludes, the verdict. Nothing here is mutable: a sub-decider's result is the whole of
its effect.
Must not: decide anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from werfop.core.actions import Action
from werfop.core.model import Bundle, BundleSpec, BundleStatus, RegistrySnapshot
from werfop.core.status import Verdict
from werfop.core.timeline import Entry
from werfop.core.validation import policy_for
from werfop.core.versions import Policy


class Facts(NamedTuple):
    """What the pass was given: the observed bundle, the registry snapshot (None: no
    poll was due) and the clock, read once. (Named tuples, not attrs classes: a pass
    builds a handful of steps, and a tuple is built in a tenth of the time.)"""

    bundle: Bundle
    snapshot: RegistrySnapshot | None
    now: datetime
    # The version policy under the observed ``lastAppliedTag`` (None: the spec did not
    # parse), built once: the spec check, the poll and the deploy all read it.
    policy: Policy | None = None

    @property
    def spec(self) -> BundleSpec:
        """The spec of a bundle that parsed (sub-deciders after the spec check)."""
        spec = self.bundle.spec
        assert spec is not None  # the spec check concluded the pass otherwise
        return spec

    def policy_under(self, last_applied: str | None) -> Policy:
        """The version policy with ``last_applied`` as the applied tag (the one built
        for the pass unless a Job of this pass moved it)."""
        policy = self.policy
        if policy is not None and policy.last_applied == last_applied:
            return policy
        return policy_for(self.spec, last_applied)


class Step(NamedTuple):
    status: BundleStatus
    actions: tuple[Action, ...] = ()
    timeline: tuple[Entry, ...] = ()
    wake: tuple[datetime, ...] = ()
    verdict: Verdict | None = None
    drifted: bool = False  # the newest drift check recorded in this pass found drift

    def then(
        self,
        status: BundleStatus | None = None,
        *,
        actions: Iterable[Action] = (),
        timeline: Iterable[Entry] = (),
        wake: Iterable[datetime] = (),
        verdict: Verdict | None = None,
        drifted: bool | None = None,
    ) -> Step:
        """This step, followed by what a sub-decider did."""
        return _tuple(  # every field given: no need for the named tuple's own __new__
            Step,
            (
                self.status if status is None else status,
                (*self.actions, *actions) if actions else self.actions,
                (*self.timeline, *timeline) if timeline else self.timeline,
                (*self.wake, *wake) if wake else self.wake,
                verdict if verdict is not None else self.verdict,
                self.drifted if drifted is None else drifted,
            ),
        )


_tuple = tuple.__new__
