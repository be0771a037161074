"""Failpoints: ways for the integration tests to kill the operator at a chosen moment.

Role: set through ``WERFOP_FAILPOINT`` (``Options.failpoint``) by the tests that prove a
restart neither duplicates Jobs nor loses history, as adapters the bootstrap wraps
around the runtime's parts: ``registry`` dies in the middle of a registry call (a
``RegistryPort`` wrapper), ``after:<Action>`` right after the first such action (a
wrapper around the executor). Unset, nothing here is built.
Must not: be used for anything but those tests.
"""

from __future__ import annotations

import logging
import os

import attrs

from werfop.core.actions import Plan
from werfop.core.ports import RegistryPort
from werfop.runtime.controller import PlanExecutor

log = logging.getLogger("werfop.failpoints")


def registry(spec: str, inner: RegistryPort) -> RegistryPort:
    """``inner``, behind the ``registry`` failpoint when ``spec`` names it."""
    return DieDuringCalls(inner) if spec == "registry" else inner  # type: ignore[return-value]


def executor(spec: str, inner: PlanExecutor) -> PlanExecutor:
    """``inner``, behind the ``after:<Action>`` failpoint when ``spec`` names one."""
    if spec.startswith("after:"):
        return DieAfterAction(inner, spec.removeprefix("after:"))
    return inner


class DieDuringCalls:
    """Failpoint ``registry``: the process dies in the middle of a registry call."""

    def __init__(self, inner: object) -> None:
        self.inner = inner

    def list_tags(self, repository, etag=None):  # type: ignore[no-untyped-def]
        log.warning("failpoint: dying during a registry call")
        os._exit(137)

    resolve_digest = list_tags


class DieAfterAction:
    """Failpoint ``after:<Action>``: the process dies (like kill -9) right after the first
    action of that type the executor performs.

    A plan holding such an action runs up to and including it (the executor carries the
    bundle's resourceVersion through that part as through the whole plan), then the
    process dies: the rest of the plan never runs, as if the process had been killed
    between two actions. An error before that point propagates as it would have."""

    def __init__(self, inner: PlanExecutor, action: str) -> None:
        self.inner = inner
        self.action = action

    def execute(self, plan: Plan) -> None:
        for index, action in enumerate(plan.actions):
            if type(action).__name__ == self.action:
                self.inner.execute(attrs.evolve(plan, actions=plan.actions[: index + 1]))
                log.warning("failpoint: dying after an action", extra={"action": self.action})
                logging.shutdown()
                os._exit(137)
        self.inner.execute(plan)
