"""Crash consistency (issue 8): kill the runtime after every single action of a pass,
restart it, and the world ends as if nothing had happened.

For each scenario, a reference run (no crash) finds the passes that matter (those that
create or delete a Job, add or remove the finalizer, or record a Job's end) and every
action they execute. Then, for each such action, the scenario is replayed from scratch
with a runtime that dies right after that action (``Listeners(after_action=...)``
raising ``Crash``), or in the middle of a ``CreateJob`` (after the Job, before its
inputs Secret). A fresh runtime (new controller, economy, observer and queue) takes
over the same cluster, registry and clock, resyncs, and time runs to quiescence.

Checks: one Job per (bundle uid, tag, digest, values hash, attempt), and the same Jobs
as the reference run; every Job exactly once in ``status.versionHistory`` with its
result; the same final status (phase, applied and desired versions, the multiset of
(tag, result) in the history); every Job's pod finds the Secrets it mounts.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from support.inmemory import (
    NAMESPACE,
    SHOP_URL,
    Crash,
    World,
    missing_secrets,
    shop_bundle,
    values_map,
)
from werfop.core.actions import (
    Action,
    AddFinalizer,
    CreateJob,
    DeleteJob,
    EmitEvent,
    RemoveFinalizer,
)
from werfop.core.model import BundleStatus
from werfop.core.ports import Obj
from werfop.core.reconcile import MAX_HISTORY

QUIET = timedelta(hours=6)

# -- scenarios ---------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Params:
    """What varies between runs of one scenario."""

    job_minutes: int = 1
    poll_interval: str = "5m"
    new_tag: str = "1.1.0"
    failures: int = 1  # failed attempts of the new version before one succeeds


Step = Callable[[World], object]
TRIGGER: Step = lambda world: None  # noqa: E731  (marks where the story starts)


@attrs.frozen
class Scenario:
    name: str
    steps: Callable[[Params], list[Step]]
    deletes_bundle: bool = False


def _synced_on_1_0_0(p: Params) -> list[Step]:
    return [
        lambda w: w.registry.push(SHOP_URL, "1.0.0"),
        lambda w: w.set_outcome("succeeded", timedelta(minutes=p.job_minutes)),
        lambda w: w.run_for(timedelta(minutes=p.job_minutes + 10)),
    ]


def _new_bundle(p: Params) -> list[Step]:
    return [
        TRIGGER,
        lambda w: w.registry.push(SHOP_URL, "1.0.0"),
        lambda w: w.set_outcome("succeeded", timedelta(minutes=p.job_minutes)),
        lambda w: w.run_for(timedelta(hours=1)),
    ]


def _new_version_while_synced(p: Params) -> list[Step]:
    return [
        *_synced_on_1_0_0(p),
        TRIGGER,
        lambda w: w.registry.push(SHOP_URL, p.new_tag),
        lambda w: w.run_for(timedelta(hours=1)),
    ]


def _failing_job_is_retried(p: Params) -> list[Step]:
    fail = [
        lambda w, n=n: w.set_outcome(
            "failed", timedelta(minutes=p.job_minutes), tag=p.new_tag, attempt=n
        )
        for n in range(1, p.failures + 1)
    ]
    return [
        *_synced_on_1_0_0(p),
        *fail,
        TRIGGER,
        lambda w: w.registry.push(SHOP_URL, p.new_tag),
        lambda w: w.run_for(timedelta(hours=2)),
    ]


def _bundle_deletion(p: Params) -> list[Step]:
    return [
        *_synced_on_1_0_0(p),
        lambda w: w.set_outcome("succeeded", timedelta(minutes=30)),
        lambda w: w.registry.push(SHOP_URL, p.new_tag),
        lambda w: w.run_for(timedelta(minutes=16)),  # the new version's Job is running
        TRIGGER,
        lambda w: w.cluster.delete("WerfBundle", NAMESPACE, "shop"),
        lambda w: w.run_for(timedelta(minutes=5)),
    ]


def _values_change(p: Params) -> list[Step]:
    return [
        *_synced_on_1_0_0(p),
        TRIGGER,
        lambda w: w.set_values("replicas: 5\n"),
        lambda w: w.run_for(timedelta(hours=1)),
    ]


SCENARIOS = [
    Scenario("new bundle with a tag", _new_bundle),
    Scenario("new version pushed while synced", _new_version_while_synced),
    Scenario("failing Job is retried", _failing_job_is_retried),
    Scenario("bundle deletion", _bundle_deletion, deletes_bundle=True),
    Scenario("values change", _values_change),
]

# -- crashing ------------------------------------------------------------------------------


@attrs.frozen
class CrashPoint:
    """Die right after the ``after``-th action the runtime executes, or inside the
    ``CreateJob`` of ``job`` once the Job exists and before its inputs Secret does."""

    after: int | None = None
    job: str | None = None


class CrashingPort:
    """The cluster port, except that the first ``create_secret`` for ``<job>-inputs``
    kills the process instead (the Job it belongs to was just created)."""

    def __init__(self, cluster: Any, job: str | None) -> None:
        self._cluster = cluster
        self._job = job

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cluster, name)

    def create_secret(self, secret: Obj) -> None:
        job, self._job = self._job, None
        if job is not None and secret["metadata"]["name"] == f"{job}-inputs":
            raise Crash(f"between Job {job} and its inputs Secret")
        self._job = job
        self._cluster.create_secret(secret)


@attrs.define
class Run:
    world: World
    crashed: bool
    log: list[tuple[int, bool, Action]]  # (pass number, after the trigger, action)


def play(scenario: Scenario, params: Params, crash: CrashPoint | None = None) -> Run:
    """Play the scenario from scratch; on a crash, start a fresh runtime and go on with
    the steps left; then let time run to quiescence."""
    log: list[tuple[int, bool, Action]] = []
    triggered = False

    def after_action(action: Action) -> None:  # reads `world` and `triggered` as they are now
        log.append((world.total_passes, triggered, action))
        if crash is not None and crash.after == len(log):
            raise Crash(f"after action {len(log)}: {type(action).__name__}")

    world = World(
        [values_map(), shop_bundle(poll_interval=params.poll_interval)],
        after_action=after_action,
        wrap_port=lambda cluster: CrashingPort(cluster, crash.job if crash else None),
    )
    crashed = False
    for step in scenario.steps(params):
        if step is TRIGGER:
            triggered = True
        try:
            step(world)
        except Crash:
            assert not crashed, "a crash point fires once"
            crashed = True
            world.start_runtime()
            world.run_now()
    world.run_for(QUIET)
    return Run(world=world, crashed=crashed, log=log)


def _matters(action: Action) -> bool:
    if isinstance(action, CreateJob | DeleteJob | AddFinalizer | RemoveFinalizer):
        return True
    return isinstance(action, EmitEvent) and action.reason in ("JobSucceeded", "JobFailed")


def crash_points(reference: Run) -> list[CrashPoint]:
    """Every action of every pass after the trigger that does something that matters,
    and the middle of every CreateJob with a Secret among them."""
    passes = {number for number, after, action in reference.log if after and _matters(action)}
    points = []
    for index, (number, _, action) in enumerate(reference.log, start=1):
        if number not in passes:
            continue
        points.append(CrashPoint(after=index))
        if isinstance(action, CreateJob) and action.secret_files:
            points.append(CrashPoint(job=action.job["metadata"]["name"]))
    return points


# -- what must hold ------------------------------------------------------------------------


def _history(status: BundleStatus) -> Counter[tuple[str, str]]:
    return Counter((entry.tag, entry.result) for entry in status.version_history)


def summary(world: World) -> dict[str, Any] | None:
    """The part of the final status a crash must not change (None: the bundle is gone)."""
    if world.bundle("shop") is None:
        return None
    status = world.status("shop")
    return {
        "phase": status.phase,
        "applied": (
            status.last_applied_tag,
            status.last_applied_digest,
            status.last_applied_values_hash,
        ),
        "desired": (status.desired_tag, status.desired_digest),
        "history": _history(status),
    }


def check_consistent(run: Run, reference: Run, scenario: Scenario) -> None:
    world = run.world
    identities = Counter(job.identity for job in world.jobs.values())
    assert {} == {identity: n for identity, n in identities.items() if n > 1}
    assert set(Counter(j.identity for j in reference.world.jobs.values())) == set(identities)
    assert summary(reference.world) == summary(world)
    assert [] == missing_secrets(world)
    # The bundle has values, so every Job has an inputs Secret, re-created by the
    # adoption path when a crash came between the Job and its Secret.
    jobs = world.cluster.list_objects("Job")
    secrets = {s["metadata"]["name"] for s in world.cluster.list_objects("Secret")}
    assert [] == [
        j["metadata"]["name"] for j in jobs if f"{j['metadata']['name']}-inputs" not in secrets
    ]
    if scenario.deletes_bundle:
        assert [] == world.cluster.list_objects("Job")
        assert [] == world.cluster.list_objects("Secret")
        return
    status = world.status("shop")
    names = [entry.job_name for entry in status.version_history]
    assert sorted(set(names)) == sorted(names)
    newest = sorted(world.jobs.values(), key=lambda j: (j.created_at, j.name), reverse=True)
    expected = {
        job.name: job.result or ("Lost" if job.deleted else "Running")
        for job in newest[:MAX_HISTORY]
    }
    recorded = {entry.job_name: entry.result for entry in status.version_history}
    assert expected == recorded


# -- tests ---------------------------------------------------------------------------------


@functools.cache
def reference_run(scenario: Scenario, params: Params) -> Run:
    """The scenario without a crash (played once per scenario and parameters)."""
    return play(scenario, params)


def _crash_cases() -> list[Any]:
    cases = []
    for scenario in SCENARIOS:
        reference = reference_run(scenario, Params())
        for point in crash_points(reference):
            where = f"in-createjob-{point.job}" if point.job else f"after-action-{point.after}"
            cases.append(pytest.param(scenario, point, id=f"{scenario.name}: {where}"))
    return cases


@pytest.mark.parametrize(("scenario", "point"), _crash_cases())
def test_a_crash_at_any_action_ends_as_if_nothing_happened(
    scenario: Scenario, point: CrashPoint
) -> None:
    reference = reference_run(scenario, Params())
    run = play(scenario, Params(), point)
    assert run.crashed
    check_consistent(run, reference, scenario)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_every_scenario_has_passes_worth_crashing_in(scenario: Scenario) -> None:
    points = crash_points(reference_run(scenario, Params()))
    assert points
    assert any(p.job is not None for p in points) or scenario.deletes_bundle


@settings(max_examples=max(5, settings.default.max_examples // 6), deadline=None)
@given(
    scenario=st.sampled_from(SCENARIOS),
    params=st.builds(
        Params,
        job_minutes=st.integers(1, 20),
        poll_interval=st.sampled_from(["30s", "2m", "5m", "15m"]),
        new_tag=st.sampled_from(["1.0.1", "1.1.0", "1.9.9"]),
        failures=st.integers(1, 2),
    ),
    choice=st.integers(0, 10_000),
)
def test_crashes_in_random_scenarios_leave_the_world_consistent(
    scenario: Scenario, params: Params, choice: int
) -> None:
    reference = play(scenario, params)
    points = crash_points(reference)
    point = points[choice % len(points)]
    run = play(scenario, params, point)
    assert run.crashed
    check_consistent(run, reference, scenario)
