"""The failpoints the bootstrap wraps around the runtime when ``WERFOP_FAILPOINT`` is set:
``after:<Action>`` runs a plan up to the first such action, then dies; unset, the
runtime's parts are the plain ones."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from werfop.adapters.memory import ManualClock, MemoryCluster
from werfop.adapters.scripted_registry import ScriptedRegistry
from werfop.core.actions import Plan
from werfop.runtime import bootstrap, failpoints
from werfop.runtime.executor import Executor


class AddFinalizer: ...


class CreateJob: ...


class WriteStatus: ...


class Died(Exception):
    pass


class Recording:
    def __init__(self) -> None:
        self.ran: list[str] = []

    def execute(self, plan: Plan) -> None:
        self.ran += [type(a).__name__ for a in plan.actions]


@pytest.fixture
def died(monkeypatch: pytest.MonkeyPatch) -> None:
    def exit_(code: int) -> None:
        raise Died(code)

    monkeypatch.setattr(failpoints.os, "_exit", exit_)


def _plan(*actions: object) -> Plan:
    return Plan(actions=actions)  # type: ignore[arg-type]


def test_after_an_action_the_plan_runs_up_to_it_then_the_process_dies(died: None) -> None:
    inner = Recording()
    wrapped = failpoints.executor("after:CreateJob", inner)

    wrapped.execute(_plan(AddFinalizer(), WriteStatus()))  # no CreateJob: the whole plan
    with pytest.raises(Died, match="137"):
        wrapped.execute(_plan(AddFinalizer(), CreateJob(), WriteStatus(), CreateJob()))

    assert ["AddFinalizer", "WriteStatus", "AddFinalizer", "CreateJob"] == inner.ran


def test_the_bootstrap_builds_a_failpoint_only_when_one_is_named() -> None:
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))

    def executor(failpoint: str) -> object:
        options = bootstrap.Options(failpoint=failpoint)
        runtime = bootstrap.build(options, MemoryCluster(clock), ScriptedRegistry(clock), clock)
        return runtime.controller.executor

    assert type(executor("")) is Executor
    assert type(executor("registry")) is Executor
    assert isinstance(executor("after:WriteStatus"), failpoints.DieAfterAction)
    registry = ScriptedRegistry(clock)
    assert registry is failpoints.registry("", registry)
    assert registry is failpoints.registry("after:WriteStatus", registry)
    assert isinstance(failpoints.registry("registry", registry), failpoints.DieDuringCalls)
