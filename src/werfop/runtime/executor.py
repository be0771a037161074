"""Turn a plan's actions into calls on the cluster port, in order, stopping at a failure.

Role: the only code that performs what the core decided. Every action is idempotent
here: creating what exists (deterministic names) and deleting what is gone are
successes. Our own writes move the bundle's resourceVersion; the executor carries the
new version to the plan's later writes, and a conflict from anyone else stops the plan
(the runtime re-reads and decides again).
Must not: decide anything, or log a Secret's content (actions carry ``Sensitive``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, assert_never

from werfop.api.codec import encode_status, format_time
from werfop.core import jobspec, names
from werfop.core.actions import (
    Action,
    AddFinalizer,
    CreateJob,
    DeleteJob,
    DeleteLogs,
    EmitEvent,
    Plan,
    RemoveFinalizer,
    SaveLogs,
    WriteStatus,
)
from werfop.core.errors import AlreadyExistsError, NotFoundError, WerfopError
from werfop.core.ports import Clock, ClusterPort

ActionHook = Callable[[Action], None]


class Executor:
    def __init__(
        self,
        cluster: ClusterPort,
        clock: Clock,
        after_action: ActionHook | None = None,
    ):
        self.cluster = cluster
        self.clock = clock
        self.after_action = after_action  # tests crash the runtime here

    def execute(self, plan: Plan) -> None:
        """Run the plan's actions in order; the first error propagates (ports raise the
        ``werfop.core.errors`` vocabulary)."""
        versions: dict[tuple[str, str], str] = {}
        for action in plan.actions:
            self._run(action, versions)
            if self.after_action is not None:
                self.after_action(action)

    def _run(self, action: Action, versions: dict[tuple[str, str], str]) -> None:
        match action:
            case AddFinalizer() | RemoveFinalizer():
                key = (action.namespace, action.name)
                updated = self.cluster.patch_bundle_metadata(
                    action.namespace,
                    action.name,
                    versions.get(key, action.resource_version),
                    list(action.finalizers),
                )
                versions[key] = updated["metadata"]["resourceVersion"]
            case WriteStatus():
                key = (action.namespace, action.name)
                updated = self.cluster.replace_bundle_status(
                    action.namespace,
                    action.name,
                    versions.get(key, action.resource_version),
                    encode_status(action.status),
                )
                versions[key] = updated["metadata"]["resourceVersion"]
            case CreateJob():
                self._create_job(action)
            case DeleteJob():
                try:
                    self.cluster.delete_job(action.namespace, action.name)
                except NotFoundError:
                    pass
            case SaveLogs():
                self.cluster.apply_config_map(action.config_map)
            case DeleteLogs():
                try:
                    self.cluster.delete_config_map(action.namespace, action.name)
                except NotFoundError:
                    pass
            case EmitEvent():
                # Events are best effort: the status already says what happened.
                try:
                    self.cluster.create_event(self._event(action))
                except WerfopError:
                    pass
            case _:
                assert_never(action)

    def _create_job(self, action: CreateJob) -> None:
        metadata = action.job["metadata"]
        try:
            job = self.cluster.create_job(action.job)
        except AlreadyExistsError:
            found = self.cluster.get_job(metadata["namespace"], metadata["name"])
            if found is None:
                raise
            job = found
        if action.secret_name is None:
            return
        secret = jobspec.render_inputs_secret(
            action.job, action.secret_name, action.secret_files, job["metadata"]["uid"]
        )
        try:
            self.cluster.create_secret(secret)
        except AlreadyExistsError:
            pass

    def _event(self, action: EmitEvent) -> dict[str, Any]:
        now = format_time(self.clock.now())
        name = f"{action.name}.{jobspec.short_hash(action.uid, action.reason, action.message, now)}"
        return {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": action.namespace},
            "involvedObject": {
                "apiVersion": names.API_VERSION,
                "kind": names.KIND,
                "name": action.name,
                "namespace": action.namespace,
                "uid": action.uid,
            },
            "type": action.type,
            "reason": action.reason,
            "message": action.message,
            "source": {"component": "werfop"},
            "reportingComponent": "werfop",
            "reportingInstance": "werfop",
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
