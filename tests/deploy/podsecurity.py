"""The Kubernetes Pod Security Standards, *restricted* profile (which includes *baseline*),
as a checker of pod specs: what ``pod-security.kubernetes.io/enforce: restricted`` admits.

Role: list every rule of https://kubernetes.io/docs/concepts/security/pod-security-standards/
(policy version "latest", Kubernetes 1.30+) that a pod spec breaks, in the words of the
admission plugin's messages. ``test_podsecurity.py`` shows that each rule catches its
violation, so a clean result means something.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Obj = dict[str, Any]

BASELINE_CAPABILITIES = {
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
}
RESTRICTED_VOLUME_TYPES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}


def containers(spec: Obj) -> Iterator[Obj]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        yield from spec.get(key) or []


def restricted_violations(spec: Obj) -> list[str]:
    """Every restricted-profile rule the pod spec breaks (empty: admitted)."""
    return baseline_violations(spec) + _restricted_only(spec)


def baseline_violations(spec: Obj) -> list[str]:
    out = []
    pod_sc = spec.get("securityContext") or {}
    for host in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(host):
            out.append(f"host namespaces ({host}=true)")
    if (pod_sc.get("windowsOptions") or {}).get("hostProcess"):
        out.append("hostProcess (pod)")
    for volume in spec.get("volumes") or []:
        if "hostPath" in volume:
            out.append(f"hostPath volumes ({volume['name']})")
    for sysctl in pod_sc.get("sysctls") or []:
        if sysctl.get("name") not in SAFE_SYSCTLS:
            out.append(f"forbidden sysctls ({sysctl.get('name')})")
    out += _selinux(pod_sc, "pod")
    out += _seccomp_not_unconfined(pod_sc, "pod")
    out += _apparmor(pod_sc, "pod")
    for container in containers(spec):
        name = container.get("name", "?")
        sc = container.get("securityContext") or {}
        if sc.get("privileged"):
            out.append(f"privileged ({name})")
        if (sc.get("windowsOptions") or {}).get("hostProcess"):
            out.append(f"hostProcess ({name})")
        added = set((sc.get("capabilities") or {}).get("add") or [])
        if added - BASELINE_CAPABILITIES:
            out.append(
                f"non-default capabilities ({name}: {sorted(added - BASELINE_CAPABILITIES)})"
            )
        for port in container.get("ports") or []:
            if port.get("hostPort"):
                out.append(f"hostPort ({name}: {port['hostPort']})")
        if sc.get("procMount", "Default") != "Default":
            out.append(f"procMount ({name})")
        out += _selinux(sc, name)
        out += _seccomp_not_unconfined(sc, name)
        out += _apparmor(sc, name)
    return out


def _selinux(sc: Obj, where: str) -> list[str]:
    options = sc.get("seLinuxOptions") or {}
    out = []
    if options.get("type", "") not in SELINUX_TYPES:
        out.append(f"seLinuxOptions type ({where})")
    if options.get("user") or options.get("role"):
        out.append(f"seLinuxOptions user or role ({where})")
    return out


def _seccomp_not_unconfined(sc: Obj, where: str) -> list[str]:
    if (sc.get("seccompProfile") or {}).get("type") == "Unconfined":
        return [f"seccompProfile Unconfined ({where})"]
    return []


def _apparmor(sc: Obj, where: str) -> list[str]:
    if (sc.get("appArmorProfile") or {}).get("type") == "Unconfined":
        return [f"appArmorProfile Unconfined ({where})"]
    return []


def _restricted_only(spec: Obj) -> list[str]:
    out = []
    pod_sc = spec.get("securityContext") or {}
    for volume in spec.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUME_TYPES:
            out.append(f"restricted volume types ({volume['name']}: {sorted(kinds)})")
    if pod_sc.get("runAsUser") == 0:
        out.append("runAsUser=0 (pod)")
    pod_seccomp = (pod_sc.get("seccompProfile") or {}).get("type")
    for container in containers(spec):
        name = container.get("name", "?")
        sc = container.get("securityContext") or {}
        if sc.get("allowPrivilegeEscalation") is not False:
            out.append(f"allowPrivilegeEscalation != false ({name})")
        if not sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")):
            out.append(f"runAsNonRoot != true ({name})")
        if sc.get("runAsUser") == 0:
            out.append(f"runAsUser=0 ({name})")
        seccomp = (sc.get("seccompProfile") or {}).get("type", pod_seccomp)
        if seccomp not in ("RuntimeDefault", "Localhost"):
            out.append(f"seccompProfile ({name} must set RuntimeDefault or Localhost)")
        capabilities = sc.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            out.append(f'unrestricted capabilities ({name} must drop "ALL")')
        if set(capabilities.get("add") or []) - {"NET_BIND_SERVICE"}:
            out.append(f"unrestricted capabilities ({name} adds more than NET_BIND_SERVICE)")
    return out
