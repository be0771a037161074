"""A requested poll (werf.io/reconcile-at) asks the registry itself: an answer another
bundle fetched before the push is not news (found by benchmarks/repro_requested_poll.py)."""

from datetime import timedelta

from support.inmemory import SHOP_URL, World, bundle_manifest


def test_a_requested_poll_sees_a_push_made_after_the_last_shared_fetch():
    world = World([bundle_manifest("a", SHOP_URL), bundle_manifest("b", SHOP_URL)])
    world.registry.push(SHOP_URL, "1.0.0")
    world.run_for(timedelta(seconds=100))
    world.patch_bundle("a", {"metadata": {"annotations": {"werf.io/reconcile-at": "1"}}})
    world.run_for(timedelta(seconds=50))  # a's requested poll refreshed the shared answer
    world.registry.push(SHOP_URL, "1.1.0")
    world.patch_bundle("b", {"metadata": {"annotations": {"werf.io/reconcile-at": "1"}}})
    world.run_for(timedelta(seconds=1))
    assert ("1", "1.1.0") == (
        world.status("b").last_handled_reconcile_at,
        world.status("b").desired_tag,
    )
