"""A stand-in for the Job controller and the kubelet, for Jobs that werfop creates.

For every Job labelled ``app.kubernetes.io/managed-by=werfop`` that has not finished, it asks
the test's ``decide(job) -> (outcome, log_text)`` what happens, creates the Job's Pod (owned by
the Job, container ``werf``), stores the Pod's log text for ``pods/log``, and writes the Pod's
and the Job's status: ``succeeded`` (condition Complete), ``failed`` (condition Failed) or
``running`` (asked again on the next pass). Call :meth:`JobController.reconcile` explicitly, or
:meth:`JobController.start` it in a background thread that reacts to Job changes.
"""

from __future__ import annotations

import copy
import hashlib
import threading
from collections.abc import Callable
from typing import Any, Literal

from kubeapi import selectors
from kubeapi.resources import JOBS, PODS
from kubeapi.server import KubeApiServer
from kubeapi.store import Obj, StoredEvent, now_rfc3339

Outcome = Literal["succeeded", "failed", "running"]
Decide = Callable[[Obj], tuple[Outcome, str]]
MANAGED_BY_WERFOP = "app.kubernetes.io/managed-by=werfop"
CONDITIONS = {
    "succeeded": ("Complete", "CompletionsReached", "Reached expected number of succeeded pods"),
    "failed": ("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit"),
}


def is_finished(job: Obj) -> bool:
    conditions = (job.get("status") or {}).get("conditions") or []
    return any(
        c.get("type") in ("Complete", "Failed") and c.get("status") == "True" for c in conditions
    )


def pod_name(job: Obj) -> str:
    suffix = hashlib.sha256(job["metadata"]["uid"].encode()).hexdigest()[:5]
    return f"{job['metadata']['name']}-{suffix}"


class JobController:
    """Moves matching Jobs (and their Pods) to the outcome that ``decide`` returns."""

    def __init__(
        self,
        api: KubeApiServer,
        decide: Decide,
        *,
        selector: str = MANAGED_BY_WERFOP,
        container: str = "werf",
        poll_interval: float = 1.0,
    ) -> None:
        self.api = api
        self.decide = decide
        self.container = container
        self.poll_interval = poll_interval
        self._matches = selectors.label_matcher(selector)
        self._wakeup = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.errors: list[BaseException] = []

    # ----- one pass --------------------------------------------------------------------------

    def reconcile(self) -> list[str]:
        """Process every unfinished matching Job once; return the names of the ones processed."""
        processed = []
        for job in self.api.store.list(JOBS)[0]:
            if self._matches(job) and not is_finished(job):
                self._reconcile_job(job)
                processed.append(job["metadata"]["name"])
        return processed

    def _reconcile_job(self, job: Obj) -> None:
        outcome, log_text = self.decide(copy.deepcopy(job))
        namespace, name = job["metadata"]["namespace"], job["metadata"]["name"]
        now = now_rfc3339()
        pod = self.api.store.find(PODS, namespace, pod_name(job)) or self._new_pod(job)
        start_time = (pod.get("status") or {}).get("startTime") or now
        pod["status"] = _pod_status(outcome, self._container_names(pod), start_time, now)
        self.api.store.put(PODS, pod)
        self.api.store.set_pod_log(namespace, pod_name(job), self.container, log_text)
        self.api.store.mutate(
            JOBS,
            namespace,
            name,
            lambda current: _set_job_status(current, outcome, start_time, now),
        )

    def _new_pod(self, job: Obj) -> Obj:
        meta = job["metadata"]
        template = copy.deepcopy((job.get("spec") or {}).get("template") or {})
        labels = {
            **((template.get("metadata") or {}).get("labels") or {}),
            "batch.kubernetes.io/job-name": meta["name"],
            "job-name": meta["name"],
            "batch.kubernetes.io/controller-uid": meta["uid"],
            "controller-uid": meta["uid"],
        }
        spec = template.get("spec") or {}
        if not any(c.get("name") == self.container for c in spec.get("containers") or []):
            spec["containers"] = [
                *(spec.get("containers") or []),
                {"name": self.container, "image": "werf"},
            ]
        owner = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "name": meta["name"],
            "uid": meta["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": pod_name(job),
                "namespace": meta["namespace"],
                "labels": labels,
                "ownerReferences": [owner],
            },
            "spec": spec,
        }

    @staticmethod
    def _container_names(pod: Obj) -> list[str]:
        return [c["name"] for c in (pod.get("spec") or {}).get("containers") or []]

    # ----- background thread -----------------------------------------------------------------

    def start(self) -> JobController:
        """Reconcile in a background thread whenever Jobs change (and every poll_interval)."""
        self.api.store.add_listener(self._on_event)
        self._thread = threading.Thread(target=self._run, name="kubeapi-jobcontroller", daemon=True)
        self._thread.start()
        return self

    def poke(self) -> None:
        """Reconcile soon, e.g. after the test changed what ``decide`` returns."""
        self._wakeup.set()

    def stop(self) -> None:
        self.api.store.remove_listener(self._on_event)
        self._stopping.set()
        self._wakeup.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> JobController:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def _on_event(self, rt: Any, event: StoredEvent) -> None:
        if rt == JOBS:
            self._wakeup.set()

    def _run(self) -> None:
        self._wakeup.set()
        while not self._stopping.is_set():
            self._wakeup.wait(self.poll_interval)
            self._wakeup.clear()
            if self._stopping.is_set():
                break
            try:
                self.reconcile()
            except Exception as exc:  # keep running; the test inspects .errors
                self.errors.append(exc)


def _pod_status(outcome: Outcome, containers: list[str], start: str, now: str) -> Obj:
    state: dict[str, Any]
    if outcome == "running":
        phase, state, ready = "Running", {"running": {"startedAt": start}}, True
    else:
        code, reason = (0, "Completed") if outcome == "succeeded" else (1, "Error")
        phase = "Succeeded" if outcome == "succeeded" else "Failed"
        state, ready = (
            {
                "terminated": {
                    "exitCode": code,
                    "reason": reason,
                    "startedAt": start,
                    "finishedAt": now,
                }
            },
            False,
        )
    statuses = [
        {
            "name": name,
            "ready": ready,
            "restartCount": 0,
            "started": ready,
            "image": "werf",
            "imageID": "",
            "state": copy.deepcopy(state),
        }
        for name in containers
    ]
    return {"phase": phase, "startTime": start, "containerStatuses": statuses}


def _set_job_status(job: Obj, outcome: Outcome, start: str, now: str) -> None:
    previous = job.get("status") or {}
    status: dict[str, Any] = {
        "startTime": previous.get("startTime") or start,
        "uncountedTerminatedPods": {},
    }
    if outcome == "running":
        status.update(active=1, ready=1)
    else:
        kind, reason, message = CONDITIONS[outcome]
        status.update({"succeeded" if outcome == "succeeded" else "failed": 1, "ready": 0})
        status["conditions"] = [
            {
                "type": kind,
                "status": "True",
                "lastProbeTime": now,
                "lastTransitionTime": now,
                "reason": reason,
                "message": message,
            }
        ]
        if outcome == "succeeded":
            status["completionTime"] = now
    job["status"] = status
