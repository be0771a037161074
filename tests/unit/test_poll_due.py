"""``is_poll_due``: when the runtime reads the registry before a pass, and that a
bundle whose spec breaks a cross-field rule never asks the registry, whatever else
would make it due."""

from __future__ import annotations

from datetime import timedelta

import pytest

from support.world import T0, World, make_spec
from werfop.core.model import BundleStatus, ConvergeSpec
from werfop.core.names import RECONCILE_AT
from werfop.core.polling import is_poll_due

POLLED = BundleStatus(
    observed_generation=1,
    last_poll_time=T0,
    next_poll_time=T0 + timedelta(minutes=5),
    last_handled_reconcile_at="a",
)
# Deploys into another namespace without a ServiceAccount: spec.converge.serviceAccountName.
BROKEN = ConvergeSpec(target_namespace="elsewhere")


@pytest.mark.parametrize(
    ("status", "minutes", "generation", "asked", "due"),
    [
        (BundleStatus(), 0, 1, None, True),  # never polled
        (POLLED, 1, 1, None, False),  # before the next poll time
        (POLLED, 5, 1, None, True),  # at it
        (POLLED, 1, 2, None, True),  # a new generation
        (POLLED, 1, 1, "a", False),  # a reconcile-at already handled
        (POLLED, 1, 1, "b", True),  # a new reconcile-at
    ],
)
def test_due(
    status: BundleStatus, minutes: int, generation: int, asked: str | None, due: bool
) -> None:
    world = World(spec=make_spec(), status=status, generation=generation)
    if asked is not None:
        world.annotations = ((RECONCILE_AT, asked),)
    world.now = T0 + timedelta(minutes=minutes)
    assert is_poll_due(world.bundle(), world.now) is due
    broken = World(spec=make_spec(converge=BROKEN), status=status, generation=generation)
    broken.annotations, broken.now = world.annotations, world.now
    assert is_poll_due(broken.bundle(), broken.now) is False


def test_suspended_and_deleting_bundles_never_poll() -> None:
    suspended = World(spec=make_spec(suspend=True))
    assert is_poll_due(suspended.bundle(), T0) is False
    deleting = World(spec=make_spec(), deleting=True)
    assert is_poll_due(deleting.bundle(), T0) is False
