"""Herds of scheduled polls (all bundles created together, or overdue after downtime)
are paced: no virtual second holds more than 1.5x the mean poll rate, and nobody is
starved. Requested polls are not paced."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from support.inmemory import SHOP_URL, World, bundle_manifest

N = 200  # at 1 minute: 3.33 polls/s on average, 5/s allowed


def herd_world() -> World:
    world = World([bundle_manifest(f"app-{i:03d}", SHOP_URL, poll_interval="1m") for i in range(N)])
    world.registry.push(SHOP_URL, "1.0.0")
    world.set_outcome("succeeded", timedelta(seconds=30))
    return world


def polls_between(world: World, start: datetime, end: datetime) -> Counter[str]:
    return Counter(
        key
        for key, moment, occurrence in world.timeline
        if occurrence.type == "Polled" and start <= moment < end
    )


def busiest_second(world: World, start: datetime, end: datetime) -> int:
    seconds = Counter(
        moment.replace(microsecond=0)
        for _, moment, occurrence in world.timeline
        if occurrence.type == "Polled" and start <= moment < end
    )
    return max(seconds.values())


def test_bundles_created_together_poll_at_most_five_a_second_and_all_of_them_poll() -> None:
    world = herd_world()
    start = world.clock.now()
    world.run_for(timedelta(minutes=15))

    assert 5 >= busiest_second(world, start, world.clock.now())
    # 200 first polls at 5/s take 40 s; then every bundle polls every ~minute
    first = polls_between(world, start, start + timedelta(seconds=40))
    assert N == len(first)
    assert all(12 <= n <= 16 for n in polls_between(world, start, world.clock.now()).values())
    assert N == len(world.jobs)  # everyone deployed 1.0.0 once


def test_bundles_overdue_after_downtime_are_paced_after_the_restart() -> None:
    world = herd_world()
    world.run_for(timedelta(minutes=15))
    down = world.clock.now()
    world.clock.set(down + timedelta(minutes=10))  # nothing runs: every poll is overdue
    world.start_runtime()
    restart = world.clock.now()
    world.run_for(timedelta(minutes=10))

    assert 5 >= busiest_second(world, restart, world.clock.now())
    assert N == len(polls_between(world, restart, restart + timedelta(seconds=40)))


def test_a_requested_poll_is_not_paced() -> None:
    world = herd_world()
    world.run_for(timedelta(minutes=15))
    world.registry.push(SHOP_URL, "1.1.0")
    for i in range(5):
        world.patch_bundle(
            f"app-{i:03d}", {"metadata": {"annotations": {"werf.io/reconcile-at": "1"}}}
        )
    asked = world.clock.now()
    world.run_for(timedelta(seconds=1))

    assert 5 == len(
        polls_between(world, asked, asked + timedelta(seconds=1))
        & Counter({f"default/app-{i:03d}": 1 for i in range(5)})
    )


def test_once_spread_each_scheduled_poll_comes_in_the_slot_it_booked() -> None:
    """A successful poll books its successor's second (pacer.book): steady polling no
    longer meets a full second and pays a deferral (a pass and a status write)."""
    world = herd_world()
    world.run_for(timedelta(minutes=5))  # the creation herd spreads: 200 at 5/s
    pacer = world.controller.observer.pacer
    deferred_in_the_herd = pacer.deferred
    start = world.clock.now()
    world.run_for(timedelta(minutes=30))

    assert deferred_in_the_herd == pacer.deferred
    assert 5 >= busiest_second(world, start, world.clock.now())
    assert all(27 <= n <= 33 for n in polls_between(world, start, world.clock.now()).values())
