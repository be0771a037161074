"""Why a Job runs (``cause``), the rollback after a failed upgrade, and the registry's
and the release's conditions told apart: in the pure world."""

from datetime import timedelta

from support.world import World, digest_of, make_spec
from werfop.core.model import ConvergeSpec
from werfop.core.names import FINALIZER
from werfop.core.timeline import CAUSES, JobCreated


def _world(**registry) -> World:
    world = World(spec=make_spec(**registry))
    world.finalizers = (FINALIZER,)
    return world


def _created(world: World) -> list[JobCreated]:
    return [e for plan in world.plans for e in plan.timeline if isinstance(e, JobCreated)]


def _condition(world: World, type_: str) -> tuple[str, str]:
    found = world.status.condition(type_)
    assert found is not None, type_
    return found.status, found.reason


def _fail_upgrade(world: World, attempts: int) -> None:
    """1.0.0 applied, then 2.1.0 pushed and failing every attempt until exhausted."""
    world.tags = {"1.0.0": digest_of("1.0.0")}
    world.step()
    world.finish_jobs()
    world.settle()
    world.tags["2.1.0"] = digest_of("2.1.0")
    world.advance(timedelta(minutes=6))
    world.step()
    for _ in range(attempts):
        world.finish_jobs("Failed")
        world.advance(timedelta(hours=2))
        world.step()


def test_each_job_says_why_it_runs():
    world = _world(poll_interval=timedelta(minutes=5))
    world.tags = {"1.0.0": digest_of("1.0.0")}
    world.step()
    world.finish_jobs()
    world.settle()
    world.tags["1.1.0"] = digest_of("1.1.0")  # a new version
    world.advance(timedelta(minutes=6))
    world.step()
    world.finish_jobs("Failed")
    world.advance(timedelta(minutes=10))
    world.step()  # its retry
    world.finish_jobs()
    world.settle()
    world.tags["1.1.0"] = digest_of("1.1.0", version=1)  # re-pushed
    world.advance(timedelta(minutes=6))
    world.step()
    world.finish_jobs()
    world.settle()
    world.annotations = (("werf.io/redeploy-at", "now"),)
    world.step()

    assert ["Install", "NewVersion", "Retry", "DigestChanged", "Redeploy"] == [
        e.cause for e in _created(world)
    ]
    assert [1, 1, 2, 1, 1] == [e.attempt for e in _created(world)]
    assert all(e.cause in CAUSES for e in _created(world))
    messages = [
        a.message for plan in world.plans for a in plan.actions if type(a).__name__ == "EmitEvent"
    ]
    assert any("(DigestChanged)" in m for m in messages)


def test_a_rollback_after_a_failed_upgrade_applies_the_old_version_again():
    world = _world(poll_interval=timedelta(minutes=5))
    world.spec = make_spec(
        poll_interval=timedelta(minutes=5), converge=ConvergeSpec(max_attempts=2)
    )
    _fail_upgrade(world, attempts=2)
    assert ("Failed", "RetriesExhausted") == (world.status.phase, _condition(world, "Ready")[1])
    assert ("False", "JobFailed") == _condition(world, "Released")
    assert ("True", "Polled") == _condition(world, "RegistryReachable")

    world.annotations = (("werf.io/rollback-to-version", "1.0.0"),)
    world.step()

    rollback = _created(world)[-1]
    assert ("1.0.0", "Rollback", 1) == (rollback.tag, rollback.cause, rollback.attempt)
    world.finish_jobs()
    world.settle()
    assert ("Synced", "1.0.0") == (world.status.phase, world.status.last_applied_tag)
    assert ("True", "Succeeded") == _condition(world, "Released")


def test_going_back_by_the_spec_after_a_failed_upgrade_repairs_the_release():
    world = _world(poll_interval=timedelta(minutes=5))
    world.spec = make_spec(
        poll_interval=timedelta(minutes=5), converge=ConvergeSpec(max_attempts=1)
    )
    _fail_upgrade(world, attempts=1)
    world.spec = make_spec(
        poll_interval=timedelta(minutes=5),
        version_constraint="^1",
        converge=ConvergeSpec(max_attempts=1),
    )
    world.generation += 1
    world.step()
    assert ("1.0.0", "Repair") == (_created(world)[-1].tag, _created(world)[-1].cause)


def test_an_outage_turns_the_registry_condition_false_before_the_phase_fails():
    world = _world(poll_interval=timedelta(minutes=5))
    world.tags = {"1.0.0": digest_of("1.0.0")}
    world.step()
    world.finish_jobs()
    world.settle()
    world.registry_down = 503
    world.advance(timedelta(minutes=6))
    world.step()
    assert ("False", "RegistryUnavailable") == _condition(world, "RegistryReachable")
    assert ("True", "Succeeded") == _condition(world, "Released")
    assert ("Synced", "True") == (world.status.phase, _condition(world, "Ready")[0])
    for _ in range(5):
        world.advance(timedelta(minutes=10))
        world.step()
    assert ("Failed", "False") == (world.status.phase, _condition(world, "Ready")[0])
    assert ("True", "Succeeded") == _condition(world, "Released")  # the release is fine


def test_remediation_rolls_back_once_and_holds_the_failed_version_until_a_new_one():
    spec = dict(poll_interval=timedelta(minutes=5))
    world = _world(**spec)
    world.spec = make_spec(**spec, converge=ConvergeSpec(max_attempts=2, remediation="Rollback"))
    _fail_upgrade(world, attempts=2)

    remedy = _created(world)[-1]
    assert ("1.0.0", "Remediation", 1) == (remedy.tag, remedy.cause, remedy.attempt)
    assert ("2.1.0", digest_of("2.1.0")) == (
        world.status.remediated_tag,
        world.status.remediated_digest,
    )
    world.finish_jobs()
    world.settle()
    for _ in range(3):  # polls keep offering 2.1.0: it is not tried again
        world.advance(timedelta(hours=1))
        world.step()
    assert 1 == sum(1 for e in _created(world) if e.cause == "Remediation")
    assert "1.0.0" == world.status.last_applied_tag
    ready = world.status.condition("Ready")
    assert ("Failed", "Remediated") == (world.status.phase, ready.reason if ready else None)
    assert "rolled back to tag 1.0.0" in (ready.message if ready else "")
    assert ("True", "Succeeded") == _condition(world, "Released")

    world.tags["2.2.0"] = digest_of("2.2.0")  # a new version is tried, remediation forgotten
    world.advance(timedelta(hours=1))
    world.step()
    assert ("2.2.0", "NewVersion") == (_created(world)[-1].tag, _created(world)[-1].cause)
    assert world.status.remediated_tag is None


def test_without_remediation_the_failed_version_stays_failed():
    spec = dict(poll_interval=timedelta(minutes=5))
    world = _world(**spec)
    world.spec = make_spec(**spec, converge=ConvergeSpec(max_attempts=2))
    _fail_upgrade(world, attempts=2)
    created = len(_created(world))
    world.advance(timedelta(hours=1))
    world.step()
    assert created == len(_created(world))
    assert ("Failed", "RetriesExhausted") == (world.status.phase, _condition(world, "Ready")[1])
