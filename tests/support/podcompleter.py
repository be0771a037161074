"""The pod completer: what a kubelet does to a Job's pod, without a node or a container
runtime, so the real Job controller (in kube-controller-manager) finishes real Jobs.

Role: watch Pending pods that a Job owns, in every namespace, and for each one pick the first rule of the
rules file (read again for every pod, so a test or a person can change it while the
cluster runs) whose ``match`` fits the pod's namespace and labels. The rule says the exit
code and how long to wait; the completer then writes the pod's status as a kubelet would
(phase Succeeded or Failed, a terminated container status with that exit code). A rule
with ``run: true`` hands the pod to ``support.podrunner``, which runs the container's
command here as a kubelet would, and the command's exit code is the pod's.
Must not: touch a pod that is being deleted, finish a pod twice, or die on one bad pod
(it logs the error and leaves that pod Pending).
Neighbours: ``support.controlplane`` starts it; ``support.podrunner`` runs commands.

The rules file (YAML)::

    hosts: {registry.werfop.test: 127.0.0.1}   # names in the pods' /etc/hosts (run: true)
    rules:
      - match: {namespace: team-a, labels: {werf.io/job-kind: apply}}   # both optional
        exitCode: 1        # default 0
        after: 2s          # default 0s; s, ms or m
        log: "text"        # what the pod printed (its log, served through pods/log)
        run: false         # true: run the container command (support.podrunner)

Each Job pod is bound to the completer's Node (``support.kubeletlogs``), which serves its
log through the API server's ``pods/log`` and confirms its deletion as a kubelet would.
"""

from __future__ import annotations

import argparse
import heapq
import logging
import re
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import yaml
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from support.kubeletlogs import NODE, LocalNode
from support.podrunner import PodRunner

log = logging.getLogger("podcompleter")
DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m)$")


@attrs.frozen(kw_only=True)
class Rule:
    namespace: str | None = None
    labels: dict[str, str] = attrs.field(factory=dict)
    exit_code: int = 0
    after: float = 0.0
    log: str = ""
    run: bool = False

    def matches(self, namespace: str, labels: dict[str, str]) -> bool:
        if self.namespace is not None and self.namespace != namespace:
            return False
        return all(labels.get(k) == v for k, v in self.labels.items())


def parse_duration(text: str) -> float:
    found = DURATION.match(str(text))
    if not found:
        raise ValueError(f"not a duration (like 2s, 500ms, 1m): {text!r}")
    number, unit = float(found.group(1)), found.group(2)
    return number / 1000 if unit == "ms" else number * 60 if unit == "m" else number


def load_hosts(path: Path) -> dict[str, str]:
    """The ``hosts`` of the rules file: names the pods' ``/etc/hosts`` resolve."""
    document = yaml.safe_load(path.read_text()) or {}
    return {str(k): str(v) for k, v in (document.get("hosts") or {}).items()}


def load_rules(path: Path) -> list[Rule]:
    """The rules of ``path``; raises ValueError naming the rule and field on bad input."""
    document = yaml.safe_load(path.read_text()) or {}
    unknown = set(document) - {"rules", "hosts"}
    if unknown:
        raise ValueError(f"{path}: unknown field(s) {sorted(unknown)}")
    rules = []
    for index, raw in enumerate(document.get("rules") or [], start=1):
        where = f"{path}: rules[{index}]"
        unknown = set(raw) - {"match", "exitCode", "after", "log", "run"}
        if unknown:
            raise ValueError(f"{where}: unknown field(s) {sorted(unknown)}")
        match = raw.get("match") or {}
        unknown = set(match) - {"namespace", "labels"}
        if unknown:
            raise ValueError(f"{where}.match: unknown field(s) {sorted(unknown)}")
        exit_code = raw.get("exitCode", 0)
        if not isinstance(exit_code, int) or not 0 <= exit_code <= 255:
            raise ValueError(f"{where}.exitCode: an integer 0-255, not {exit_code!r}")
        rules.append(
            Rule(
                namespace=match.get("namespace"),
                labels={str(k): str(v) for k, v in (match.get("labels") or {}).items()},
                exit_code=exit_code,
                after=parse_duration(raw.get("after", "0s")),
                log=str(raw.get("log", "")),
                run=bool(raw.get("run", False)),
            )
        )
    return rules


def rule_for(rules: list[Rule], namespace: str, labels: dict[str, str]) -> Rule:
    return next((r for r in rules if r.matches(namespace, labels)), Rule())


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def terminated_status(pod: Any, exit_code: int, started: str, message: str = "") -> dict:
    """The status a kubelet writes for a pod whose containers ended with ``exit_code``."""
    finished = now_rfc3339()
    terminated: dict[str, Any] = {
        "exitCode": exit_code,
        "reason": "Completed" if exit_code == 0 else "Error",
        "startedAt": started,
        "finishedAt": finished,
    }
    if message:
        terminated["message"] = message[-4096:]
    return {
        "status": {
            "phase": "Succeeded" if exit_code == 0 else "Failed",
            "startTime": started,
            "conditions": [
                {"type": "Ready", "status": "False", "reason": "PodCompleted"},
                {"type": "ContainersReady", "status": "False", "reason": "PodCompleted"},
            ],
            "containerStatuses": [
                {
                    "name": c.name,
                    "image": c.image,
                    "imageID": "",
                    "ready": False,
                    "restartCount": 0,
                    "started": False,
                    "state": {"terminated": terminated},
                }
                for c in pod.spec.containers
            ],
        }
    }


class Completer:
    """Finishes Pending pods by the rules; see the module docstring."""

    def __init__(
        self,
        api: client.CoreV1Api,
        rules_path: Path,
        *,
        state: Path,
        node: LocalNode | None = None,
        runner: PodRunner | None = None,
    ) -> None:
        self.api = api
        self.rules_path = rules_path
        self.state = state
        self.node = node
        self.runner = runner
        self.seen: set[str] = set()
        self.due: list[tuple[float, str, str, str]] = []  # (when, uid, namespace, name)
        self.codes: dict[str, int] = {}  # uid -> the exit code its rule chose
        self.lock = threading.Lock()
        self.wake = threading.Event()

    def offer(self, pod: Any) -> None:
        meta = pod.metadata
        if meta.deletion_timestamp:
            if self.node is not None and pod.spec.node_name == NODE:
                threading.Thread(target=self._deleted, args=(pod,), daemon=True).start()
            return
        if pod.status.phase != "Pending" or meta.uid in self.seen:
            return
        if not any(o.kind == "Job" for o in meta.owner_references or []):
            return  # only a Job's pods finish; a Deployment's stay Pending, as on no node
        try:
            rule = rule_for(load_rules(self.rules_path), meta.namespace, meta.labels or {})
        except (OSError, ValueError, yaml.YAMLError) as error:
            log.error(
                "rules file unusable, pod %s/%s left Pending: %s", meta.namespace, meta.name, error
            )
            return
        self.seen.add(meta.uid)
        if self.node is not None and not self.node.bind(pod):
            return  # deleted meanwhile
        folder = self.state / meta.uid
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "log").write_text(rule.log)
        if rule.run:
            if self.runner is None:
                log.error("pod %s/%s: run: true, but no runner", meta.namespace, meta.name)
                return
            threading.Thread(
                target=self._run, args=(pod,), name=f"run-{meta.name}", daemon=True
            ).start()
            return
        with self.lock:
            heapq.heappush(
                self.due, (time.monotonic() + rule.after, meta.uid, meta.namespace, meta.name)
            )
            self.codes[meta.uid] = rule.exit_code
        self.wake.set()

    def _deleted(self, pod: Any) -> None:
        """A bound pod was deleted: stop its process, then confirm, as a kubelet does."""
        if self.runner is not None:
            self.runner.kill(pod.metadata.uid)
        assert self.node is not None
        self.node.confirm_deletion(pod)

    def _run(self, pod: Any) -> None:
        started = now_rfc3339()
        self._mark_running(pod, started)
        try:
            code, message = self.runner(pod, hosts=load_hosts(self.rules_path))
        except Exception as error:  # a runner bug fails the pod, visibly
            log.exception("runner failed on %s/%s", pod.metadata.namespace, pod.metadata.name)
            code, message = 128, f"podrunner: {type(error).__name__}: {error}"
        self._finish(pod.metadata.namespace, pod.metadata.name, code, started, message)

    def _mark_running(self, pod: Any, started: str) -> None:
        body = {
            "status": {
                "phase": "Running",
                "startTime": started,
                "containerStatuses": [
                    {
                        "name": c.name,
                        "image": c.image,
                        "imageID": "",
                        "ready": True,
                        "restartCount": 0,
                        "started": True,
                        "state": {"running": {"startedAt": started}},
                    }
                    for c in pod.spec.containers
                ],
            }
        }
        try:
            self.api.patch_namespaced_pod_status(pod.metadata.name, pod.metadata.namespace, body)
        except ApiException as error:
            log.warning(
                "pod %s/%s: Running not written: %s",
                pod.metadata.namespace,
                pod.metadata.name,
                error.reason,
            )

    def _finish(
        self, namespace: str, name: str, code: int, started: str, message: str = ""
    ) -> None:
        try:
            pod = self.api.read_namespaced_pod(name, namespace)
        except ApiException as error:
            if error.status != 404:
                log.warning("pod %s/%s: %s", namespace, name, error.reason)
            return
        if pod.metadata.deletion_timestamp or pod.status.phase in ("Succeeded", "Failed"):
            return
        try:
            self.api.patch_namespaced_pod_status(
                name, namespace, terminated_status(pod, code, started, message)
            )
            log.info("pod %s/%s finished with exit code %d", namespace, name, code)
        except ApiException as error:
            log.warning("pod %s/%s: status not written: %s", namespace, name, error.reason)

    def tick(self) -> float:
        """Finish every pod that is due; return the seconds until the next one."""
        while True:
            with self.lock:
                if not self.due:
                    return 1.0
                when, uid, namespace, name = self.due[0]
                if when > time.monotonic():
                    return when - time.monotonic()
                heapq.heappop(self.due)
                code = self.codes.pop(uid, 0)
            self._finish(namespace, name, code, now_rfc3339())

    def finisher(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.wake.wait(self.tick())
            self.wake.clear()

    def watcher(self, stop: threading.Event, ready: Path | None) -> None:
        while not stop.is_set():
            try:
                listed = self.api.list_pod_for_all_namespaces()
                for pod in listed.items:
                    self.offer(pod)
                if ready is not None:
                    ready.touch()
                    ready = None
                for event in watch.Watch().stream(
                    self.api.list_pod_for_all_namespaces,
                    resource_version=listed.metadata.resource_version,
                    timeout_seconds=30,
                ):
                    if event["type"] in ("ADDED", "MODIFIED"):
                        self.offer(event["object"])
                    if stop.is_set():
                        return
            except Exception as error:  # the API server restarts in some tests: re-list
                log.warning("watch ended (%s); listing again", type(error).__name__)
                time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="podcompleter")
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--rules", type=Path, required=True)
    parser.add_argument("--no-run", action="store_true", help="refuse rules with run: true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    api_client = config.new_client_from_config(config_file=args.kubeconfig)
    api = client.CoreV1Api(api_client)
    state = args.rules.parent / "pods"
    runner = None if args.no_run else PodRunner(api, state=state)
    node = LocalNode(api, state)
    node.register()
    node.serve()
    completer = Completer(api, args.rules, state=state, node=node, runner=runner)
    stop = threading.Event()
    threading.Thread(target=node.heartbeat, args=(stop,), daemon=True).start()
    threading.Thread(target=completer.finisher, args=(stop,), daemon=True).start()
    ready = args.rules.parent / "pod-completer.ready"

    def shut_down(signum: int, frame: Any) -> None:
        """Stopping the completer stops the commands it runs (each in its own session)."""
        stop.set()
        if runner is not None:
            for uid in list(runner.processes):
                runner.kill(uid, grace=1.0)
        sys.exit(0)

    signal.signal(signal.SIGTERM, shut_down)
    signal.signal(signal.SIGINT, shut_down)
    completer.watcher(stop, ready)
    return 0


if __name__ == "__main__":
    sys.exit(main())
