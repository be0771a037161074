"""The operator's RBAC (deploy/rbac/) grants exactly what the code calls: no more, no less.

The real ``KubernetesApi`` adapter is driven against the recording Kubernetes API test
server (``kubeapi``): once through every ``ClusterPort`` method, the leader elector and
the informers, and once as the in-process runtime (``Controller``) taking two bundles
through their life (finalizer, Job, success, captured log, log expiry, deletion). The
requests it made are then authorized against the rules bound to the operator's
ServiceAccount, the way the RBAC authorizer would, and every granted (group, resource,
verb) must have been used.

A permission is also "used" when the operator creates an object whose owner reference
sets ``blockOwnerDeletion``: the OwnerReferencesPermissionEnforcement admission plugin
then requires ``update`` on the owner's ``finalizers`` subresource, although no request
goes there. Those are derived from the bodies the adapter sent, not listed by hand.
"""

from __future__ import annotations

import copy
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import kubernetes
import pytest

from kubeapi import JobController
from kubeapi.requestlog import RequestRecord
from kubeapi.server import KubeApiServer
from kubeapi.store import DEFAULT_NAMESPACES
from werfop.adapters.kubernetes import KubernetesApi
from werfop.adapters.memory import ManualClock
from werfop.adapters.scripted_registry import ScriptedRegistry
from werfop.api.codec import decode_bundle
from werfop.core import jobspec, names
from werfop.core.actions import CreateJob, EmitEvent, Plan
from werfop.core.model import Inputs, Sensitive, ValuesFile
from werfop.core.names import FINALIZER
from werfop.core.ports import ClusterPort, WatchEvent
from werfop.runtime import bootstrap
from werfop.runtime.executor import Executor
from werfop.runtime.leader import LeaderElector

from .manifests import (
    DEPLOY,
    NAMESPACE,
    SERVICE_ACCOUNT,
    documents,
    flag,
    is_kustomization,
    operator_container,
)

pytestmark = pytest.mark.timeout(60)

Permission = tuple[str, str, str]  # (apiGroup, resource[/subresource], verb)
LEASE = flag(operator_container()["args"], "leader-election-id") or "werfop-leader"
WAIT = 15.0  # seconds; each wait ends as soon as its condition holds
BIG_LOG = "".join(f"werf: step {n} done\n" for n in range(400))  # > 5 KiB: kept in a ConfigMap


# --- the rules bound to the operator ------------------------------------------------------------


@attrs.frozen
class Rule:
    namespace: str | None  # None: a ClusterRole bound cluster-wide
    groups: frozenset[str]
    resources: frozenset[str]
    verbs: frozenset[str]
    names: frozenset[str]

    def allows(self, record: RequestRecord) -> bool:
        return (
            (self.namespace is None or self.namespace == record.namespace)
            and record.group in self.groups
            and record.rbac_resource in self.resources
            and record.verb in self.verbs
            and (not self.names or record.name in self.names)
        )

    def permissions(self) -> set[Permission]:
        return {(g, r, v) for g in self.groups for r in self.resources for v in self.verbs}


RBAC_FILES = sorted(p for p in (DEPLOY / "rbac").glob("*.yaml") if not is_kustomization(p))
SECRET_WATCH_FILES = [DEPLOY / "optional" / "watch-labelled-secrets" / "role.yaml"]


def rbac_objects(files: list[Path] = RBAC_FILES) -> list[dict[str, Any]]:
    return [d for p in files for d in documents(p)]


def operator_rules(files: list[Path] = RBAC_FILES) -> list[Rule]:
    """Rules of every Role and ClusterRole in ``files`` bound to the operator's account."""
    objects = rbac_objects(files)
    roles = {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]): o for o in objects}
    rules = []
    for binding in objects:
        if binding["kind"] not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        if not any(
            s["kind"] == "ServiceAccount"
            and (s["name"], s.get("namespace")) == (SERVICE_ACCOUNT, NAMESPACE)
            for s in binding["subjects"]
        ):
            continue
        where = binding["metadata"].get("namespace")
        ref = binding["roleRef"]
        role = roles[(ref["kind"], where if ref["kind"] == "Role" else None, ref["name"])]
        for rule in role["rules"]:
            rules.append(
                Rule(
                    namespace=where,
                    groups=frozenset(rule["apiGroups"]),
                    resources=frozenset(rule["resources"]),
                    verbs=frozenset(rule["verbs"]),
                    names=frozenset(rule.get("resourceNames", ())),
                )
            )
    return rules


# --- driving the adapter ----------------------------------------------------------------------------


class RecordingApi(KubernetesApi):
    """The real adapter, keeping a copy of every body it sends (to read owner references)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.sent: list[dict[str, Any]] = []

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        if isinstance(kwargs.get("body"), dict):
            self.sent.append(copy.deepcopy(kwargs["body"]))
        return super().request(method, path, **kwargs)


@attrs.frozen
class Session:
    requests: list[RequestRecord]
    sent: list[dict[str, Any]]
    port_methods: frozenset[str] = frozenset()


def wait_for(
    condition: Callable[[], Any],
    step: Callable[[], None] = lambda: None,
    state: Callable[[], Any] = lambda: None,
) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for the operator: {state()}"
        step()
        time.sleep(0.01)


@attrs.define
class Informers:
    """The port's watch on the real adapter (``KubernetesApi.watch``), recorded."""

    api: KubernetesApi
    events: list[tuple[str, WatchEvent]] = attrs.Factory(list)
    watch: Any = None

    def start(
        self,
        listener: Callable[[str, WatchEvent], None] | None = None,
        *,
        watch_secrets: bool = False,
    ) -> Informers:
        def record(kind: str, event: WatchEvent) -> None:
            self.events.append((kind, event))
            if listener is not None:
                listener(kind, event)

        self.watch = self.api.watch(record, secrets=watch_secrets)
        wait_for(self.watch.synced)
        return self

    def close(self, server: KubeApiServer) -> None:
        self.watch.stopping.set()
        server.go_down()  # ends the watch streams; the informers then see ``stop``
        server.come_up()
        self.watch.stop(timeout=WAIT)
        assert not any(t.is_alive() for t in self.watch.threads)


def _client(server: KubeApiServer, directory: Path) -> kubernetes.client.ApiClient:
    kubeconfig = server.write_kubeconfig(directory / "kubeconfig")
    return kubernetes.config.new_client_from_config(config_file=str(kubeconfig))


@pytest.fixture(scope="module")
def servers(tmp_path_factory) -> Iterator[Callable[[], tuple[KubeApiServer, Path]]]:
    started: list[KubeApiServer] = []

    def start() -> tuple[KubeApiServer, Path]:
        server = KubeApiServer(namespaces=(*DEFAULT_NAMESPACES, NAMESPACE, "platform", "payments"))
        server.start()
        started.append(server)
        return server, tmp_path_factory.mktemp("kube")

    yield start
    errors = [e for s in started for e in s.server_errors]
    for server in started:
        server.stop()
    assert [] == errors


def _bundle(name: str, namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "werf.io/v1alpha1",
        "kind": "WerfBundle",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


@pytest.fixture(scope="module")
def port_sweep(servers) -> Session:
    """Every ClusterPort method, the Lease calls (through the leader elector) and the
    informers' list and watch, each called once or twice on the real adapter."""
    server, directory = servers()
    client = _client(server, directory)
    api = RecordingApi(client)
    called: set[str] = set()

    def call(method: str, *args: Any) -> Any:
        called.add(method)
        return getattr(api, method)(*args)

    try:
        server.create("configmaps", _config_map("default", "shop-values"))
        server.create("serviceaccounts", _service_account("payments", "werf-deployer"))
        server.create(
            "werfbundles", _bundle("shop", "default", {"registry": {"url": "ghcr.io/acme/shop"}})
        )
        called.add("watch")
        informers = Informers(api).start()
        wait_for(lambda: any(kind == "WerfBundle" for kind, _ in informers.events))
        informers.close(server)
        api.bundles.synced = api.jobs.synced = False  # read through the API from here on

        call("list_bundles")
        raw = call("get_bundle", "default", "shop")
        api.refresh_bundle("default", "shop")
        raw = call("patch_bundle_metadata", "default", "shop", _rv(raw), [FINALIZER])
        raw = call("replace_bundle_status", "default", "shop", _rv(raw), {"phase": "Pending"})
        bundle, problems = decode_bundle(raw)
        assert bundle is not None and bundle.spec is not None, problems
        bundle = attrs.evolve(
            bundle,
            inputs=Inputs(
                values_files=(ValuesFile(name="values-00.yaml", content=Sensitive("a: 1\n")),),
                values_hash="v1",
            ),
        )
        job, secret_name, files = jobspec.render_apply_job(
            bundle,
            bundle.spec,
            tag="1.0.0",
            digest="sha256:" + "c" * 64,
            values_hash="v1",
            attempt=1,
        )
        clock = ManualClock(datetime.now(UTC))
        executor = Executor(api, clock)
        called.update({"create_job", "create_secret", "create_event"})
        executor.execute(  # the Job, then its inputs Secret owned by it; an Event
            Plan(
                actions=(
                    CreateJob(job=job, secret_name=secret_name, secret_files=files),
                    EmitEvent(
                        namespace="default",
                        name="shop",
                        uid=bundle.meta.uid,
                        type="Normal",
                        reason="JobCreated",
                        message="job created",
                    ),
                )
            )
        )
        name = job["metadata"]["name"]
        call("list_jobs", f"{names.LABEL_BUNDLE_UID}={bundle.meta.uid}")
        call("get_job", "default", name)
        call("get_secret", "default", secret_name)
        call("get_config_map", "default", "shop-values")
        logs = _logs_config_map(bundle.meta.uid, f"{name}-logs")
        call("apply_config_map", logs)  # created
        call("apply_config_map", logs)  # exists: read and replaced
        call("list_config_maps", "default", f"{names.LABEL_BUNDLE_UID}={bundle.meta.uid}")
        call("delete_config_map", "default", f"{name}-logs")
        call("get_service_account", "payments", "werf-deployer")
        call("get_namespace", "payments")
        JobController(server, lambda _: ("succeeded", "done\n")).reconcile()
        assert "done\n" == call("read_job_log", "default", name, 100)
        assert 0 == call("read_job_exit_code", "default", name)
        call("delete_job", "default", name)

        elector = LeaderElector(api, NAMESPACE, LEASE, "replica-1", retry_period=0.01)
        stop = threading.Event()
        thread = threading.Thread(target=elector.run, args=(stop,), name="deploy-test-leader")
        thread.start()
        wait_for(lambda: server.requests_matching(verb="update", resource="leases"))
        stop.set()  # the elector releases the Lease on its way out
        thread.join(timeout=WAIT)
        called.update({"get_lease", "create_lease", "replace_lease"})
        return Session(list(server.requests), api.sent, frozenset(called))
    finally:
        client.close()


@pytest.fixture(scope="module")
def secret_watch(servers) -> Session:
    """The informers with ``--watch-labelled-secrets``."""
    server, directory = servers()
    client = _client(server, directory)
    try:
        informers = Informers(RecordingApi(client)).start(watch_secrets=True)
        wait_for(lambda: server.requests_matching(verb="watch", resource="secrets"))
        informers.close(server)
        return Session(list(server.requests), [])
    finally:
        client.close()


@pytest.fixture(scope="module")
def lifecycle(servers) -> Session:
    """The runtime over the real adapter: two bundles (one deploying into another
    namespace as a named ServiceAccount) from creation to deletion."""
    server, directory = servers()
    client = _client(server, directory)
    api = RecordingApi(client)
    clock = ManualClock(datetime.now(UTC))
    registry = ScriptedRegistry(clock)
    registry.push("ghcr.io/acme/shop", "1.0.0")
    registry.push("ghcr.io/acme/billing", "2.3.0")
    controller = bootstrap.build(bootstrap.Options(threaded=True), api, registry, clock).controller

    def drive() -> None:
        controller.run_due()
        clock.advance(timedelta(seconds=1))  # conflicts and backoffs come due

    def bundles() -> list[dict[str, Any]]:
        return server.list("werfbundles")

    def applied() -> dict[str, str | None]:
        return {
            b["metadata"]["name"]: (b.get("status") or {}).get("lastAppliedTag") for b in bundles()
        }

    def statuses() -> dict[str, dict[str, Any]]:  # for the message of a timeout
        shown = ("phase", "conditions", "lastAppliedTag", "activeJobName", "lastErrorMessage")
        return {
            b["metadata"]["name"]: {k: (b.get("status") or {}).get(k) for k in shown}
            for b in bundles()
        }

    def log_maps() -> list[dict[str, Any]]:
        return [
            c
            for c in server.list("configmaps")
            if (c["metadata"].get("labels") or {}).get(names.LABEL_JOB_KIND) == "logs"
        ]

    informers = Informers(api)
    try:
        server.mutate(  # the admin's consent to deploy from platform into payments
            "namespaces",
            None,
            "payments",
            lambda ns: ns["metadata"].update(
                annotations={"werf.io/accept-bundles-from": "platform"}
            ),
        )
        server.create("configmaps", _config_map("default", "shop-values"))
        server.create("secrets", _registry_secret("default", "shop-registry"))
        server.create("serviceaccounts", _service_account("payments", "werf-deployer"))
        informers.start(controller.on_event)
        server.create(
            "werfbundles",
            _bundle(
                "shop",
                "default",
                {
                    "registry": {
                        "url": "ghcr.io/acme/shop",
                        "versionConstraint": ">=1.0.0 <2.0.0",
                        "secretRef": {"name": "shop-registry"},
                    },
                    "converge": {"valuesFrom": [{"configMapRef": {"name": "shop-values"}}]},
                },
            ),
        )
        server.create(
            "werfbundles",
            _bundle(
                "billing",
                "platform",
                {
                    "registry": {"url": "ghcr.io/acme/billing", "versionConstraint": "~2.3"},
                    "converge": {
                        "targetNamespace": "payments",
                        "serviceAccountName": "werf-deployer",
                    },
                },
            ),
        )
        with JobController(server, lambda _: ("succeeded", BIG_LOG), poll_interval=0.05):
            wait_for(
                lambda: {"shop": "1.0.0", "billing": "2.3.0"} == applied() and 2 == len(log_maps()),
                drive,
                lambda: (statuses(), [c["metadata"]["name"] for c in log_maps()]),
            )
        clock.advance(timedelta(days=8))  # past logRetentionDays: the log ConfigMaps expire
        controller.resync()
        wait_for(lambda: not log_maps(), drive)
        for bundle in bundles():
            server.delete(
                "werfbundles", bundle["metadata"]["namespace"], bundle["metadata"]["name"]
            )
        wait_for(lambda: not bundles() and not server.list("jobs"), drive)
        return Session(list(server.requests), api.sent)
    finally:
        informers.close(server)
        client.close()


def _rv(obj: dict[str, Any]) -> str:
    return obj["metadata"]["resourceVersion"]


def _config_map(namespace: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": {"values.yaml": "replicas: 2\n"},
    }


def _registry_secret(namespace: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {"name": name, "namespace": namespace},
        "stringData": {"username": "robot", "password": "s3cret-password"},
    }


def _service_account(namespace: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": name, "namespace": namespace},
    }


def _logs_config_map(uid: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": "default",
            "labels": {names.LABEL_BUNDLE_UID: uid, names.LABEL_JOB_KIND: "logs"},
        },
        "data": {"output": "done\n"},
    }


# --- what was used -----------------------------------------------------------------------------------

KINDS = {  # owner kinds werfop may reference -> (group, plural)
    ("werf.io/v1alpha1", "WerfBundle"): ("werf.io", "werfbundles"),
    ("batch/v1", "Job"): ("batch", "jobs"),
}


def owner_permissions(sent: list[dict[str, Any]]) -> set[Permission]:
    """``update`` on ``<owner>/finalizers`` for every blockOwnerDeletion reference sent."""
    out = set()
    for body in sent:
        for ref in (body.get("metadata") or {}).get("ownerReferences") or []:
            if ref.get("blockOwnerDeletion"):
                group, plural = KINDS[(ref["apiVersion"], ref["kind"])]
                out.add((group, f"{plural}/finalizers", "update"))
    return out


def used(session: Session) -> set[Permission]:
    return {r.permission for r in session.requests if r.permission} | owner_permissions(
        session.sent
    )


# --- the tests ------------------------------------------------------------------------------------------


def test_port_sweep_calls_every_cluster_port_method_and_lease_method(port_sweep):
    port = {n for n in vars(ClusterPort) if not n.startswith("_")}
    assert port | {"get_lease", "create_lease", "replace_lease"} == set(port_sweep.port_methods)


def test_every_request_of_the_adapter_is_authorized_by_the_operator_roles(port_sweep, lifecycle):
    rules = operator_rules()
    denied = [
        f"{r.verb} {r.rbac_resource} ({r.group or 'core'}) in {r.namespace or 'cluster'} "
        f"name={r.name}"
        for r in port_sweep.requests + lifecycle.requests
        if r.permission is not None and not any(rule.allows(r) for rule in rules)
    ]
    assert [] == denied


def test_no_request_leaves_the_resource_api(port_sweep, lifecycle):
    assert [] == [
        f"{r.method} {r.path}"
        for r in port_sweep.requests + lifecycle.requests
        if r.resource is None
    ]


def test_every_permission_the_operator_roles_grant_is_used(port_sweep, lifecycle):
    granted = set().union(*(rule.permissions() for rule in operator_rules()))

    assert sorted(used(port_sweep) | used(lifecycle)) == sorted(granted)


def test_the_runtime_needs_nothing_the_port_sweep_did_not_use(port_sweep, lifecycle):
    """The sweep is what makes the comparison above deterministic (a pass GETs a Job or a
    bundle only when a cache lags); the runtime must stay within it."""
    assert [] == sorted(used(lifecycle) - used(port_sweep))


def test_optional_secret_watch_role_grants_exactly_what_the_secret_informer_adds(
    port_sweep, secret_watch
):
    granted = set().union(*(r.permissions() for r in operator_rules(SECRET_WATCH_FILES)))

    assert sorted(used(secret_watch) - used(port_sweep)) == sorted(granted)


def test_leases_are_touched_only_in_the_operator_namespace_and_only_by_name(port_sweep):
    leases = port_sweep.requests
    touched = {
        (r.namespace, r.name if r.verb != "create" else None)
        for r in leases
        if r.resource == "leases"
    }
    assert {(NAMESPACE, LEASE), (NAMESPACE, None)} == touched


def test_secrets_are_never_listed_watched_or_deleted(port_sweep, lifecycle):
    verbs = {r.verb for r in port_sweep.requests + lifecycle.requests if r.resource == "secrets"}
    assert {"create", "get"} == verbs


def test_every_rule_of_the_operator_roles_carries_a_comment_saying_why():
    uncommented = []
    for path in RBAC_FILES + SECRET_WATCH_FILES:
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines):
            if re.match(r"^\s*- apiGroups:", line) and not lines[number - 1].strip().startswith(
                "#"
            ):
                uncommented.append(f"{path.name}:{number + 1}")
    assert [] == uncommented


def test_no_rule_uses_a_wildcard():
    wildcards = [
        (o["metadata"]["name"], rule)
        for o in rbac_objects()
        if o["kind"] in ("Role", "ClusterRole")
        for rule in o["rules"]
        if "*" in rule["apiGroups"] + rule["resources"] + rule["verbs"]
    ]
    assert [] == wildcards


def test_roles_for_people_are_bound_to_nobody_by_default():
    bound = {
        o["roleRef"]["name"]
        for o in rbac_objects()
        if o["kind"] in ("RoleBinding", "ClusterRoleBinding")
    }
    assert {"werfop-manager", "werfop-leader-election"} == bound
