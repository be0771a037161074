"""The day-2 CLI (``werfop get``, ``status``, ``reconcile``, ``redeploy``, ``retry``,
``rollback``, ``suspend``, ``resume``, ``version``) as a user runs it: a subprocess with
a real kubeconfig file against the real control plane, ``werfop run`` deploying with
the real Job controller, pods ended by the pod completer's rules.

The kubeconfig's current context points at nothing (127.0.0.1:9); every command is
given ``--context werfop-test``, whose namespace is the test's own: so a passing test
shows that ``--context`` and the context's namespace are honoured (one test runs
without ``--context`` and must fail to connect).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.operator import bundle, status_of, werf_jobs

from .conftest import failed, follow, job_condition, synced_on, token_for, wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(300)]

CONTEXT = "werfop-test"  # the context support.controlplane.kubeconfig_text names


@pytest.fixture
def kubeconfig(plane, namespace, tmp_path) -> Path:  # type: ignore[no-untyped-def]
    """The admin's kubeconfig for the plane (context ``werfop-test``, namespace: the
    test's), plus a current context ``nowhere`` that no server answers."""
    config = yaml.safe_load(plane.kubeconfig_for(plane.admin_token, namespace))
    config["clusters"].append({"name": "nowhere", "cluster": {"server": "https://127.0.0.1:9"}})
    config["contexts"].append(
        {"name": "nowhere", "context": {"cluster": "nowhere", "user": "user"}}
    )
    config["current-context"] = "nowhere"
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def werfop(kubeconfig):  # type: ignore[no-untyped-def]
    """Run ``werfop ARGS --kubeconfig FILE --context werfop-test``; (exit code, stdout,
    stderr)."""

    def run(*args: str, context: bool = True) -> tuple[int, str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG",)}
        chosen = ["--context", CONTEXT] if context else []
        done = subprocess.run(
            [sys.executable, "-m", "werfop.main", *args, "--kubeconfig", str(kubeconfig), *chosen],
            capture_output=True,
            text=True,
            timeout=240,
            env=env,
            stdin=subprocess.DEVNULL,
        )
        return done.returncode, done.stdout, done.stderr

    return run


@pytest.fixture
def other_namespace(admin):  # type: ignore[no-untyped-def]
    name = f"t-cli-other-{uuid.uuid4().hex[:5]}"
    admin.create(
        "namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    )
    yield name
    admin.delete("namespaces", None, name)


def rows(table: str) -> list[list[str]]:
    return [line.split() for line in table.splitlines()]


def annotations(admin, name: str, namespace: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return dict(admin.get("werfbundles", namespace, name)["metadata"].get("annotations") or {})


def synced_shop(admin, operators, source, repo_name, namespace, **spec: Any) -> str:  # type: ignore[no-untyped-def]
    url = follow(admin, source, repo_name, namespace, **spec)
    operators().wait_ready(timeout=60)
    wait_for(synced_on(admin, "shop", namespace, "1.0.0"), 90, "Synced on 1.0.0")
    return url


def test_get_lists_the_contexts_namespace_another_with_n_and_every_one_with_a(
    admin, operators, plain_registry, repo_name, namespace, other_namespace, werfop
):
    url = synced_shop(admin, operators, plain_registry, repo_name, namespace)
    admin.create("werfbundles", bundle("elsewhere", url, other_namespace))

    code, here, _ = werfop("get")
    _, there, _ = werfop("get", "-n", other_namespace)
    _, everywhere, _ = werfop("get", "-A")
    _, one, _ = werfop("get", "shop")

    assert 0 == code
    assert ["NAME", "PHASE", "DESIRED", "APPLIED", "READY", "MESSAGE", "AGE"] == rows(here)[0]
    [shop] = rows(here)[1:]
    assert ["shop", "Synced", "1.0.0", "1.0.0", "True", "applied", "tag", "1.0.0"] == shop[:8]
    assert ["elsewhere"] == [r[0] for r in rows(there)[1:]]
    assert ["NAMESPACE", "NAME", "PHASE"] == rows(everywhere)[0][:3]
    listed = {(r[0], r[1]) for r in rows(everywhere)[1:]}
    assert {(namespace, "shop"), (other_namespace, "elsewhere")} <= listed
    assert rows(here)[1][:5] == rows(one)[1][:5]


def test_without_context_the_current_one_is_used_and_its_failure_is_one_line(werfop):
    code, out, err = werfop("get", context=False)

    assert (1, "") == (code, out)
    assert 1 == len(err.splitlines())
    assert "the API server is unreachable" in err


def test_a_missing_bundle_is_named_and_exits_1(deployed, namespace, werfop):
    results = [
        werfop(*command)
        for command in (
            ["get", "nosuch"],
            ["status", "nosuch"],
            ["reconcile", "nosuch", "--wait"],
            ["suspend", "nosuch"],
        )
    ]

    assert [(1, "", f"werfbundle {namespace}/nosuch not found\n")] * 4 == results


def test_status_explains_the_selection_the_last_job_events_and_history(
    admin, operators, plain_registry, repo_name, namespace, werfop
):
    plain_registry.pusher.push_chart(repo_name, "2.0.0")
    synced_shop(
        admin, operators, plain_registry, repo_name, namespace, registry={"versionConstraint": "^1"}
    )
    wait_for(lambda: len(events_of(admin, namespace)) >= 2, 30, "JobCreated and JobSucceeded")
    [job] = werf_jobs(admin, namespace)

    code, out, _ = werfop("status", "shop")
    alias = werfop("explain", "shop")

    lines = out.splitlines()
    assert 0 == code
    assert f"Name:         {namespace}/shop" == lines[0]
    assert "Phase:        Synced" == lines[1]
    assert lines[2].startswith("Ready:        True (Succeeded) applied tag 1.0.0 (sha256:")
    assert "Selection:    1.0.0 chosen from 2 tag(s)" in lines
    assert "              rejected 2.0.0: outside constraint" in lines
    assert "Active Job:   none" in lines
    last_job = next(line for line in lines if line.startswith("Last Job:"))
    assert f"Last Job:     {job['metadata']['name']} Succeeded (tag 1.0.0, attempt 1," in last_job
    events = lines[lines.index("Events (oldest first):") + 2 :]
    assert {"JobCreated", "JobSucceeded"} <= {e.split()[2] for e in events if len(e.split()) > 2}
    history = lines[lines.index("History (newest first):") + 2 :]
    assert [["1.0.0", "Succeeded", "1"]] == [h.split()[:3] for h in history]
    assert (0, lines[:3]) == (alias[0], alias[1].splitlines()[:3])


def events_of(admin, namespace: str) -> list[dict]:  # type: ignore[no-untyped-def]
    return [
        e for e in admin.list("events", namespace) if e["involvedObject"]["kind"] == "WerfBundle"
    ]


def test_reconcile_wait_returns_once_the_poll_is_recorded_and_its_deploy_finished(
    admin, operators, plain_registry, repo_name, namespace, werfop
):
    synced_shop(admin, operators, plain_registry, repo_name, namespace)
    plain_registry.pusher.push_chart(repo_name, "1.1.0")

    code, out, err = werfop("reconcile", "shop", "--wait", "--timeout", "2m")

    value = annotations(admin, "shop", namespace)["werf.io/reconcile-at"]
    status = status_of(admin, "shop", namespace)
    assert (0, "") == (code, err)
    assert f"werfbundle {namespace}/shop annotated: werf.io/reconcile-at={value}" in out
    assert value == status["lastHandledReconcileAt"]
    assert ("Synced", "1.1.0") == (status["phase"], status["lastAppliedTag"])
    assert out.splitlines()[-1].startswith(f"werfbundle {namespace}/shop Synced: applied tag 1.1.0")


def test_redeploy_wait_runs_the_same_version_again_to_the_end(
    admin, operators, plain_registry, repo_name, namespace, pod_rules, werfop
):
    # Pods take 3 s: a wait that returned while the Job ran would find it unfinished.
    pod_rules([{"match": {"namespace": namespace}, "after": "3s"}])
    synced_shop(admin, operators, plain_registry, repo_name, namespace)

    code, out, _ = werfop("redeploy", "shop", "--wait", "--timeout", "2m")

    status = status_of(admin, "shop", namespace)
    jobs = werf_jobs(admin, namespace)
    assert 0 == code, out
    assert (
        annotations(admin, "shop", namespace)["werf.io/redeploy-at"]
        == status["lastHandledRedeployAt"]
    )
    assert ["Complete", "Complete"] == [job_condition(j) for j in jobs]
    assert ["1.0.0", "1.0.0"] == [e["tag"] for e in status["versionHistory"]]


def test_retry_wait_runs_a_fresh_attempt_and_exits_1_when_it_ends_failed(
    admin, operators, plain_registry, repo_name, namespace, pod_rules, werfop
):
    # Pods fail after 3 s: a wait that returned before the fresh attempt ended would
    # find its Job missing or running.
    pod_rules([{"match": {"namespace": namespace}, "exitCode": 1, "after": "3s"}])
    follow(admin, plain_registry, repo_name, namespace, converge={"maxAttempts": 1})
    operators().wait_ready(timeout=60)
    failed(admin, "shop", namespace, 90)

    code, out, err = werfop("retry", "shop", "--wait", "--timeout", "2m")

    status = status_of(admin, "shop", namespace)
    assert 1 == code
    assert annotations(admin, "shop", namespace)["werf.io/retry"] == status["lastHandledRetry"]
    assert ["Failed", "Failed"] == [job_condition(j) for j in werf_jobs(admin, namespace)]
    assert f"werfbundle {namespace}/shop Failed: tag 1.0.0 failed 1 times" in err
    assert "waiting for status.lastHandledRetry=" in out


def test_rollback_refuses_an_unknown_version_holds_a_known_one_and_clear_resumes(
    admin, operators, plain_registry, repo_name, namespace, werfop
):
    synced_shop(admin, operators, plain_registry, repo_name, namespace)
    plain_registry.pusher.push_chart(repo_name, "1.1.0")
    assert 0 == werfop("reconcile", "shop", "--wait", "--timeout", "2m")[0]

    refused = werfop("rollback", "shop", "--to", "0.9.0", "--wait")
    assert "werf.io/rollback-to-version" not in annotations(admin, "shop", namespace)
    held = werfop("rollback", "shop", "--to", "1.0.0", "--wait", "--timeout", "2m")
    after_hold = status_of(admin, "shop", namespace)
    cleared = werfop("rollback", "shop", "--clear", "--wait", "--timeout", "2m")
    after_clear = status_of(admin, "shop", namespace)

    assert 2 == refused[0]
    assert (
        f"werfop rollback: werfbundle {namespace}/shop: version '0.9.0' is not in "
        "status.versionHistory (it holds: 1.1.0, 1.0.0)"
    ) in refused[2]
    assert 0 == held[0], held
    assert ("Synced", "1.0.0", "1.0.0") == (
        after_hold["phase"],
        after_hold["desiredTag"],
        after_hold["lastAppliedTag"],
    )
    assert 0 == cleared[0], cleared
    assert "werf.io/rollback-to-version" not in annotations(admin, "shop", namespace)
    assert ("Synced", "1.1.0") == (after_clear["phase"], after_clear["lastAppliedTag"])


def test_a_forced_rollback_to_an_unknown_version_waits_for_the_refusal_and_exits_1(
    admin, operators, plain_registry, repo_name, namespace, werfop
):
    synced_shop(admin, operators, plain_registry, repo_name, namespace)

    code, out, err = werfop("rollback", "shop", "--to", "0.9.0", "--force", "--wait")

    ready = next(
        c for c in status_of(admin, "shop", namespace)["conditions"] if c["type"] == "Ready"
    )
    assert 1 == code
    assert "(not in status.versionHistory: forced)" in out
    assert "RollbackUnavailable" == ready["reason"]
    assert f"werfbundle {namespace}/shop Failed: annotation werf.io/rollback-to-version" in err


def test_suspend_and_resume_wait_for_the_new_generation_and_levers_refuse_meanwhile(
    admin, operators, plain_registry, repo_name, namespace, werfop
):
    synced_shop(admin, operators, plain_registry, repo_name, namespace)

    suspended = werfop("suspend", "shop", "--wait", "--timeout", "1m")
    phase_suspended = status_of(admin, "shop", namespace)["phase"]
    again = werfop("suspend", "shop")
    refused = werfop("reconcile", "shop")
    resumed = werfop("resume", "shop", "--wait", "--timeout", "1m")
    after = admin.get("werfbundles", namespace, "shop")
    not_suspended = werfop("resume", "shop")

    assert 0 == suspended[0], suspended
    assert f"werfbundle {namespace}/shop suspended (spec.suspend: false -> true)" in suspended[1]
    assert "Suspended" == phase_suspended
    assert (0, f"werfbundle {namespace}/shop is already suspended (spec.suspend: true)\n") == (
        again[0],
        again[1],
    )
    assert 1 == refused[0]
    assert f"werfbundle {namespace}/shop is suspended (spec.suspend)" in refused[2]
    assert "werf.io/reconcile-at" not in annotations(admin, "shop", namespace)
    assert 0 == resumed[0], resumed
    assert (False, "Synced") == (after["spec"]["suspend"], after["status"]["phase"])
    assert after["metadata"]["generation"] == after["status"]["observedGeneration"]
    assert (0, f"werfbundle {namespace}/shop is not suspended (spec.suspend: false)\n") == (
        not_suspended[0],
        not_suspended[1],
    )


def test_version_shows_the_client_the_server_and_the_served_crd(deployed, plane, werfop):
    code, out, _ = werfop("version")

    assert 0 == code
    assert [
        "client: werfop 0.1.0",
        f"server: Kubernetes {plane.version}; werfbundles.werf.io v1alpha1* (* storage)",
    ] == out.splitlines()


def test_kubectl_runs_it_as_the_werfop_plugin(deployed, plane, kubeconfig, namespace):
    bin_dir = Path(sys.executable).parent  # where the kubectl-werfop console script is
    assert (bin_dir / "kubectl-werfop").exists()
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    env.pop("KUBECONFIG", None)

    done = subprocess.run(
        [
            "kubectl",
            "werfop",
            "get",
            "nosuch",
            "--kubeconfig",
            str(kubeconfig),
            "--context",
            CONTEXT,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )

    assert (1, f"werfbundle {namespace}/nosuch not found\n") == (done.returncode, done.stderr)


def test_reconcile_wait_exits_1_when_the_requested_poll_fails(admin, operators, namespace, werfop):
    # Nothing listens on port 1: every poll fails, too few in a row to make it Failed.
    admin.create("werfbundles", bundle("shop", "127.0.0.1:1/acme/shop", namespace))
    operators().wait_ready(timeout=60)
    wait_for(
        lambda: status_of(admin, "shop", namespace).get("consecutiveFailures"), 60, "a failed poll"
    )

    code, out, err = werfop("reconcile", "shop", "--wait", "--timeout", "1m")

    status = status_of(admin, "shop", namespace)
    assert 1 == code, out
    assert (
        annotations(admin, "shop", namespace)["werf.io/reconcile-at"]
        == status["lastHandledReconcileAt"]
    )
    assert err.startswith(f"werfbundle {namespace}/shop: the requested poll failed: ")
    assert status["lastErrorMessage"] in err


def account_with(admin, namespace: str, name: str, cluster_role: str) -> None:  # type: ignore[no-untyped-def]
    """A ServiceAccount bound, in ``namespace`` only, to ``cluster_role``."""
    admin.create(
        "serviceaccounts",
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": namespace},
        },
    )
    admin.http.post(
        f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/rolebindings",
        json={
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": name, "namespace": namespace},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": cluster_role,
            },
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
        },
    ).raise_for_status()


def test_a_viewer_reads_and_is_refused_a_lever_in_one_line_an_editor_pulls_it(
    admin, core, deployed, plane, plain_registry, repo_name, namespace, tmp_path
):
    admin.create("werfbundles", bundle("shop", f"{plain_registry.host}/{repo_name}", namespace))
    account_with(admin, namespace, "reader", "view")  # aggregates werfop-werfbundle-viewer
    account_with(admin, namespace, "author", "werfop-werfbundle-editor")

    def as_account(account: str, *args: str) -> tuple[int, str, str]:
        path = tmp_path / f"{account}.kubeconfig"
        path.write_text(plane.kubeconfig_for(token_for(core, namespace, account), namespace))
        done = subprocess.run(
            [sys.executable, "-m", "werfop.main", *args, "--kubeconfig", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        return done.returncode, done.stdout, done.stderr

    status = as_account("reader", "status", "shop")
    refused = as_account("reader", "reconcile", "shop")
    pulled = as_account("author", "reconcile", "shop")

    assert (0, "") == (status[0], status[2])
    assert 1 == refused[0]
    assert 1 == len(refused[2].splitlines())
    assert "HTTP 403 Forbidden" in refused[2]
    assert 'cannot patch resource "werfbundles"' in refused[2]
    assert 0 == pulled[0], pulled
    assert "werf.io/reconcile-at" in annotations(admin, "shop", namespace)
