"""The restricted-profile checker catches each rule's violation, so its silence on our pod
templates (test_manifests.py) means the templates comply."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from .podsecurity import restricted_violations

COMPLIANT: dict[str, Any] = {
    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
    "containers": [
        {
            "name": "app",
            "image": "app",
            "securityContext": {
                "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"]},
            },
        }
    ],
    "volumes": [{"name": "tmp", "emptyDir": {}}],
}


def test_a_compliant_pod_has_no_violations():
    assert [] == restricted_violations(COMPLIANT)


def _pod(change) -> dict[str, Any]:
    spec = copy.deepcopy(COMPLIANT)
    change(spec)
    return spec


def _container(spec: dict[str, Any]) -> dict[str, Any]:
    return spec["containers"][0]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param(
            _pod(lambda s: s.update(hostNetwork=True)),
            ["host namespaces (hostNetwork=true)"],
            id="host-network",
        ),
        pytest.param(
            _pod(lambda s: s["volumes"].append({"name": "root", "hostPath": {"path": "/"}})),
            ["hostPath volumes (root)", "restricted volume types (root: ['hostPath'])"],
            id="host-path",
        ),
        pytest.param(
            _pod(lambda s: _container(s)["securityContext"].update(privileged=True)),
            ["privileged (app)"],
            id="privileged",
        ),
        pytest.param(
            _pod(lambda s: _container(s).update(ports=[{"containerPort": 80, "hostPort": 80}])),
            ["hostPort (app: 80)"],
            id="host-port",
        ),
        pytest.param(
            _pod(lambda s: _container(s)["securityContext"].pop("allowPrivilegeEscalation")),
            ["allowPrivilegeEscalation != false (app)"],
            id="privilege-escalation-unset",
        ),
        pytest.param(
            _pod(lambda s: s["securityContext"].pop("runAsNonRoot")),
            ["runAsNonRoot != true (app)"],
            id="may-run-as-root",
        ),
        pytest.param(
            _pod(lambda s: s["securityContext"].update(runAsUser=0)),
            ["runAsUser=0 (pod)"],
            id="uid-0",
        ),
        pytest.param(
            _pod(lambda s: s["securityContext"].pop("seccompProfile")),
            ["seccompProfile (app must set RuntimeDefault or Localhost)"],
            id="no-seccomp-profile",
        ),
        pytest.param(
            _pod(lambda s: s["securityContext"].update(seccompProfile={"type": "Unconfined"})),
            [
                "seccompProfile Unconfined (pod)",
                "seccompProfile (app must set RuntimeDefault or Localhost)",
            ],
            id="unconfined-seccomp",
        ),
        pytest.param(
            _pod(lambda s: _container(s)["securityContext"].pop("capabilities")),
            ['unrestricted capabilities (app must drop "ALL")'],
            id="capabilities-kept",
        ),
        pytest.param(
            _pod(
                lambda s: _container(s)["securityContext"]["capabilities"].update(add=["NET_RAW"])
            ),
            [
                "non-default capabilities (app: ['NET_RAW'])",
                "unrestricted capabilities (app adds more than NET_BIND_SERVICE)",
            ],
            id="capability-added",
        ),
        pytest.param(
            _pod(lambda s: s["securityContext"].update(sysctls=[{"name": "kernel.msgmax"}])),
            ["forbidden sysctls (kernel.msgmax)"],
            id="unsafe-sysctl",
        ),
        pytest.param(
            _pod(lambda s: s.update(initContainers=[{"name": "init", "image": "init"}])),
            [
                "allowPrivilegeEscalation != false (init)",
                'unrestricted capabilities (init must drop "ALL")',
            ],
            id="init-container-not-hardened",
        ),
    ],
)
def test_restricted_checker_reports(spec, expected):
    assert expected == restricted_violations(spec)
