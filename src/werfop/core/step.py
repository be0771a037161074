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

import attrs

from werfop.core.actions import Action
from werfop.core.model import Bundle, BundleSpec, BundleStatus, RegistrySnapshot
from werfop.core.status import Verdict
from werfop.core.timeline import Entry


@attrs.frozen(kw_only=True)
class Facts:
    """What the pass was given: the observed bundle, the registry snapshot (None: no
    poll was due) and the clock, read once."""

    bundle: Bundle
    snapshot: RegistrySnapshot | None
    now: datetime

    @property
    def spec(self) -> BundleSpec:
        """The spec of a bundle that parsed (sub-deciders after the spec check)."""
        spec = self.bundle.spec
        assert spec is not None  # the spec check concluded the pass otherwise
        return spec


@attrs.frozen(kw_only=True)
class Step:
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
        return Step(
            status=self.status if status is None else status,
            actions=(*self.actions, *actions),
            timeline=(*self.timeline, *timeline),
            wake=(*self.wake, *wake),
            verdict=verdict if verdict is not None else self.verdict,
            drifted=self.drifted if drifted is None else drifted,
        )
