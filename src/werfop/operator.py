"""``werfop run``: the in-cluster operator, wired from the real adapters.

Role: build the adapters (``KubernetesApi``, ``HttpxRegistry``, ``SystemClock``), hand
them to ``runtime.bootstrap.build`` (the same runtime the simulator runs, with the
operator's options: worker threads, metrics, contained bugs, ``WERFOP_FAILPOINT``), and
serve it: the watch, workers, optional leader election, the HTTP endpoints and signal
handling.
SIGTERM/SIGINT: stop taking work, let in-flight passes finish (at most ~8 s), release
the Lease, exit 0 within 10 s.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import threading
import time
from datetime import datetime, timedelta

from werfop.adapters.clock import SystemClock
from werfop.adapters.kubernetes import KubernetesApi, every
from werfop.adapters.registry import HttpxRegistry
from werfop.core.errors import WerfopError
from werfop.core.model import FieldProblem
from werfop.core.ports import Watch
from werfop.core.timeline import Entry
from werfop.kubeconfig import ConfigurationError, connect
from werfop.runtime import bootstrap, logs
from werfop.runtime.hooks import RegistryHook
from werfop.runtime.http import Endpoints
from werfop.runtime.leader import LeaderElector
from werfop.runtime.metrics import Metrics
from werfop.runtime.registry_economy import RequestBudget
from werfop.runtime.workers import LockedQueue, Workers

log = logging.getLogger("werfop.operator")
SHUTDOWN_BUDGET = 8.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kubeconfig",
        help="kubeconfig file (default: in-cluster config in a pod, else $KUBECONFIG, "
        "else ~/.kube/config, as kubectl)",
    )
    parser.add_argument(
        "--namespace",
        action="append",
        default=[],
        help="watch WerfBundles in this namespace (repeatable; default: all)",
    )
    parser.add_argument("--label-selector", default="", help="only bundles matching this selector")
    parser.add_argument("--workers", type=int, default=4, help="concurrent passes (default 4)")
    parser.add_argument("--leader-elect", action="store_true", help="elect a leader on a Lease")
    parser.add_argument(
        "--leader-election-namespace",
        default=None,
        help="namespace of the Lease (default: the pod's namespace)",
    )
    parser.add_argument("--leader-election-id", default="werfop-leader")
    parser.add_argument("--health-addr", default=":8081", help="address of /healthz and /readyz")
    parser.add_argument(
        "--metrics-addr", default=":8080", help="address of /metrics ('0' to disable)"
    )
    parser.add_argument("--log-format", choices=("json", "text"), default="json")
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--resync", default="10m", help="level-based resync period (default 10m)")
    parser.add_argument(
        "--registry-rps",
        type=float,
        default=10.0,
        help="request budget per registry host, requests/s (default 10)",
    )
    parser.add_argument(
        "--watch-timeout",
        type=float,
        default=75.0,
        help="seconds of silence after which a watch is reconnected (default 75)",
    )
    parser.add_argument(
        "--no-cross-namespace",
        action="store_true",
        help="refuse every bundle whose targetNamespace is not its own namespace",
    )
    parser.add_argument(
        "--webhook-secret",
        default="",
        help="NAMESPACE/NAME of a Secret whose key 'token' authenticates POST /hooks/registry "
        "(HMAC-SHA256 signature or bearer token); served on --health-addr",
    )
    parser.add_argument(
        "--watch-labelled-secrets",
        action="store_true",
        help="also watch Secrets labelled werf.io/watch=true (needs list/watch on secrets)",
    )
    parser.add_argument("--leader-elect-lease-duration", type=float, default=15.0)
    parser.add_argument("--leader-elect-renew-deadline", type=float, default=10.0)
    parser.add_argument("--leader-elect-retry-period", type=float, default=2.0)


class StartupError(Exception):
    """werfop cannot start as asked; the message is the one line to print."""


def _api_client(kubeconfig: str | None):  # type: ignore[no-untyped-def]
    """The API client, chosen by ``werfop.kubeconfig.connect`` (as kubectl and client-go
    choose). Raises ``StartupError`` naming the file when it cannot be used."""
    try:
        connection = connect(kubeconfig)
    except ConfigurationError as error:
        raise StartupError(str(error)) from None
    if connection.source == "in-cluster":
        log.info("using the in-cluster configuration")
    else:
        log.info("using a kubeconfig", extra={"kubeconfig": connection.source})
    return connection.api


def _secret_reader(cluster: KubernetesApi, ref: str):  # type: ignore[no-untyped-def]
    """Read the webhook token from its Secret, at most every 30 s (rotation works)."""
    namespace, _, name = ref.partition("/")
    cached: dict[str, object] = {"at": 0.0, "value": None}

    def read() -> bytes | None:
        if time.monotonic() - float(cached["at"]) > 30:  # type: ignore[arg-type]
            import base64

            try:
                secret = cluster.get_secret(namespace, name) or {}
                raw = (secret.get("data") or {}).get("token")
                cached["value"] = base64.b64decode(raw) if raw else None
            except WerfopError:
                pass  # keep the last good value
            cached["at"] = time.monotonic()
        return cached["value"]  # type: ignore[return-value]

    return read


def _addresses(args: argparse.Namespace) -> str:
    return ", ".join(a for a in (args.health_addr, args.metrics_addr) if a not in ("0", ""))


def _pod_namespace() -> str:
    try:
        with open("/var/run/secrets/kubernetes.io/serviceaccount/namespace") as handle:
            return handle.read().strip()
    except OSError:
        return os.environ.get("POD_NAMESPACE", "werfop-system")


def run(args: argparse.Namespace) -> int:
    """Parse the options, build the adapters and the runtime, serve until a signal."""
    from werfop.core.durations import parse_duration

    if args.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        print(
            f"werfop run: --log-level: {args.log_level!r} is not debug, info, warning or error",
            file=sys.stderr,
        )
        return 2
    logs.configure(args.log_format, args.log_level)
    resync = parse_duration(args.resync)
    if resync is None or args.workers < 1:
        log.error("invalid --resync or --workers")
        return 2
    clock = SystemClock()
    try:
        cluster = KubernetesApi(
            _api_client(args.kubeconfig),
            namespaces=args.namespace,
            label_selector=args.label_selector,
            watch_read_timeout=args.watch_timeout,
        )
    except StartupError as error:
        log.error(str(error))
        return 2
    registry = HttpxRegistry(clock=clock)
    runtime = bootstrap.build(
        _options(args),
        cluster,
        registry,
        clock,
        bootstrap.Listeners(on_timeline=_log_timeline, on_problems=_log_problems),
    )
    try:  # listen first: a port in use ends the start-up before anything else runs
        operator = _Operator(args, cluster, runtime, clock)
    except OSError as error:
        log.error(f"cannot listen: {error.strerror}", extra={"addresses": _addresses(args)})
        return 1
    if operator.serve(resync):  # every pass finished: nothing uses the registry client
        registry.close()
    return 0


def _options(args: argparse.Namespace) -> bootstrap.Options:
    return bootstrap.Options(
        threaded=True,
        metrics=True,
        contain_bugs=True,
        allow_cross_namespace=not args.no_cross_namespace,
        watch_secrets=args.watch_labelled_secrets,
        registry_budget=RequestBudget(rate=args.registry_rps, burst=max(1.0, args.registry_rps)),
        failpoint=os.environ.get("WERFOP_FAILPOINT", ""),
    )


def _log_timeline(key: str, moment: datetime, occurrences: tuple[Entry, ...]) -> None:
    for occurrence in occurrences:
        log.info(occurrence.type, extra={"bundle": key, **dict(occurrence.fields)})


def _log_problems(key: str, found: tuple[FieldProblem, ...]) -> None:
    log.error(
        "unreadable object",
        extra={"bundle": key, "problems": "; ".join(f"{p.path}: {p.message}" for p in found)},
    )


class _Operator:
    """The process around the runtime: its endpoints, the watch, the workers, leader
    election, the resync, and the signals that end it."""

    def __init__(
        self,
        args: argparse.Namespace,
        cluster: KubernetesApi,
        runtime: bootstrap.Runtime,
        clock: SystemClock,
    ) -> None:
        self.args = args
        self.cluster = cluster
        self.runtime = runtime
        assert runtime.metrics is not None  # Options(metrics=True)
        self.metrics: Metrics = runtime.metrics
        self.stop = threading.Event()
        self.started = threading.Event()
        self.threads: list[threading.Thread] = []
        self.watch: Watch | None = None
        self.elector: LeaderElector | None = None
        assert isinstance(runtime.queue, LockedQueue)  # Options(threaded=True)
        self.workers = Workers(runtime.controller, runtime.queue, clock, args.workers)
        hook = None
        if args.webhook_secret:
            hook = RegistryHook(
                _secret_reader(cluster, args.webhook_secret), runtime.controller.registry_pushed
            )
        self.endpoints = [
            Endpoints(args.health_addr, healthy=self.healthy, ready=self.ready, hook=hook)
        ]
        if args.metrics_addr not in ("0", ""):
            self.endpoints.append(
                Endpoints(
                    args.metrics_addr,
                    healthy=self.healthy,
                    ready=self.ready,
                    registry=self.metrics.registry,
                )
            )

    def synced(self) -> bool:
        return self.watch is not None and self.watch.synced()

    def healthy(self) -> tuple[bool, str]:
        alive = all(t.is_alive() for t in self.threads) and (
            self.watch is None or self.watch.alive()
        )
        return (alive, "ok" if alive else "a background thread died")

    def ready(self) -> tuple[bool, str]:
        if not self.synced():
            return False, "caches are not synced"
        elector = self.elector
        if elector is None or elector.leading.is_set():
            return True, "leading"
        return (elector.healthy, "standby" if elector.healthy else "cannot reach the Lease")

    def start_working(self) -> None:
        if not self.started.is_set():
            self.started.set()
            self.runtime.controller.resync()
            self.workers.start()

    def lost(self) -> None:
        log.error("leadership lost: exiting so that a fresh process can stand by")
        self.stop.set()

    def on_signal(self, signum: int, _frame: object) -> None:
        log.info("shutting down", extra={"signal": signal.Signals(signum).name})
        self.stop.set()

    def resync_if_working(self) -> None:
        if self.started.is_set():
            self.runtime.controller.resync()

    def serve(self, resync: timedelta) -> bool:
        """Run until a signal (or a lost leadership), then shut down within the budget.
        True when every pass in flight finished."""
        args = self.args
        self.watch = self.runtime.watch()  # the readiness and health checks read it
        if not args.leader_elect:
            self.metrics.watch_leader(lambda: True)  # the only replica: it does the work
        else:
            self.elector = LeaderElector(
                self.cluster,
                args.leader_election_namespace or _pod_namespace(),
                args.leader_election_id,
                f"{socket.gethostname()}_{os.getpid()}",
                on_started=self.start_working,
                on_stopped=self.lost,
                lease_duration=args.leader_elect_lease_duration,
                renew_deadline=args.leader_elect_renew_deadline,
                retry_period=args.leader_elect_retry_period,
            )
            self.metrics.watch_leader(self.elector.leading.is_set)
            thread = threading.Thread(
                target=self.elector.run, args=(self.stop,), name="leader", daemon=True
            )
            thread.start()
            self.threads.append(thread)
        # Signals are handled before the endpoints answer: a SIGTERM sent once /healthz
        # answers stops the process cleanly.
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)
        for endpoint in self.endpoints:
            endpoint.start()
        if self.elector is None:
            while not self.synced() and not self.stop.wait(0.1):
                pass
            if not self.stop.is_set():  # a stop before the caches synced ends here, cleanly
                self.start_working()
        threading.Thread(
            target=every,
            args=(resync, self.stop, self.resync_if_working),
            name="resync",
            daemon=True,
        ).start()
        if not self.stop.is_set():
            log.info(
                "werfop is running",
                extra={"workers": args.workers, "leaderElect": args.leader_elect},
            )
        while not self.stop.wait(1.0):
            pass
        return self.shutdown()

    def shutdown(self) -> bool:
        deadline = time.monotonic() + SHUTDOWN_BUDGET
        idle = self.workers.shutdown(timeout=max(0.1, deadline - time.monotonic()))
        if self.watch is not None:
            self.watch.stop(timeout=0)  # its threads are daemons: no need to wait out a read
        if self.elector is not None and self.elector.leading.is_set():
            self.elector.release()
        for endpoint in self.endpoints:
            endpoint.stop()
        log.info("stopped", extra={"inFlightFinished": idle})
        sys.stdout.flush()
        return idle


__all__ = ["add_arguments", "run"]
