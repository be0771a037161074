"""Hypothesis over reconcile: invariants that must hold for any history of the world."""

import re
from datetime import timedelta

import attrs
from hypothesis import given
from hypothesis import strategies as st

from support.world import FixedClock, World, digest_of, make_spec
from werfop.api.codec import decode_status, encode_status
from werfop.core import schedule
from werfop.core.actions import CreateJob, DeleteJob, WriteStatus
from werfop.core.model import ConvergeSpec, Inputs
from werfop.core.names import FINALIZER
from werfop.core.reconcile import MAX_HISTORY, is_evicted, reconcile
from werfop.core.semver import parse_version
from werfop.core.versions import Policy, select

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

versions = st.builds(
    lambda a, b, c, pre: f"{a}.{b}.{c}" + (f"-rc.{pre}" if pre is not None else ""),
    st.integers(0, 3),
    st.integers(0, 3),
    st.integers(0, 3),
    st.none() | st.integers(0, 2),
)
tag_names = versions | st.sampled_from(["latest", "main", "v1.2.0", "sha-0f3c"])
constraints = st.sampled_from(
    [None, "^1", ">=1.1.0 <3.0.0", "~2.1", "1.x || 3.x", "!=1.2.0", ">=0.0.0-0"]
)

event = st.one_of(
    st.tuples(st.just("push"), tag_names, st.integers(0, 3)),
    st.tuples(st.just("delete"), tag_names),
    st.tuples(st.just("outage"), st.sampled_from([500, 503, 429])),
    st.tuples(st.just("recover")),
    st.tuples(st.just("finish"), st.sampled_from(["Succeeded", "Failed"])),
    st.tuples(st.just("vanish")),
    st.tuples(st.just("wait"), st.integers(1, 3 * 3600)),
    st.tuples(st.just("edit"), constraints),
    st.tuples(st.just("values"), st.integers(0, 2)),
    st.tuples(st.just("pass")),
)


def _apply(world: World, ev) -> None:
    kind = ev[0]
    if kind == "push":
        world.tags[ev[1]] = digest_of(ev[1], ev[2])
    elif kind == "delete":
        world.tags.pop(ev[1], None)
    elif kind == "outage":
        world.registry_down = ev[1]
    elif kind == "recover":
        world.registry_down = None
    elif kind == "finish":
        world.finish_jobs(ev[1])
    elif kind == "vanish":
        for name in [j.name for j in world.active_jobs()]:
            del world.jobs[name]
    elif kind == "wait":
        world.advance(timedelta(seconds=ev[1]))
    elif kind == "edit":
        world.spec = attrs.evolve(
            world.spec, registry=attrs.evolve(world.spec.registry, version_constraint=ev[1])
        )
        world.generation += 1
    elif kind == "values":
        world.inputs = Inputs(values_hash=f"v{ev[1]}")
    world.step()


@given(constraints, st.lists(event, max_size=40), st.booleans())
def test_invariants_hold_over_any_history(constraint, events, allow_downgrade):
    world = World(spec=make_spec(version_constraint=constraint, allow_downgrade=allow_downgrade))
    world.step()
    policy = Policy(constraint=constraint)
    for ev in events:
        applied_before = world.status.last_applied_tag
        _apply(world, ev)
        plan = world.plans[-1]
        # at most one active Job per bundle, ever
        assert len(world.active_jobs()) <= 1
        for action in plan.actions:
            if isinstance(action, CreateJob):
                tag = action.job["metadata"]["annotations"]["werf.io/tag"]
                name = action.job["metadata"]["name"]
                assert len(name) <= 63 and DNS_LABEL.match(name)
                # never a tag outside the (current) constraint
                current = Policy(constraint=world.spec.registry.version_constraint)
                assert select((tag,), current).selected == tag
                # no downgrade unless allowed
                if applied_before and not allow_downgrade:
                    before, new = parse_version(applied_before), parse_version(tag)
                    if before and new and world.spec.registry.version_constraint == constraint:
                        assert new >= before or tag == applied_before
        _check_pruning(world.observed[-1], plan, world)
        status = world.status
        assert status.observed_generation <= world.generation
        stalled = status.condition("Stalled")
        if stalled is not None and stalled.status == "True":
            assert "False" == status.condition("Ready").status
    del policy


def _check_pruning(seen, plan, world: World) -> None:
    """A Job is deleted only once it is finished, its result is in the status the pass
    read (or it was pushed out of a full history before), and the status the pass wrote
    no longer names it; so a bundle never holds more than the history's Jobs, plus the
    one just pushed out and the one whose result is being recorded."""
    before = {j.name: j for j in seen.jobs}
    recorded = {e.job_name for e in seen.status.version_history if e.result != "Running"}
    kept = {e.job_name for e in world.status.version_history}
    for action in plan.actions:
        if isinstance(action, DeleteJob):
            job = before[action.name]
            assert "Active" != job.state
            assert job.name not in kept
            assert job.name in recorded or is_evicted(seen.status, job)
    assert sum(1 for j in world.jobs.values() if j.kind == "apply") <= MAX_HISTORY + 2


@given(constraints, st.lists(event, max_size=25))
def test_reconcile_is_deterministic(constraint, events):
    world = World(spec=make_spec(version_constraint=constraint))
    world.finalizers = (FINALIZER,)
    for ev in events:
        _apply(world, ev)
        clock = FixedClock(world.now)
        first = reconcile(world.bundle(), world.snapshot(), clock)
        # Equal inputs, rebuilt (the status through the codec, a new tag list): state
        # kept in a cache between the two calls would show as a different plan.
        rebuilt = attrs.evolve(world.bundle(), status=decode_status(encode_status(world.status)))
        assert first == reconcile(rebuilt, world.snapshot(), clock)


@given(constraints, st.lists(event, max_size=25))
def test_plans_converge_once_the_world_stops_changing(constraint, events):
    world = World(spec=make_spec(version_constraint=constraint))
    for ev in events:
        _apply(world, ev)
    world.registry_down = None
    for _ in range(6):  # let running Jobs end; each ending may start one more Job
        world.finish_jobs("Succeeded")
        world.settle(limit=6)
        world.advance(timedelta(hours=2))
    world.finish_jobs("Succeeded")
    world.settle(limit=6)  # raises unless a pass within 6 plans nothing
    # and stays empty while nothing changes and no poll is due
    assert world.step().is_empty


@given(st.text(min_size=1, max_size=40), st.integers(0, 10_000), st.integers(30, 86_400))
def test_jitter_stays_within_ten_percent(seed, counter, seconds):
    base = timedelta(seconds=seconds)
    delay = schedule.jittered(base, seed, counter)
    assert base * 0.9 - timedelta(milliseconds=1) <= delay <= base * 1.1 + timedelta(milliseconds=1)
    assert delay == schedule.jittered(base, seed, counter)
    # whole milliseconds, as ``timedelta(milliseconds=...)`` of the scaled base made them
    # (jittered now multiplies a millisecond instead: the same value, cheaper)
    scaled = base / timedelta(milliseconds=1) * (1.0 + schedule.jitter_fraction(seed, counter))
    assert delay == timedelta(milliseconds=round(scaled))


@given(st.integers(1, 100))
def test_backoff_is_monotone_and_capped(n):
    assert schedule.registry_backoff(n) <= schedule.registry_backoff(n + 1) <= timedelta(minutes=8)
    assert schedule.job_backoff(n) <= schedule.job_backoff(n + 1) <= timedelta(hours=1)


@given(st.lists(tag_names, max_size=30), constraints, st.none() | versions, st.booleans())
def test_selection_never_picks_outside_policy(tags, constraint, last, allow):
    policy = Policy(constraint=constraint, last_applied=last, allow_downgrade=allow)
    selection = select(tuple(tags), policy)
    if selection.selected is not None:
        chosen = parse_version(selection.selected)
        assert chosen is not None
        assert select((selection.selected,), Policy(constraint=constraint)).selected
        if last and not allow:
            assert chosen >= parse_version(last)
    assert len(selection.rejected) <= 10


@given(st.integers(1, 10))
def test_failed_versions_never_exceed_max_attempts(max_attempts):
    world = World(spec=make_spec(converge=ConvergeSpec(max_attempts=max_attempts)))
    world.tags = {"1.0.0": digest_of("1.0.0")}
    for _ in range(3 * max_attempts + 3):
        world.step()
        world.finish_jobs("Failed")
        world.advance(timedelta(hours=2))
    world.step()
    assert max_attempts == len(world.created)
    assert not any(isinstance(a, WriteStatus) for a in world.step().actions)


@given(st.lists(versions, min_size=1, max_size=20), st.booleans())
def test_downgrade_happens_only_when_allowed(tags, allow):
    highest = max(tags, key=parse_version)
    last = f"{parse_version(highest).major + 1}.0.0"  # applied, then deleted upstream
    selection = select(
        tuple(tags), Policy(constraint=">=0.0.0-0", last_applied=last, allow_downgrade=allow)
    )
    assert (selection.selected is not None) == allow
