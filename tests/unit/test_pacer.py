"""The poll pacer: one-second slots, at most 1.5x the mean poll rate per second."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from werfop.runtime.pacer import PollPacer

T0 = datetime(2026, 1, 1, tzinfo=UTC)
FIVE_MINUTES = timedelta(minutes=5)


def keys(n: int) -> list[str]:
    return [f"default/app-{i:04d}" for i in range(n)]


def test_the_capacity_is_one_and_a_half_times_the_mean_rate_and_at_least_the_minimum() -> None:
    assert 5 == PollPacer().capacity()  # nobody known yet: the default minimum
    pacer = PollPacer(minimum=1)
    assert 1 == pacer.capacity()
    for key in keys(1000):
        pacer.learn(key, FIVE_MINUTES)
    assert 5 == pacer.capacity()  # 1,000 / 300 s = 3.33/s; x 1.5 = 5
    for key in keys(1000)[:400]:
        pacer.forget(key)
    assert 3 == pacer.capacity()  # 600 / 300 s x 1.5
    pacer.learn("default/fast", timedelta(seconds=1))
    assert 4 == pacer.capacity()  # 3 + 1.5 -> 4.5, floored


def test_a_herd_is_spread_over_seconds_that_never_exceed_the_capacity() -> None:
    pacer = PollPacer()
    herd = keys(1000)
    for key in herd:
        pacer.learn(key, FIVE_MINUTES)
    slots = {key: pacer.admit(key, T0, FIVE_MINUTES) for key in herd}
    admitted_now = [k for k, slot in slots.items() if slot is None]
    per_second = Counter(slot for slot in slots.values() if slot is not None)

    assert 5 == len(admitted_now)
    assert 5 >= max(per_second.values())
    assert T0 + timedelta(seconds=199) == max(per_second)  # 995 more at 5/s
    # each comes back at its slot and is admitted then, exactly once
    for key, slot in slots.items():
        if slot is not None:
            assert pacer.admit(key, slot, FIVE_MINUTES) is None
    assert 995 == pacer.deferred


def test_a_key_woken_before_its_slot_keeps_that_slot() -> None:
    pacer = PollPacer(minimum=1)
    first = pacer.admit("default/a", T0, FIVE_MINUTES)
    slot = pacer.admit("default/b", T0, FIVE_MINUTES)
    assert first is None
    assert T0 + timedelta(seconds=1) == slot
    # a Job event wakes b early: it keeps the slot it has, and takes no other
    assert slot == pacer.admit("default/b", T0 + timedelta(milliseconds=300), FIVE_MINUTES)
    assert slot == pacer.admit(
        "default/c", T0 + timedelta(milliseconds=400), FIVE_MINUTES
    ) - timedelta(seconds=1)


def test_a_retry_within_half_an_interval_is_not_paced() -> None:
    pacer = PollPacer(minimum=1)
    assert pacer.admit("default/a", T0, FIVE_MINUTES) is None
    # the same key again in the same second (its write failed, the poll is still due)
    assert pacer.admit("default/a", T0, FIVE_MINUTES) is None
    # another key in that second still finds it full
    assert T0 + timedelta(seconds=1) == pacer.admit("default/b", T0, FIVE_MINUTES)
    assert pacer.admit("default/a", T0 + timedelta(seconds=149), FIVE_MINUTES) is None
    # the next scheduled poll, an interval later, is paced like any other
    pacer.admit("default/c", T0 + FIVE_MINUTES, FIVE_MINUTES)
    assert T0 + FIVE_MINUTES + timedelta(seconds=1) == pacer.admit(
        "default/a", T0 + FIVE_MINUTES, FIVE_MINUTES
    )


def test_a_forgotten_key_gives_its_slot_back() -> None:
    pacer = PollPacer(minimum=1)
    pacer.admit("default/a", T0, FIVE_MINUTES)
    slot = pacer.admit("default/b", T0, FIVE_MINUTES)
    pacer.forget("default/b")
    assert slot == pacer.admit("default/c", T0, FIVE_MINUTES)


def test_slow_pollers_created_together_are_not_held_back_below_the_minimum() -> None:
    pacer = PollPacer()
    day = timedelta(hours=24)
    herd = keys(1000)
    for key in herd:
        pacer.learn(key, day)
    slots = [pacer.admit(key, T0, day) for key in herd]
    assert T0 + timedelta(seconds=199) == max(s for s in slots if s is not None)


def test_a_key_learned_again_with_a_new_interval_counts_the_new_rate() -> None:
    pacer = PollPacer(minimum=1)
    for key in keys(1000):
        pacer.learn(key, FIVE_MINUTES)
        pacer.learn(key, FIVE_MINUTES)  # the same again (every pass): counted once
    assert 5 == pacer.capacity()
    for key in keys(1000):
        pacer.learn(key, timedelta(minutes=10))
    assert 2 == pacer.capacity()  # 1,000 / 600 s x 1.5 = 2.5, floored


def test_a_booking_keeps_its_own_second_when_there_is_room_else_takes_the_next() -> None:
    pacer = PollPacer(minimum=1)
    now = T0
    due = T0 + timedelta(seconds=300, milliseconds=400)
    assert due == pacer.book("default/a", due, FIVE_MINUTES, now)
    later = T0 + timedelta(seconds=300, milliseconds=700)  # the same second: full
    assert T0 + timedelta(seconds=301) == pacer.book("default/b", later, FIVE_MINUTES, now)
    # each is admitted in its own second, and an unbooked poll there is deferred
    assert pacer.admit("default/a", due, FIVE_MINUTES) is None
    assert T0 + timedelta(seconds=302) == pacer.admit("default/c", later, FIVE_MINUTES)
    assert pacer.admit("default/b", T0 + timedelta(seconds=301), FIVE_MINUTES) is None


def test_booking_again_or_cancelling_gives_the_second_back() -> None:
    pacer = PollPacer(minimum=1)
    due = T0 + timedelta(seconds=60)
    assert due == pacer.book("default/a", due, FIVE_MINUTES, T0)
    pacer.book("default/a", due + timedelta(seconds=30), FIVE_MINUTES, T0)  # rebooked
    assert due == pacer.book("default/b", due, FIVE_MINUTES, T0)
    pacer.cancel("default/b")
    assert due == pacer.book("default/c", due, FIVE_MINUTES, T0)


def test_bookings_an_interval_ahead_survive_the_passing_seconds() -> None:
    pacer = PollPacer()  # 5 a second
    due = T0 + timedelta(seconds=300)
    assert due == pacer.book("default/booked", due, FIVE_MINUTES, T0)
    for second in range(300):  # time passes, other keys poll every second
        moment = T0 + timedelta(seconds=second)
        pacer.admit(f"default/other-{second}", moment, FIVE_MINUTES)
    slots = [pacer.admit(f"default/late-{i}", due, FIVE_MINUTES) for i in range(5)]
    assert [None] * 4 + [due + timedelta(seconds=1)] == slots  # one of five was booked
