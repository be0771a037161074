"""Figure 4: operator burst: N bundles receive a new version at once.

The Kubernetes API test server (``tests/kubeapi``) and its ``JobController`` (Jobs succeed
at once) run in this process; the operator runs in a separate process
(``operator_process.py``: ``werfop.operator.run`` with a ``ScriptedRegistry`` on the real
clock, 4 workers, JSON logs to a file), so its RSS is its own. For each N:

1. create: N WerfBundles are created at once (the registry already holds 1.0.0);
2. new version: 1.1.0 is pushed to every repository, then either (``--trigger
   annotate``, the default) the economy's cache is invalidated and every bundle is
   annotated ``werf.io/reconcile-at`` ("poll now") at once, or (``--trigger webhook``)
   one registry notification per repository is POSTed to the operator's
   ``/hooks/registry`` (bearer token from a Secret), which wakes every follower.

For each phase: the time until every bundle's Job for the tag exists, until every status
records that Job (``versionHistory[0]``), and until every bundle is ``Synced`` on it;
the operator's peak RSS (VmHWM) and CPU; this process's CPU (the API server, the Job
controller); API requests and the request rate.

Anchor (Flux v2.6 flux-benchmark, 16 cores, concurrency 10): OCIRepository 100 / 500 /
1,000 in 24 s / 43 s / 85 s with 38 / 65 / 67 MiB.

Usage: .venv/bin/python benchmarks/bench_operator_burst.py [--quick] [--sizes 100,500,1000]
"""

from __future__ import annotations

import argparse
import base64
import contextvars
import copy
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import scenarios
from common import ROOT, StackSampler, cpu_seconds, header, peak_rss_mib, rss_mib, table

from kubeapi import handler as kube_handler
from kubeapi import store as kube_store
from kubeapi.jobcontroller import JobController, is_finished
from kubeapi.resources import JOBS
from kubeapi.server import KubeApiServer
from support.operator import free_port
from werfop.core.names import ANNOTATION_BUNDLE, ANNOTATION_TAG

HERE = Path(__file__).resolve().parent
HOOK_TOKEN = "bench-hook-token"
TRACEMALLOC = False  # --tracemalloc: trace the operator's allocations (slower, more RSS)


class EventDrivenJobController(JobController):
    """kubeapi's ``JobController`` (same outcome, Pod, log and status per Job), but each
    wake-up handles the Jobs that changed instead of listing and copying every Job."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._changed: set[tuple[str, str]] = set()
        self._changed_lock = threading.Lock()

    def _on_event(self, rt: Any, event: Any) -> None:
        if rt == JOBS and self._matches(event.obj) and not is_finished(event.obj):
            meta = event.obj["metadata"]
            with self._changed_lock:
                self._changed.add((meta["namespace"], meta["name"]))
            self._wakeup.set()

    def reconcile(self) -> list[str]:
        with self._changed_lock:
            todo, self._changed = self._changed, set()
        done = []
        for namespace, name in sorted(todo):
            job = self.api.store.find(JOBS, namespace, name)
            if job is not None and self._matches(job) and not is_finished(job):
                self._reconcile_job(job)
                done.append(name)
        return done


_LIST_FILTER: contextvars.ContextVar[Any] = contextvars.ContextVar("list_filter", default=None)


def install_server_fast_paths() -> None:
    """Two in-process patches of the API test server (no file is changed): a LIST copies
    only the objects its selector matches (the store copied every object of the type in
    the namespace first), and a watch reads only the history newer than its position
    (the store scanned the whole history on every wake-up)."""
    store_list = kube_store.Store.list
    serve_list = kube_handler.KubeApiHandler._serve_list

    def list_(self, rt, namespace=None):  # type: ignore[no-untyped-def]
        matches = _LIST_FILTER.get()
        if matches is None:
            return store_list(self, rt, namespace)
        with self._lock:
            items = [
                copy.deepcopy(obj)
                for (ns, _), obj in sorted(self._objects[rt].items())
                if (namespace is None or not rt.namespaced or ns == namespace) and matches(obj)
            ]
            return items, self._rv

    def _serve_list(self, rt, path, query, accept):  # type: ignore[no-untyped-def]
        token = _LIST_FILTER.set(self._matcher(rt, path, query))
        try:
            return serve_list(self, rt, path, query, accept)
        finally:
            _LIST_FILTER.reset(token)

    def events_since(self, rt, rv):  # type: ignore[no-untyped-def]
        with self._lock:
            history = self._histories[rt]
            if rv < history.compacted_rv:
                raise kube_store.Expired(rv, history.compacted_rv)
            newer = []
            for event in reversed(history.events):
                if event.rv <= rv:
                    break
                newer.append(event)
            newer.reverse()
            return newer

    kube_store.Store.list = list_  # type: ignore[method-assign]
    kube_handler.KubeApiHandler._serve_list = _serve_list  # type: ignore[method-assign]
    kube_store.Store.events_since = events_since  # type: ignore[method-assign]


class Tracker:
    """A store listener: when each bundle's Job appeared, when its status recorded it,
    when it became Synced on it (monotonic seconds), per (bundle key, tag)."""

    def __init__(self) -> None:
        self.job: dict[tuple[str, str], float] = {}
        self.recorded: dict[tuple[str, str], float] = {}
        self.synced: dict[tuple[str, str], float] = {}

    def __call__(self, rt: Any, event: Any) -> None:
        now = time.monotonic()
        obj = event.obj
        meta = obj.get("metadata") or {}
        if rt.plural == "jobs" and event.type == "ADDED":
            annotations = meta.get("annotations") or {}
            key = annotations.get(ANNOTATION_BUNDLE)
            if key:
                self.job.setdefault((key, annotations.get(ANNOTATION_TAG, "")), now)
        elif rt.plural == "werfbundles":
            key = f"{meta.get('namespace')}/{meta.get('name')}"
            status = obj.get("status") or {}
            history = status.get("versionHistory") or []
            if history:
                self.recorded.setdefault((key, history[0].get("tag", "")), now)
            if status.get("phase") == "Synced":
                self.synced.setdefault((key, status.get("lastAppliedTag") or ""), now)

    def count(self, table: dict[tuple[str, str], float], tag: str) -> int:
        return sum(1 for (_, t) in list(table) if t == tag)

    def last(self, table: dict[tuple[str, str], float], tag: str, since: float) -> float:
        return max((v for (_, t), v in list(table.items()) if t == tag), default=since) - since


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0.0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.2):
            try:
                self.peak = max(self.peak, rss_mib(self.pid))
            except OSError:
                return

    def reset(self) -> float:
        peak, self.peak = self.peak, 0.0
        return peak


def start_operator(
    kubeconfig: Path, log: Path, repos: int, workers: int, extra: list[str]
) -> tuple:
    health = free_port()
    command = [
        sys.executable,
        str(HERE / "operator_process.py"),
        "--kubeconfig",
        str(kubeconfig),
        "--health-addr",
        f"127.0.0.1:{health}",
        "--metrics-addr",
        f"127.0.0.1:{free_port()}",
        "--workers",
        str(workers),
        "--log-format",
        "json",
        "--repos",
        str(repos),
        *extra,
    ]
    env = {**os.environ, "PYTHONPATH": f"{HERE}:{ROOT / 'tests'}"}
    if TRACEMALLOC:
        env["PYTHONTRACEMALLOC"] = "1"
    process = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log.open("wb"),
        env=env,
        text=True,
        bufsize=1,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{health}/readyz", timeout=1).status_code == 200:
                return process, health
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            raise RuntimeError(f"the operator exited: {log.read_text()[-2000:]}")
        time.sleep(0.1)
    raise RuntimeError("the operator did not become ready")


def command(process: subprocess.Popen, line: str) -> str:
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(line + "\n")
    process.stdin.flush()
    return process.stdout.readline().strip()


def wait_all(
    tracker: Tracker, table_: dict, tag: str, count: int, timeout: float, process: Any
) -> bool:
    deadline = time.monotonic() + timeout
    while tracker.count(table_, tag) < count:
        if time.monotonic() > deadline or process.poll() is not None:
            return False
        time.sleep(0.05)
    return True


def phase(
    name: str,
    api: KubeApiServer,
    tracker: Tracker,
    process: subprocess.Popen,
    sampler: RssSampler,
    size: int,
    tag: str,
    trigger,
    timeout: float,
    sample_operator: bool = False,
) -> dict[str, Any]:
    requests_before = len(api.requests)
    registry_before = json.loads(command(process, "stats"))["registry_requests"]
    operator_cpu = cpu_seconds(process.pid)
    own_cpu = cpu_seconds()
    sampler.reset()
    if sample_operator:
        command(process, "sample")
    started = time.monotonic()
    trigger()
    triggered = time.monotonic() - started
    done = wait_all(tracker, tracker.recorded, tag, size, timeout, process)
    done = done and wait_all(tracker, tracker.job, tag, size, timeout, process)
    recorded_wall = time.monotonic() - started
    synced = done and wait_all(tracker, tracker.synced, tag, size, timeout, process)
    wall = time.monotonic() - started
    if sample_operator:
        print(f"N={size}, {name}: operator side: " + json.loads(command(process, "report")))
    registry_requests = json.loads(command(process, "stats"))["registry_requests"]
    records = list(api.requests)[requests_before:]
    mix = Counter(f"{r.verb} {r.rbac_resource}" for r in records if r.verb != "watch")
    return {
        "phase": name,
        "N": size,
        "complete": done and synced,
        "trigger_s": triggered,
        "jobs_s": tracker.last(tracker.job, tag, started) if done else float("nan"),
        "recorded_s": tracker.last(tracker.recorded, tag, started) if done else float("nan"),
        "synced_s": tracker.last(tracker.synced, tag, started) if synced else float("nan"),
        "wall_s": wall,
        "recorded_wall_s": recorded_wall,
        "rss_peak": sampler.reset(),
        "operator_cpu": cpu_seconds(process.pid) - operator_cpu,
        "server_cpu": cpu_seconds() - own_cpu,
        "requests": sum(mix.values()),
        "registry": registry_requests - registry_before,
        "mix": mix,
    }


def run_size(
    size: int, repos: int, workers: int, timeout: float, workdir: Path, options: Any
) -> list[dict]:
    api = KubeApiServer(history_size=options.history or max(1000, 5 * size))
    api.start()
    tracker = Tracker()
    api.store.add_listener(tracker)
    controller_class = EventDrivenJobController if options.events_job_controller else JobController
    jobs = controller_class(
        api, lambda job: ("succeeded", "werf bundle apply\nrelease deployed\n"), poll_interval=1.0
    )
    jobs.start()
    sampler_thread = StackSampler("kubeapi") if options.sample_server else None
    if sampler_thread is not None:
        sampler_thread.start()
    kubeconfig = api.write_kubeconfig(workdir / f"kubeconfig-{size}")
    log = workdir / f"operator-{size}.log"
    extra = []
    if options.trigger == "webhook":
        token = base64.b64encode(HOOK_TOKEN.encode()).decode()
        api.create(
            "secrets",
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "werfop-hook", "namespace": "default"},
                "data": {"token": token},
            },
        )
        extra = ["--webhook-secret", "default/werfop-hook"]
    process, health = start_operator(kubeconfig, log, repos, workers, extra)
    sampler = RssSampler(process.pid)
    sampler.start()
    results = []
    try:
        idle_rss = rss_mib(process.pid)
        objects = scenarios.bundles(size, repos)

        def create() -> None:
            for obj in objects:
                api.create("werfbundles", obj)

        results.append(
            phase(
                "create",
                api,
                tracker,
                process,
                sampler,
                size,
                "1.0.0",
                create,
                timeout,
                options.sample_operator,
            )
        )
        results[-1]["idle_rss"] = idle_rss
        time.sleep(2)  # let the last echoes settle
        webhook = options.trigger == "webhook"
        answer = command(process, "push-only 1.1.0" if webhook else "push 1.1.0")
        assert answer == "pushed 1.1.0", answer

        def notify() -> None:
            for r in range(repos):
                response = httpx.post(
                    f"http://127.0.0.1:{health}/hooks/registry",
                    json={"repository": scenarios.repository(r), "tag": "1.1.0"},
                    headers={"Authorization": f"Bearer {HOOK_TOKEN}"},
                    timeout=10,
                )
                response.raise_for_status()

        def poll_now() -> None:
            value = str(time.time())
            for obj in objects:

                def annotate(current: dict) -> None:
                    current["metadata"].setdefault("annotations", {})["werf.io/reconcile-at"] = (
                        value
                    )

                api.mutate("werfbundles", "default", obj["metadata"]["name"], annotate)

        results.append(
            phase(
                "new version",
                api,
                tracker,
                process,
                sampler,
                size,
                "1.1.0",
                notify if webhook else poll_now,
                timeout,
                options.sample_operator,
            )
        )
        stats = json.loads(command(process, "stats"))
        for result in results:
            result["hwm"] = peak_rss_mib(process.pid)
            result["registry_requests"] = stats["registry_requests"]
        results[-1]["steady_rss"] = rss_mib(process.pid)
        if TRACEMALLOC:
            print(
                f"N={size}: operator allocations after both bursts: "
                + command(process, "allocations")
            )
    finally:
        sampler.stop.set()
        if sampler_thread is not None:
            sampler_thread.stop.set()
            print(f"N={size}: API server side: " + sampler_thread.report())
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        jobs.stop()
        errors = api.server_errors
        api.stop()
        if errors:
            print(f"note: the API test server reported internal errors: {errors[:3]}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 100 only")
    parser.add_argument("--sizes", default="100,500,1000")
    parser.add_argument("--repos", type=int, default=10)
    parser.add_argument("--workers", type=int, default=4, help="operator --workers (default 4)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per phase")
    parser.add_argument("--mix", action="store_true", help="print the API request mix")
    parser.add_argument("--history", type=int, default=0, help="API watch history (5 x N)")
    parser.add_argument(
        "--trigger",
        choices=("annotate", "webhook"),
        default="annotate",
        help="new version: annotate every bundle werf.io/reconcile-at, or POST one registry "
        "notification per repository to /hooks/registry",
    )
    parser.add_argument(
        "--events-job-controller",
        action="store_true",
        help="complete only changed Jobs (not a scan of all Jobs per wake-up)",
    )
    parser.add_argument(
        "--server-fast-paths", action="store_true", help="see install_server_fast_paths"
    )
    parser.add_argument(
        "--sample-server", action="store_true", help="print where the API server spends time"
    )
    parser.add_argument(
        "--sample-operator", action="store_true", help="print where the operator spends time"
    )
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="after the bursts, print the operator's traced memory and its top 15 lines "
        "(PYTHONTRACEMALLOC=1: slower, and its RSS is not comparable)",
    )
    args = parser.parse_args()
    global TRACEMALLOC
    TRACEMALLOC = args.tracemalloc
    if args.server_fast_paths:
        install_server_fast_paths()
    sizes = [100] if args.quick else [int(s) for s in args.sizes.split(",")]
    harness = [
        name
        for name, on in (
            ("event-driven JobController", args.events_job_controller),
            ("server fast paths", args.server_fast_paths),
        )
        if on
    ]
    header(
        f"Figure 4: operator burst against the Kubernetes API test server, "
        f"{args.workers} workers, {args.repos} repositories, new version by {args.trigger}"
        + (f" [harness: {', '.join(harness)}]" if harness else " [stock test server]")
    )
    rows, mixes, memory = [], [], []
    with tempfile.TemporaryDirectory(prefix="werfop-bench-") as tmp:
        for size in sizes:
            for r in run_size(size, args.repos, args.workers, args.timeout, Path(tmp), args):
                wall = r["wall_s"]
                rows.append(
                    (
                        r["phase"],
                        r["N"],
                        r["jobs_s"],
                        r["recorded_s"],
                        r["synced_s"],
                        r["N"] / r["recorded_s"] if r["recorded_s"] == r["recorded_s"] else "-",
                        r["requests"],
                        r["requests"] / wall,
                        r["registry"],
                        r["operator_cpu"] / wall,
                        r["server_cpu"] / wall,
                        r["rss_peak"],
                        r["hwm"],
                    )
                )
                mixes.append((r["phase"], r["N"], r["mix"]))
                if "idle_rss" in r:
                    memory.append([r["N"], r["idle_rss"]])
                if "steady_rss" in r:
                    memory[-1] += [r["steady_rss"], r["hwm"]]
    print(
        table(
            (
                "phase",
                "N",
                "all Jobs, s",
                "all statuses, s",
                "all Synced, s",
                "bundles/s",
                "API reqs",
                "reqs/s",
                "registry reqs",
                "operator CPU",
                "server CPU",
                "RSS peak MiB",
                "VmHWM MiB",
            ),
            rows,
        )
    )
    print(
        "CPU columns are cores busy on average (CPU seconds / wall); 'server CPU' is this "
        "process: the API test server, its JobController and the tracker."
    )
    print(
        table(
            ("N", "operator RSS, 0 bundles, MiB", "RSS after both bursts, MiB", "VmHWM, MiB"),
            memory,
        )
    )
    if args.mix:
        for name, size, mix in mixes:
            per = ", ".join(f"{k} {v / size:.2f}" for k, v in sorted(mix.items()))
            print(f"requests per bundle, {name}, N={size}: {per}")


if __name__ == "__main__":
    main()
