"""``werfop run``: the in-cluster operator, wired from the real adapters.

Role: build ``KubernetesApi``, ``HttpxRegistry`` (behind the registry economy),
``SystemClock``, the ``Controller`` (the same one the simulator runs), informers,
workers, optional leader election, the HTTP endpoints and signal handling.
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

from werfop.adapters.clock import SystemClock
from werfop.adapters.kubernetes import KubernetesApi, every
from werfop.adapters.registry import HttpxRegistry
from werfop.core.errors import WerfopError
from werfop.core.ports import Watch
from werfop.kubeconfig import ConfigurationError, connect
from werfop.runtime import failpoints, logs
from werfop.runtime.controller import Controller
from werfop.runtime.hooks import RegistryHook
from werfop.runtime.http import Endpoints
from werfop.runtime.leader import LeaderElector
from werfop.runtime.metrics import CountingRegistry, Metrics
from werfop.runtime.registry_economy import RegistryEconomy, RequestBudget
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
        api_client = _api_client(args.kubeconfig)
    except StartupError as error:
        log.error(str(error))
        return 2
    cluster = KubernetesApi(
        api_client,
        namespaces=args.namespace,
        label_selector=args.label_selector,
        watch_read_timeout=args.watch_timeout,
    )
    queue = LockedQueue()
    metrics = Metrics(queue)
    failpoint = os.environ.get("WERFOP_FAILPOINT", "")
    upstream: object = CountingRegistry(HttpxRegistry(clock=clock), metrics)
    if failpoint == "registry":
        upstream = failpoints.DieDuringCalls(upstream)
    registry = RegistryEconomy(
        upstream,  # type: ignore[arg-type]
        clock,
        budget=RequestBudget(rate=args.registry_rps, burst=max(1.0, args.registry_rps)),
    )

    def timeline(key: str, moment, occurrences) -> None:  # type: ignore[no-untyped-def]
        for occurrence in occurrences:
            log.info(occurrence.type, extra={"bundle": key, **dict(occurrence.fields)})

    def problems(key: str, found) -> None:  # type: ignore[no-untyped-def]
        log.error(
            "unreadable object",
            extra={"bundle": key, "problems": "; ".join(f"{p.path}: {p.message}" for p in found)},
        )

    controller = Controller(
        cluster,
        registry,
        clock,
        queue=queue,
        on_timeline=timeline,
        on_problems=problems,
        after_action=failpoints.after_action(failpoint),
        allow_cross_namespace=not args.no_cross_namespace,
        contain_bugs=True,
        metrics=metrics,
    )
    stop = threading.Event()
    threads: list[threading.Thread] = []
    watch: Watch | None = None
    elector: LeaderElector | None = None

    def synced() -> bool:
        return watch is not None and watch.synced()

    def healthy() -> tuple[bool, str]:
        alive = all(t.is_alive() for t in threads) and (watch is None or watch.alive())
        return (alive, "ok" if alive else "a background thread died")

    def ready() -> tuple[bool, str]:
        if not synced():
            return False, "caches are not synced"
        if elector is None or elector.leading.is_set():
            return True, "leading"
        return (elector.healthy, "standby" if elector.healthy else "cannot reach the Lease")

    # Listen first: a port in use ends the start-up before anything else runs.
    hook = None
    if args.webhook_secret:
        hook = RegistryHook(
            _secret_reader(cluster, args.webhook_secret), controller.registry_pushed
        )
    try:
        endpoints = [Endpoints(args.health_addr, healthy=healthy, ready=ready, hook=hook)]
        if args.metrics_addr not in ("0", ""):
            endpoints.append(
                Endpoints(
                    args.metrics_addr, healthy=healthy, ready=ready, registry=metrics.registry
                )
            )
    except OSError as error:
        log.error(f"cannot listen: {error.strerror}", extra={"addresses": _addresses(args)})
        stop.set()
        return 1
    # the readiness and health checks read this name
    watch = cluster.watch(controller.on_event, secrets=args.watch_labelled_secrets)

    workers = Workers(controller, queue, clock, args.workers)
    started = threading.Event()

    def start_working() -> None:
        if not started.is_set():
            started.set()
            controller.resync()
            workers.start()

    def lost() -> None:
        log.error("leadership lost: exiting so that a fresh process can stand by")
        stop.set()

    if not args.leader_elect:
        metrics.watch_leader(lambda: True)  # the only replica: it does the work
    else:
        identity = f"{socket.gethostname()}_{os.getpid()}"
        elector = LeaderElector(
            cluster,
            args.leader_election_namespace or _pod_namespace(),
            args.leader_election_id,
            identity,
            on_started=start_working,
            on_stopped=lost,
            lease_duration=args.leader_elect_lease_duration,
            renew_deadline=args.leader_elect_renew_deadline,
            retry_period=args.leader_elect_retry_period,
        )
        metrics.watch_leader(elector.leading.is_set)
        thread = threading.Thread(target=elector.run, args=(stop,), name="leader", daemon=True)
        thread.start()
        threads.append(thread)

    for endpoint in endpoints:
        endpoint.start()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("shutting down", extra={"signal": signal.Signals(signum).name})
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    if elector is None:
        while not synced() and not stop.wait(0.1):
            pass
        if not stop.is_set():  # a stop before the caches synced ends here, cleanly
            start_working()

    def resync_if_working() -> None:
        if started.is_set():
            controller.resync()

    resync_thread = threading.Thread(
        target=every,
        args=(resync, stop, resync_if_working),
        name="resync",
        daemon=True,
    )
    resync_thread.start()
    if not stop.is_set():
        log.info(
            "werfop is running", extra={"workers": args.workers, "leaderElect": args.leader_elect}
        )
    while not stop.wait(1.0):
        pass
    deadline = time.monotonic() + SHUTDOWN_BUDGET
    idle = workers.shutdown(timeout=max(0.1, deadline - time.monotonic()))
    watch.stop(timeout=0)  # its threads are daemons: no need to wait out a read
    if elector is not None and elector.leading.is_set():
        elector.release()
    for endpoint in endpoints:
        endpoint.stop()
    registry_close = getattr(registry, "close", None)
    if callable(registry_close):
        registry_close()
    log.info("stopped", extra={"inFlightFinished": idle})
    sys.stdout.flush()
    return 0


__all__ = ["add_arguments", "run"]
