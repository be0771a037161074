"""reconcile, scenario by scenario, in the pure world (no runtime, no I/O)."""

from datetime import timedelta

import attrs
import pytest

from support.world import T0, FixedClock, World, digest_of, make_spec
from werfop.core.actions import CreateJob, EmitEvent, SaveLogs, WriteStatus
from werfop.core.model import (
    BundleStatus,
    ConvergeSpec,
    FieldProblem,
    HistoryEntry,
    Inputs,
    JobObservation,
    PollDeferred,
)
from werfop.core.names import FINALIZER
from werfop.core.reconcile import eviction_test, is_evicted, reconcile


def _world(**registry) -> World:
    world = World(spec=make_spec(**registry))
    world.finalizers = (FINALIZER,)
    return world


def test_first_pass_adds_the_finalizer_and_polls():
    world = World(spec=make_spec(version_constraint="^1"))
    world.tags = {"1.0.0": digest_of("1.0.0")}
    plan = world.step()
    assert "AddFinalizer" == type(plan.actions[0]).__name__
    assert 1 == len(world.created)
    assert "Syncing" == world.status.phase
    assert T0 == world.status.last_poll_time


def test_success_records_applied_from_the_job_not_the_registry():
    world = _world(version_constraint="^1")
    world.tags = {"1.0.0": digest_of("1.0.0")}
    world.step()
    world.tags["1.1.0"] = digest_of("1.1.0")  # a newer tag appears while the Job runs
    world.finish_jobs()
    world.advance(timedelta(seconds=5))
    world.step()
    assert ("1.0.0", digest_of("1.0.0")) == (
        world.status.last_applied_tag,
        world.status.last_applied_digest,
    )
    assert "Synced" == world.status.phase
    assert "Succeeded" == world.status.version_history[0].result


def test_a_newer_version_waits_for_the_active_job():
    world = _world(poll_interval=timedelta(minutes=1))
    world.tags = {"1.0.0": digest_of("1.0.0")}
    world.step()
    world.tags["1.1.0"] = digest_of("1.1.0")
    world.advance(timedelta(minutes=2))
    world.step()
    assert 1 == len(world.created)
    assert "1.1.0" == world.status.desired_tag
    world.finish_jobs()
    world.step()
    assert 2 == len(world.created)
    assert "1.1.0" == world.jobs[world.created[-1]].tag


def test_polling_continues_after_synced():
    world = _world(poll_interval=timedelta(minutes=5))
    world.tags = {"1.0.0": digest_of("1.0.0")}
    world.step()
    world.finish_jobs()
    world.step()
    plan = world.step()
    assert plan.requeue_after is not None
    assert (
        timedelta(minutes=4, seconds=30) <= plan.requeue_after <= timedelta(minutes=5, seconds=30)
    )


def test_failed_job_retries_with_backoff_then_fails():
    world = _world(converge=ConvergeSpec(max_attempts=2))
    world.tags = {"1.0.0": digest_of("1.0.0")}
    world.step()
    world.finish_jobs("Failed")
    plan = world.step()
    assert 1 == len(world.created)
    assert "RetryScheduled" == world.status.condition("Ready").reason
    assert timedelta(seconds=54) <= plan.requeue_after <= timedelta(seconds=66)
    world.advance(plan.requeue_after)
    world.step()
    assert 2 == len(world.created)
    world.finish_jobs("Failed")
    world.step()
    assert "Failed" == world.status.phase
    assert "RetriesExhausted" == world.status.condition("Stalled").reason
    world.advance(timedelta(hours=2))
    world.step()
    assert 2 == len(world.created)


def test_retry_annotation_gives_fresh_attempts():
    world = _world(converge=ConvergeSpec(max_attempts=1))
    world.tags = {"1.0.0": digest_of("1.0.0")}
    world.step()
    world.finish_jobs("Failed")
    world.step()
    assert "Failed" == world.status.phase
    world.annotations = (("werf.io/retry", "1"),)
    world.step()
    assert 2 == len(world.created)
    assert "1" == world.status.last_handled_retry


def test_registry_failures_back_off_and_fail_after_five():
    world = _world()
    world.registry_down = 503
    delays = []
    for _ in range(7):
        plan = world.step()
        delays.append(plan.requeue_after)
        world.advance(plan.requeue_after)
    bases = [30, 60, 120, 240, 480, 480, 480]
    for delay, base in zip(delays, bases, strict=True):
        assert base * 0.9 <= delay.total_seconds() <= base * 1.1
    assert "Failed" == world.status.phase
    assert "RegistryUnavailable" == world.status.condition("Ready").reason
    assert 7 == world.status.consecutive_failures
    world.registry_down = None
    world.tags = {"1.0.0": digest_of("1.0.0")}
    world.step()
    assert 0 == world.status.consecutive_failures
    assert "Syncing" == world.status.phase


def test_retry_after_is_honoured():
    world = _world()
    world.registry_down = 429
    world.retry_after = timedelta(minutes=20)
    plan = world.step()
    assert timedelta(minutes=20) == plan.requeue_after


def test_invalid_spec_stalls_without_a_job():
    world = _world(version_constraint=">=banana")
    world.tags = {"1.0.0": digest_of("1.0.0")}
    world.step()
    assert [] == world.created
    assert "Failed" == world.status.phase
    stalled = world.status.condition("Stalled")
    assert "True" == stalled.status and "spec.registry.versionConstraint" in stalled.message
    assert "False" == world.status.condition("Ready").status


def test_cross_namespace_without_service_account_is_refused():
    world = _world(converge=ConvergeSpec(target_namespace="prod"))
    world.tags = {"1.0.0": digest_of("1.0.0")}
    world.step()
    assert [] == world.created
    assert "spec.converge.serviceAccountName" in world.status.condition("Stalled").message


def test_missing_inputs_stall_without_a_job():
    world = _world()
    world.inputs = Inputs(
        problems=(
            FieldProblem(
                path="spec.converge.valuesFrom[0].configMapRef.name", message="x not found"
            ),
        )
    )
    world.tags = {"1.0.0": digest_of("1.0.0")}
    world.step()
    assert [] == world.created
    assert "InputsUnavailable" == world.status.condition("Ready").reason


def test_no_matching_version_keeps_polling():
    world = _world(version_constraint="^2")
    world.tags = {"1.0.0": digest_of("1.0.0")}
    plan = world.step()
    assert "NoMatchingVersion" == world.status.condition("Ready").reason
    assert "Pending" == world.status.phase
    assert plan.requeue_after is not None


def test_suspended_bundle_neither_polls_nor_deploys():
    world = _world(suspend=True)
    world.tags = {"1.0.0": digest_of("1.0.0")}
    plan = world.step()
    assert ([], "Suspended", None) == (world.created, world.status.phase, plan.requeue_after)
    assert None is world.status.last_poll_time


def test_mutable_tag_redeploys_on_new_digest():
    world = _world(tag="latest")
    world.tags = {"latest": digest_of("latest", 1)}
    world.step()
    world.finish_jobs()
    world.settle()
    world.tags = {"latest": digest_of("latest", 2)}
    world.advance(timedelta(minutes=16))
    world.step()
    assert 2 == len(world.created)
    assert digest_of("latest", 2) == world.jobs[world.created[-1]].digest


def test_values_change_redeploys_same_version():
    world = _world()
    world.tags = {"1.0.0": digest_of("1.0.0")}
    world.step()
    world.finish_jobs()
    world.settle()
    world.inputs = Inputs(values_hash="v1")
    world.step()
    assert 2 == len(world.created)


def test_min_age_waits_for_the_digest_to_soak():
    world = _world(min_age=timedelta(hours=1), poll_interval=timedelta(minutes=15))
    world.tags = {"1.0.0": digest_of("1.0.0")}
    plan = world.step()
    assert [] == world.created
    assert "too young" == world.status.selection.rejected[0].reason
    world.advance(plan.requeue_after)
    world.step()
    world.advance(timedelta(hours=1))
    world.step()
    assert 1 == len(world.created)


def test_lost_job_is_recorded_and_retried_once():
    world = _world()
    world.tags = {"1.0.0": digest_of("1.0.0")}
    world.step()
    world.jobs.clear()  # deleted by someone while running
    world.step()
    assert "Lost" == world.status.version_history[-1].result
    assert 2 == len(world.created)


def test_crash_before_status_write_adopts_the_job():
    world = _world()
    world.tags = {"1.0.0": digest_of("1.0.0")}
    bundle_status = world.status
    world.step()
    world.status = bundle_status  # the status write was lost
    plan = world.step()
    assert 1 == len(world.created)
    assert [world.created[0]] == [e.job_name for e in world.status.version_history]
    assert any(isinstance(a, CreateJob) for a in plan.actions)  # re-ensures the inputs Secret


def test_long_logs_go_to_a_config_map_and_status_keeps_the_tail():
    world = _world()
    world.inputs = attrs.evolve(world.inputs, secret_values=())
    world.tags = {"1.0.0": digest_of("1.0.0")}
    world.step()
    world.finish_jobs(log="é" * 10_000)
    plan = world.step()
    saves = [a for a in plan.actions if isinstance(a, SaveLogs)]
    assert 1 == len(saves)
    assert len(world.status.last_job_logs.encode()) <= 5 * 1024
    world.status.last_job_logs.encode().decode()


def test_known_secret_values_are_redacted_from_logs():
    from werfop.core.model import Sensitive

    world = _world()
    world.inputs = Inputs(values_hash="v0", secret_values=(Sensitive("hunter2-secret"),))
    world.tags = {"1.0.0": digest_of("1.0.0")}
    world.step()
    world.finish_jobs(log="password is hunter2-secret\n")
    world.step()
    assert "hunter2-secret" not in world.status.last_job_logs
    assert "<redacted>" in world.status.last_job_logs


def test_deletion_deletes_jobs_then_removes_the_finalizer():
    world = _world()
    world.tags = {"1.0.0": digest_of("1.0.0")}
    world.step()
    world.deleting = True
    world.step()
    assert {} == world.jobs
    world.step()
    assert world.gone


def _reasons(plan) -> list[str]:
    return [a.reason for a in plan.actions if isinstance(a, EmitEvent)]


def test_steady_state_plan_is_empty_and_events_follow_changes():
    world = _world()
    world.tags = {"1.0.0": digest_of("1.0.0")}
    world.step()
    world.finish_jobs()
    world.step()
    plan = world.step()
    assert plan.is_empty
    # One Event per transition: the Job's own Event tells Syncing and Synced.
    assert ["JobCreated", "JobSucceeded"] == [r for p in world.plans for r in _reasons(p)]
    writes = [a for p in world.plans for a in p.actions if isinstance(a, WriteStatus)]
    assert 2 == len(writes)


def test_a_phase_move_no_job_explains_raises_its_own_event():
    world = _world()
    world.tags = {"1.0.0": digest_of("1.0.0")}
    world.step()
    world.finish_jobs()
    world.step()
    world.spec = attrs.evolve(world.spec, suspend=True)
    assert ["PhaseSuspended"] == _reasons(world.step())
    world.spec = attrs.evolve(world.spec, suspend=False)
    assert ["PhaseSynced"] == _reasons(world.step())


def test_retries_exhausted_raises_the_failed_phase_beside_the_job_failure():
    world = _world(converge=ConvergeSpec(max_attempts=1))
    world.tags = {"1.0.0": digest_of("1.0.0")}
    world.step()
    world.finish_jobs("Failed")
    assert ["JobFailed", "PhaseFailed"] == _reasons(world.step())


def test_reconcile_at_annotation_polls_now_once_per_value():
    world = _world(poll_interval=timedelta(hours=1))
    world.tags = {"1.0.0": digest_of("1.0.0")}
    world.step()
    world.finish_jobs()
    world.settle()
    polls = world.status.poll_count
    world.annotations = (("werf.io/reconcile-at", "a"),)
    world.step()
    assert polls + 1 == world.status.poll_count
    assert "a" == world.status.last_handled_reconcile_at
    world.step()
    assert polls + 1 == world.status.poll_count


def test_redeploy_at_annotation_applies_the_current_version_again():
    world = _world()
    world.tags = {"1.0.0": digest_of("1.0.0")}
    world.step()
    world.finish_jobs()
    world.settle()
    world.annotations = (("werf.io/redeploy-at", "now"),)
    world.step()
    assert 2 == len(world.created)
    assert ("1.0.0", 2) == (
        world.jobs[world.created[-1]].tag,
        world.jobs[world.created[-1]].attempt,
    )
    world.finish_jobs()
    world.settle()
    assert 2 == len(world.created)


def test_rollback_annotation_holds_a_version_from_history_despite_the_guard():
    world = _world()
    world.tags = {"1.0.0": digest_of("1.0.0")}
    world.step()
    world.finish_jobs()
    world.tags["1.1.0"] = digest_of("1.1.0")
    world.annotations = (("werf.io/reconcile-at", "1"),)
    world.step()
    world.finish_jobs()
    world.settle()
    assert "1.1.0" == world.status.last_applied_tag
    world.annotations = (("werf.io/rollback-to-version", "1.0.0"),)
    world.step()
    world.finish_jobs()
    world.settle()
    assert ("1.0.0", "Synced") == (world.status.last_applied_tag, world.status.phase)
    world.advance(timedelta(minutes=20))  # polls keep offering 1.1.0; the hold wins
    world.settle()
    assert "1.0.0" == world.status.last_applied_tag
    world.annotations = ()  # normal selection resumes at the next poll
    world.advance(timedelta(minutes=20))
    world.step()
    world.finish_jobs()
    world.settle()
    assert "1.1.0" == world.status.last_applied_tag


def test_rollback_to_an_unknown_version_stalls():
    world = _world()
    world.tags = {"1.0.0": digest_of("1.0.0")}
    world.annotations = (("werf.io/rollback-to-version", "0.1.0"),)
    world.step()
    assert [] == world.created
    assert "RollbackUnavailable" == world.status.condition("Stalled").reason


def test_values_change_does_not_redeploy_when_turned_off():
    world = _world(converge=ConvergeSpec(redeploy_on_values_change=False))
    world.tags = {"1.0.0": digest_of("1.0.0")}
    world.step()
    world.finish_jobs()
    world.settle()
    world.inputs = Inputs(values_hash="v1")
    world.step()
    assert 1 == len(world.created)
    assert "Synced" == world.status.phase


def _deleting(policy="Uninstall"):
    world = _world(converge=ConvergeSpec(deletion_policy=policy))
    world.tags = {"1.0.0": digest_of("1.0.0")}
    world.step()
    world.finish_jobs()
    world.settle()
    world.deleting = True
    return world


def test_uninstall_policy_runs_a_job_before_the_finalizer_goes():
    world = _deleting()
    world.step()  # deletes the apply Job
    world.step()  # starts the uninstall Job
    [job] = [j for j in world.jobs.values()]
    assert world.created[-1] == job.name
    assert not world.gone
    world.finish_jobs()
    world.step()  # records Done and deletes the uninstall Job
    assert "Done" == world.status.uninstall
    world.step()  # no Jobs left: the finalizer goes
    assert world.gone


def test_failed_uninstall_is_reported_retried_and_can_be_skipped():
    world = _deleting()
    world.step()
    world.step()
    world.finish_jobs("Failed")
    plan = world.step()
    assert "Failed" == world.status.uninstall
    assert any(getattr(a, "reason", "") == "UninstallFailed" for a in plan.actions)
    world.advance(plan.requeue_after)
    world.step()
    assert 2 == sum(1 for n in world.created if n in world.jobs)  # the retry
    world.annotations = (("werf.io/skip-uninstall", "true"),)
    world.step()
    world.step()
    assert world.gone


def test_retain_policy_removes_the_finalizer_without_a_job():
    world = _deleting("Retain")
    world.step()
    world.step()
    assert world.gone
    assert 1 == len(world.created)


def _drifting(mode="Report", retries=3):
    from werfop.core.model import DriftSpec

    drift = DriftSpec(enabled=True, interval=timedelta(minutes=15), mode=mode, max_retries=retries)
    world = _world(converge=ConvergeSpec(drift=drift), poll_interval=timedelta(hours=6))
    world.tags = {"1.0.0": digest_of("1.0.0")}
    world.step()
    world.finish_jobs()
    world.settle()
    return world


def _finish_check(world, exit_code, log="Plan: 1 to change"):
    for name, job in list(world.jobs.items()):
        if job.state == "Active":
            assert "plan" == job.kind
            world.jobs[name] = attrs.evolve(
                job,
                state="Succeeded" if exit_code == 0 else "Failed",
                finished_at=world.now,
                log_tail=log,
                exit_code=exit_code,
            )


def test_drift_check_runs_every_interval_after_a_deploy():
    world = _drifting()
    plan = world.step()
    assert timedelta(minutes=15) >= plan.requeue_after
    world.advance(timedelta(minutes=15))
    world.step()
    assert 1 == sum(1 for j in world.jobs.values() if j.kind == "plan")
    assert "Synced" == world.status.phase  # a check is background work
    _finish_check(world, 0)
    world.step()
    assert "False" == world.status.condition("Drifted").status
    world.advance(timedelta(minutes=15))
    world.step()
    assert 2 == sum(1 for j in world.jobs.values() if j.kind == "plan")


def test_drift_is_reported_with_the_plan_summary():
    world = _drifting()
    world.advance(timedelta(minutes=15))
    world.step()
    _finish_check(world, 2, log="...\nDeployment/web: replicas 2 -> 3\n")
    world.step()
    drifted = world.status.condition("Drifted")
    assert ("True", "DriftDetected") == (drifted.status, drifted.reason)
    assert "replicas 2 -> 3" in drifted.message
    assert 1 == sum(1 for j in world.jobs.values() if j.kind == "apply")  # Report: no apply


def test_correct_mode_applies_again_then_gives_up_after_max_retries():
    world = _drifting(mode="Correct", retries=1)
    world.advance(timedelta(minutes=15))
    world.step()
    _finish_check(world, 2)
    world.step()
    assert 2 == sum(1 for j in world.jobs.values() if j.kind == "apply")
    world.finish_jobs()
    world.step()
    world.advance(timedelta(minutes=15))
    world.step()
    _finish_check(world, 2)
    world.step()
    assert 2 == sum(1 for j in world.jobs.values() if j.kind == "apply")
    assert "True" == world.status.condition("DriftCorrectionFailed").status


@pytest.mark.parametrize(
    "exit_code",
    [
        pytest.param(2, id="changes planned"),
        pytest.param(3, id="release to install, behind werf's feature gate"),
    ],
)
def test_plan_exit_codes_two_and_three_are_drift(exit_code):
    world = _drifting()
    world.advance(timedelta(minutes=15))
    world.step()
    _finish_check(world, exit_code)
    world.step()
    assert ("True", "DriftDetected") == (
        world.status.condition("Drifted").status,
        world.status.condition("Drifted").reason,
    )


def test_failed_check_is_unknown_not_drift():
    world = _drifting(mode="Correct")
    world.advance(timedelta(minutes=15))
    world.step()
    _finish_check(world, 1)
    world.step()
    assert ("Unknown", "DriftCheckFailed") == (
        world.status.condition("Drifted").status,
        world.status.condition("Drifted").reason,
    )
    assert 1 == sum(1 for j in world.jobs.values() if j.kind == "apply")


def test_an_apply_job_always_gets_its_inputs_secret_even_when_empty():
    world = _world()
    world.inputs = Inputs(values_hash="v0")  # no values, no credentials
    world.tags = {"1.0.0": digest_of("1.0.0")}
    [create] = [a for a in world.step().actions if isinstance(a, CreateJob)]
    assert create.secret_name == create.job["metadata"]["name"] + "-inputs"
    volumes = create.job["spec"]["template"]["spec"]["volumes"]
    assert create.secret_name in [v.get("secret", {}).get("secretName") for v in volumes]


def _a_job_for_a_tag_deleted_while_it_runs() -> World:
    """1.1.0 applied; a Job for 1.2.0 running; 1.2.0 deleted from the registry since."""
    world = _world(poll_interval=timedelta(minutes=1))
    world.tags = {"1.1.0": digest_of("1.1.0")}
    world.step()
    world.finish_jobs()
    world.settle()
    world.tags["1.2.0"] = digest_of("1.2.0")
    world.advance(timedelta(minutes=2))
    world.step()  # a Job for 1.2.0 starts
    del world.tags["1.2.0"]  # ... and the tag is deleted while it runs
    return world


def test_a_poll_made_while_a_job_ran_never_causes_a_downgrade():
    world = _a_job_for_a_tag_deleted_while_it_runs()
    world.advance(timedelta(minutes=2))
    world.step()  # this poll (lastApplied 1.1.0) chooses 1.1.0
    assert "1.1.0" == world.status.desired_tag
    world.finish_jobs()  # 1.2.0 succeeds
    world.step()
    world.settle()
    assert "1.2.0" == world.status.last_applied_tag
    assert ["1.1.0", "1.2.0"] == [world.jobs[n].tag for n in world.created]


def test_a_narrowed_constraint_during_an_outage_starts_nothing_outside_it():
    world = _world(version_constraint="^1")
    world.tags = {"1.1.0": digest_of("1.1.0")}
    world.step()
    world.finish_jobs()
    world.settle()
    world.registry_down = 503
    world.spec = attrs.evolve(
        world.spec, registry=attrs.evolve(world.spec.registry, version_constraint="~1.0")
    )
    world.generation += 1
    world.inputs = Inputs(values_hash="v1")  # values change too: would redeploy 1.1.0
    world.step()
    world.advance(timedelta(minutes=30))
    world.step()
    assert 1 == len(world.created)


def test_a_deferred_poll_only_moves_the_next_poll_time():
    world = _world(version_constraint="^1", poll_interval=timedelta(minutes=5))
    world.tags = {"1.0.0": digest_of("1.0.0")}
    world.step()
    world.finish_jobs()
    world.advance(timedelta(minutes=6))  # the next poll is due
    before = world.status
    world.tags["1.1.0"] = digest_of("1.1.0")
    slot = world.now + timedelta(seconds=40)
    plan = reconcile(world.bundle(), PollDeferred(until=slot), FixedClock(world.now))
    world.apply(plan)

    assert slot == world.status.next_poll_time
    assert (before.poll_count, before.last_poll_time) == (
        world.status.poll_count,
        world.status.last_poll_time,
    )
    assert "1.0.0" == world.status.desired_tag  # the registry was not read
    assert [] == [a for a in plan.actions if isinstance(a, CreateJob)]
    assert "Polled" not in [o.type for o in plan.timeline]
    assert timedelta(seconds=40) == plan.requeue_after  # back at its slot


def _history(count: int) -> tuple[HistoryEntry, ...]:
    return tuple(
        HistoryEntry(
            tag=f"1.0.{i}",
            digest=digest_of(f"1.0.{i}"),
            values_hash="v0",
            job_name=f"job-{i}",
            attempt=1,
            started_at=T0 + timedelta(hours=i),
            result="Succeeded",
        )
        for i in range(count)
    )


@pytest.mark.parametrize(
    ("history", "name", "state", "started_hours", "expected"),
    [
        pytest.param(10, "old", "Succeeded", -1, True, id="older-than-a-full-history"),
        pytest.param(10, "old", "Succeeded", 0, True, id="as-old-as-the-oldest-entry"),
        pytest.param(10, "new", "Succeeded", 1, False, id="newer-than-the-oldest-entry"),
        pytest.param(10, "job-0", "Succeeded", -1, False, id="still-in-the-history"),
        pytest.param(10, "old", "Active", -1, False, id="active"),
        pytest.param(9, "old", "Succeeded", -1, False, id="history-not-full"),
        pytest.param(10, "old", "Failed", None, True, id="no-start-time"),
    ],
)
def test_a_finished_job_older_than_a_full_history_is_evicted(
    history, name, state, started_hours, expected
):
    status = BundleStatus(version_history=_history(history))
    job = JobObservation(
        name=name,
        namespace="default",
        tag="0.9.0",
        digest=digest_of("0.9.0"),
        values_hash="v0",
        attempt=1,
        state=state,
        started_at=None if started_hours is None else T0 + timedelta(hours=started_hours),
    )
    assert expected == is_evicted(status, job)
    assert expected == eviction_test(status)(job)


def _deploy_versions(world: World, count: int) -> None:
    for minor in range(count):
        tag = f"1.{minor}.0"
        world.tags[tag] = digest_of(tag)
        world.advance(timedelta(hours=1))
        world.step()
        world.finish_jobs()
        world.advance(timedelta(seconds=5))
        world.settle()


def test_jobs_that_left_the_history_are_deleted_once_recorded():
    world = _world(version_constraint="^1")
    _deploy_versions(world, 13)
    history = {e.job_name for e in world.status.version_history}
    assert 10 == len(history)
    assert 13 == len(world.created)
    assert history == set(world.jobs)  # the three oldest Jobs are gone, nothing else
    pruned = [o.fields for plan in world.plans for o in plan.timeline if o.type == "JobPruned"]
    assert [(("job", name), ("kind", "apply")) for name in world.created[:3]] == pruned


def test_a_job_pushed_out_of_the_history_goes_only_after_the_status_says_so():
    world = _world(version_constraint="^1")
    _deploy_versions(world, 10)
    world.tags["1.10.0"] = digest_of("1.10.0")
    world.advance(timedelta(hours=1))
    plan = world.step()  # the 11th Job starts and pushes the first out of the history
    assert [] == [a for a in plan.actions if type(a).__name__ == "DeleteJob"]
    assert world.created[0] not in {e.job_name for e in world.status.version_history}
    assert world.created[0] in world.jobs
    plan = world.step()  # the stored status no longer names it: now it goes
    assert [world.created[0]] == [a.name for a in plan.actions if type(a).__name__ == "DeleteJob"]
    assert world.created[0] not in world.jobs
    assert "Active" == world.jobs[world.created[-1]].state


def test_drift_checks_older_than_the_newest_recorded_one_are_deleted():
    world = _drifting()
    for _ in range(3):
        world.advance(timedelta(minutes=15))
        world.step()
        _finish_check(world, 0)
        world.step()
        world.step()
    checks = [j for j in world.jobs.values() if j.kind == "plan"]
    assert [world.status.last_drift_check_time] == [j.finished_at for j in checks]


def test_a_failed_correction_does_not_hide_the_return_to_synced():
    # Only JobCreated and JobSucceeded tell a phase move; a failed drift correction
    # leaves the bundle Synced on what it applied, and that move has its own Event.
    world = _drifting(mode="Correct", retries=1)
    world.advance(timedelta(minutes=15))
    world.step()
    _finish_check(world, 2)
    assert ["DriftDetected", "JobCreated"] == _reasons(world.step())
    assert "Syncing" == world.status.phase
    world.finish_jobs("Failed")
    assert ["JobFailed", "PhaseSynced"] == _reasons(world.step())
    assert "Synced" == world.status.phase


def test_a_quiet_poll_writes_nothing_and_hands_back_its_poll_record():
    world = _world(version_constraint="^1", poll_interval=timedelta(minutes=5))
    world.tags = {"1.0.0": digest_of("1.0.0")}
    world.step()
    world.finish_jobs()
    world.settle()
    writes, stored = world.writes, world.stored
    world.advance(timedelta(minutes=6))
    plan = world.step()

    assert "Polled" in [o.type for o in plan.timeline]
    assert () == plan.actions
    assert (writes, stored) == (world.writes, world.stored)
    assert plan.polls is not None
    assert (world.now, stored.poll_count + 1) == (plan.polls.last_poll_time, plan.polls.poll_count)
    assert plan.polls.next_poll_time is not None and plan.polls.next_poll_time > world.now
    assert plan.requeue_after == plan.polls.next_poll_time - world.now

    # The next change writes the whole record with it.
    world.tags["1.1.0"] = digest_of("1.1.0")
    world.advance(timedelta(minutes=6))
    plan = world.step()
    assert world.writes == writes + 1
    assert (world.now, stored.poll_count + 2) == (
        world.stored.last_poll_time,
        world.stored.poll_count,
    )


def test_the_pacers_slot_is_the_next_poll_time():
    world = _world(version_constraint="^1", poll_interval=timedelta(minutes=5))
    world.tags = {"1.0.0": digest_of("1.0.0")}
    slot = world.now + timedelta(minutes=7)
    snapshot = attrs.evolve(world.snapshot(), next_poll=slot)
    plan = reconcile(world.bundle(), snapshot, FixedClock(world.now))
    assert plan.polls is not None and slot == plan.polls.next_poll_time
    assert slot - world.now == plan.requeue_after


def test_a_poll_in_the_pass_a_job_succeeds_selects_above_the_new_applied_tag():
    # The pass builds the version policy once, under the observed lastAppliedTag; a Job
    # that succeeds in the same pass moves it, and the selection must use the new one.
    world = _a_job_for_a_tag_deleted_while_it_runs()
    world.finish_jobs()  # 1.2.0 succeeds
    world.advance(timedelta(minutes=2))
    world.step()  # records the success and polls: 1.1.0 is now a downgrade
    assert "1.2.0" == world.status.last_applied_tag
    assert world.status.selection is not None
    assert [("1.1.0", "downgrade")] == [(r.tag, r.reason) for r in world.status.selection.rejected]
    assert world.status.desired_tag is None
