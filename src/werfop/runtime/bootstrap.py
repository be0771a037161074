"""The runtime's object graph, built in one place from a small frozen ``Options``.

Role: ``build`` wires the work queue, the registry economy (behind the metrics' counting
wrapper and the registry failpoint when asked), the pacer, the observer, the executor
(behind the action failpoint when asked), the controller and its hooks, and hands them
back as a ``Runtime`` whose ``watch()`` connects the cluster port's watch to the
controller. ``werfop run``, ``werfop simulate`` and the tests' worlds all build their
runtime here, so they differ only in the adapters, the clock and the options they pass.
Must not: construct adapters (the callers do), start threads, or read the environment
(``werfop.operator`` reads ``WERFOP_FAILPOINT`` into ``Options.failpoint``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from werfop.core.ports import ClusterPort, RegistryPort, SleepingClock, Watch
from werfop.runtime import failpoints
from werfop.runtime.controller import Controller, Hooks, ProblemSink, TimelineSink
from werfop.runtime.executor import ActionHook, Executor
from werfop.runtime.observe import Observer
from werfop.runtime.pacer import MINIMUM, PollPacer
from werfop.runtime.queue import WorkQueue
from werfop.runtime.registry_economy import RegistryEconomy, RequestBudget
from werfop.runtime.workers import LockedQueue

if TYPE_CHECKING:
    from werfop.runtime.metrics import Metrics


@attrs.frozen(kw_only=True)
class Options:
    """How the runtime is built. The defaults are the simulator's: one thread, no
    metrics, a bug in a pass propagates."""

    # The operator's worker threads share the queue (``LockedQueue``).
    threaded: bool = False
    # Prometheus metrics (``Runtime.metrics``), fed by the controller and by counting
    # the registry's answers.
    metrics: bool = False
    # An unexpected exception in a pass is logged and the key retried with backoff
    # (the operator) instead of propagating (the simulator: a bug is loud).
    contain_bugs: bool = False
    allow_cross_namespace: bool = True
    # The watch also delivers Secrets labelled werf.io/watch=true.
    watch_secrets: bool = False
    # The request budget per registry host (None: the economy's default).
    registry_budget: RequestBudget | None = None
    # The pacer's floor of polls per second (a benchmark sets it out of reach to
    # compare with jitter alone).
    pacer_minimum: int = MINIMUM
    # ``WERFOP_FAILPOINT`` (``registry`` or ``after:<Action>``): see ``failpoints``.
    failpoint: str = ""


@attrs.frozen(kw_only=True)
class Listeners:
    """Who hears about the passes: each pass's timeline, an unreadable object's problems,
    and, for the crash tests, every action the executor performed (``Executor``'s
    ``after_action``; they kill the runtime there)."""

    on_timeline: TimelineSink | None = None
    on_problems: ProblemSink | None = None
    after_action: ActionHook | None = None


@attrs.frozen
class Runtime:
    controller: Controller
    queue: WorkQueue
    registry: RegistryEconomy
    cluster: ClusterPort
    metrics: Metrics | None
    watch_secrets: bool

    def watch(self) -> Watch:
        """Start the cluster port's watch, delivering to the controller; the caller
        stops it."""
        return self.cluster.watch(self.controller.on_event, secrets=self.watch_secrets)


def build(
    options: Options,
    cluster: ClusterPort,
    registry: RegistryPort,
    clock: SleepingClock,
    listeners: Listeners = Listeners(),
) -> Runtime:
    """The runtime over these adapters and this clock (nothing runs yet)."""
    queue: WorkQueue = LockedQueue() if options.threaded else WorkQueue()
    metrics: Metrics | None = None
    upstream = registry
    if options.metrics:
        from werfop.runtime.metrics import CountingRegistry, Metrics

        metrics = Metrics(queue)
        upstream = CountingRegistry(upstream, metrics)
    upstream = failpoints.registry(options.failpoint, upstream)
    economy = RegistryEconomy(upstream, clock, budget=options.registry_budget)
    observer = Observer(
        cluster,
        economy,
        clock,
        allow_cross_namespace=options.allow_cross_namespace,
        pacer=PollPacer(minimum=options.pacer_minimum),
    )
    executor = Executor(cluster, clock, listeners.after_action)
    controller = Controller(
        cluster,
        clock,
        queue=queue,
        observer=observer,
        executor=failpoints.executor(options.failpoint, executor),
        hooks=Hooks(
            on_timeline=listeners.on_timeline,
            on_problems=listeners.on_problems,
            metrics=metrics,
            contain_bugs=options.contain_bugs,
        ),
    )
    return Runtime(
        controller=controller,
        queue=queue,
        registry=economy,
        cluster=cluster,
        metrics=metrics,
        watch_secrets=options.watch_secrets,
    )


__all__ = ["Listeners", "Options", "Runtime", "build"]
