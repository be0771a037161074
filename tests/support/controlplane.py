"""A real Kubernetes control plane as local processes: etcd, kube-apiserver and
kube-controller-manager built from their Go modules (scripts/build-controlplane.sh), plus
the pod completer (``support.podcompleter``) that stands in for a kubelet.

Role: make the PKI (a CA made at start, a serving certificate for 127.0.0.1, the
service-account signing key, static tokens for the admin in ``system:masters`` and the
controller manager), start the four processes on free 127.0.0.1 ports, each in its own
process group, wait until each is ready, write ``kubeconfig`` into the state folder, and
stop them again (by process group, then remove the state). ``make cluster-up`` /
``make cluster-down`` and the pytest session fixture of ``tests/cluster`` use this module.
Must not: listen anywhere but 127.0.0.1, leave a process behind after ``stop``, or fall
back to an emulation when a binary is missing (it raises, naming the build command).
Neighbours: ``support.podcompleter`` (pods finish), ``support.registry.process`` (the
registry, started the same way).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import attrs
import httpx
import trustme
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from support import children

ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = ROOT / "scripts" / "build-controlplane.sh"
STATE = "state.json"
BUILD_HINT = "run `make controlplane` (scripts/build-controlplane.sh) to build it"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def binaries_dir() -> Path:
    """The folder with etcd, kube-apiserver and kube-controller-manager: the build
    script's cache (it builds when the cache is cold, and prints the folder)."""
    made = subprocess.run(
        [str(BUILD_SCRIPT)], stdout=subprocess.PIPE, stderr=None, text=True, check=False
    )
    if made.returncode != 0:
        raise RuntimeError(f"building the control plane failed ({made.returncode}); {BUILD_HINT}")
    return Path(made.stdout.strip().splitlines()[-1])


@attrs.frozen(kw_only=True)
class ControlPlane:
    """A started control plane: where its state is and how to reach it."""

    folder: Path
    server: str  # https://127.0.0.1:port
    admin_token: str
    ca_pem: str
    version: str

    @property
    def kubeconfig(self) -> Path:
        return self.folder / "kubeconfig"

    @property
    def pod_rules(self) -> Path:
        return self.folder / "pods.yaml"

    def kubeconfig_for(self, token: str, namespace: str = "default") -> str:
        """A kubeconfig (YAML text) for ``token`` against this API server."""
        return kubeconfig_text(self.server, self.ca_pem, token, namespace)


def kubeconfig_text(server: str, ca_pem: str, token: str, namespace: str = "default") -> str:
    import base64

    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "werfop-test",
                    "cluster": {
                        "server": server,
                        "certificate-authority-data": base64.b64encode(ca_pem.encode()).decode(),
                    },
                }
            ],
            "users": [{"name": "user", "user": {"token": token}}],
            "contexts": [
                {
                    "name": "werfop-test",
                    "context": {"cluster": "werfop-test", "user": "user", "namespace": namespace},
                }
            ],
            "current-context": "werfop-test",
        }
    )


def start(
    folder: Path,
    *,
    binaries: Path | None = None,
    completer: bool = True,
    die_with_parent: bool = False,
) -> ControlPlane:
    """Start etcd, kube-apiserver, kube-controller-manager (and the pod completer) with
    their state in ``folder``; with ``die_with_parent`` (pytest) each dies with the
    calling process even when it is killed (``make cluster-up``'s outlive it). Raises with the failing process's log tail; whatever was
    started is stopped again first."""
    binaries = binaries or binaries_dir()
    for name in ("etcd", "kube-apiserver", "kube-controller-manager"):
        if not (binaries / name).is_file():
            raise RuntimeError(f"{binaries / name} is missing; {BUILD_HINT}")
    folder.mkdir(parents=True, exist_ok=True)
    pki = folder / "pki"
    pki.mkdir(exist_ok=True)
    ca = trustme.CA()
    serving = ca.issue_cert("127.0.0.1", "localhost")
    serving.cert_chain_pems[0].write_to_path(str(pki / "serving.crt"))
    serving.private_key_pem.write_to_path(str(pki / "serving.key"))
    ca.cert_pem.write_to_path(str(pki / "ca.crt"))
    ca_pem = ca.cert_pem.bytes().decode()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (pki / "sa.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    (pki / "sa.pub").write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    admin_token, kcm_token = secrets.token_hex(16), secrets.token_hex(16)
    (pki / "tokens.csv").write_text(
        f'{admin_token},werfop-admin,werfop-admin,"system:masters"\n'
        f"{kcm_token},system:kube-controller-manager,system:kube-controller-manager\n"
    )
    (pki).chmod(0o700)
    etcd_port, peer_port, api_port, kcm_port = (free_port() for _ in range(4))
    server = f"https://127.0.0.1:{api_port}"
    (folder / "kubeconfig").write_text(kubeconfig_text(server, ca_pem, admin_token))
    (pki / "kcm.kubeconfig").write_text(kubeconfig_text(server, ca_pem, kcm_token))
    if not (folder / "pods.yaml").exists():
        (folder / "pods.yaml").write_text(DEFAULT_RULES)
    state: dict[str, object] = {
        "server": server,
        "etcd": f"http://127.0.0.1:{etcd_port}",  # the client URL: compact() talks to it
        "processes": {},
        "die_with_parent": die_with_parent,  # restart() starts them the same way
    }
    try:
        _spawn(
            folder,
            state,
            "etcd",
            [
                str(binaries / "etcd"),
                f"--data-dir={folder / 'etcd'}",
                f"--listen-client-urls=http://127.0.0.1:{etcd_port}",
                f"--advertise-client-urls=http://127.0.0.1:{etcd_port}",
                f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-cluster=default=http://127.0.0.1:{peer_port}",
                "--unsafe-no-fsync=true",
                "--log-level=warn",
            ],
        )
        _wait(folder, "etcd", lambda: _http_ok(f"http://127.0.0.1:{etcd_port}/health"), 30)
        _spawn(
            folder,
            state,
            "kube-apiserver",
            [
                str(binaries / "kube-apiserver"),
                f"--etcd-servers=http://127.0.0.1:{etcd_port}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={api_port}",
                f"--cert-dir={pki}",
                f"--tls-cert-file={pki / 'serving.crt'}",
                f"--tls-private-key-file={pki / 'serving.key'}",
                f"--client-ca-file={pki / 'ca.crt'}",
                f"--token-auth-file={pki / 'tokens.csv'}",
                "--authorization-mode=RBAC",
                f"--service-account-issuer={server}",
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                "--service-cluster-ip-range=10.0.0.0/24",
                "--allow-privileged=true",
                "--endpoint-reconciler-type=none",
                "--enable-priority-and-fairness=false",
                "--v=0",
            ],
        )
        _wait(
            folder,
            "kube-apiserver",
            lambda: _http_ok(f"{server}/readyz", token=admin_token, ca=pki / "ca.crt"),
            120,
        )
        _spawn(
            folder,
            state,
            "kube-controller-manager",
            [
                str(binaries / "kube-controller-manager"),
                f"--kubeconfig={pki / 'kcm.kubeconfig'}",
                f"--authentication-kubeconfig={pki / 'kcm.kubeconfig'}",
                f"--authorization-kubeconfig={pki / 'kcm.kubeconfig'}",
                "--use-service-account-credentials=true",
                f"--service-account-private-key-file={pki / 'sa.key'}",
                f"--root-ca-file={pki / 'ca.crt'}",
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                f"--secure-port={kcm_port}",
                "--controllers=*",
                "--v=0",
            ],
        )
        _wait(
            folder,
            "kube-controller-manager",
            lambda: _http_ok(f"https://127.0.0.1:{kcm_port}/healthz", ca=None),
            60,
        )
        version = json.loads(_get(f"{server}/version", token=admin_token, ca=pki / "ca.crt"))[
            "gitVersion"
        ]
        plane = ControlPlane(
            folder=folder, server=server, admin_token=admin_token, ca_pem=ca_pem, version=version
        )
        state["version"] = version
        (folder / STATE).write_text(json.dumps(state))
        _wait(folder, "kube-controller-manager", lambda: _has_default_account(plane), 60)
        if completer:
            _spawn(
                folder,
                state,
                "pod-completer",
                [
                    sys.executable,
                    "-m",
                    "support.podcompleter",
                    f"--kubeconfig={plane.kubeconfig}",
                    f"--rules={plane.pod_rules}",
                ],
                env={"PYTHONPATH": str(ROOT / "tests")},
            )
            _wait(folder, "pod-completer", lambda: (folder / "pod-completer.ready").exists(), 60)
        return plane
    except BaseException:
        stop(folder, remove=False)
        raise


def attach(folder: Path) -> ControlPlane:
    """The control plane ``make cluster-up`` started in ``folder``."""
    state_file = folder / STATE
    if not state_file.exists():
        raise RuntimeError(f"no control plane in {folder}: run make cluster-up")
    state = json.loads(state_file.read_text())
    tokens = (folder / "pki" / "tokens.csv").read_text().splitlines()
    return ControlPlane(
        folder=folder,
        server=state["server"],
        admin_token=tokens[0].split(",")[0],
        ca_pem=(folder / "pki" / "ca.crt").read_text(),
        version=state.get("version", ""),
    )


def _has_default_account(plane: ControlPlane) -> bool:
    """The serviceaccount controller is working: ``default`` exists in ``default``."""
    try:
        _get(
            f"{plane.server}/api/v1/namespaces/default/serviceaccounts/default",
            token=plane.admin_token,
            ca=plane.folder / "pki" / "ca.crt",
        )
        return True
    except httpx.HTTPError:
        return False


def _spawn(
    folder: Path,
    state: dict[str, object],
    name: str,
    argv: list[str],
    env: dict[str, str] | None = None,
) -> None:
    with (folder / f"{name}.log").open("ab") as log:
        process = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=folder,
            start_new_session=True,  # its own process group: stop() kills the group
            env={**os.environ, **(env or {})},
            # SIGKILL: all of them get it at once, and kube-apiserver hangs on SIGTERM once
            # etcd is gone (stop() avoids that by stopping them one at a time).
            preexec_fn=_killed_with_parent if state.get("die_with_parent") else None,
        )
    processes = state["processes"]
    assert isinstance(processes, dict)
    processes[name] = process.pid
    # How it was started, so restart() can start it again exactly so (same port).
    commands = state.setdefault("commands", {})
    assert isinstance(commands, dict)
    commands[name] = {"argv": argv, "env": env or {}}
    (folder / STATE).write_text(json.dumps(state))


def _killed_with_parent() -> None:
    children.die_with_parent(signal.SIGKILL)


def _get(url: str, *, token: str | None = None, ca: Path | None) -> str:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=str(ca)) if ca else False
    response = httpx.get(url, headers=headers, verify=verify, timeout=2, trust_env=False)
    response.raise_for_status()
    return response.text


def _http_ok(url: str, *, token: str | None = None, ca: Path | None = None) -> bool:
    try:
        _get(url, token=token, ca=ca)
        return True
    except httpx.HTTPError:
        return False


def _wait(folder: Path, name: str, ready, seconds: float) -> None:  # type: ignore[no-untyped-def]
    state = json.loads((folder / STATE).read_text())
    pid = state["processes"][name]
    deadline = time.monotonic() + seconds
    while not ready():
        if not _alive(pid):
            raise RuntimeError(f"{name} exited during start-up:\n{log_tail(folder, name)}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} was not ready in {seconds} s:\n{log_tail(folder, name)}")
        time.sleep(0.2)


def _alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass  # not our child (make cluster-up's processes outlive their starter)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def log_tail(folder: Path, name: str, lines: int = 30) -> str:
    path = folder / f"{name}.log"
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def stop(folder: Path, *, remove: bool = True) -> list[str]:
    """Stop every process ``start`` recorded in ``folder`` (SIGTERM to its process group,
    SIGKILL after 10 s), one by one in reverse start order; remove the folder when ``remove``.
    Returns the names stopped. Idempotent: a missing folder stops nothing."""
    state_file = folder / STATE
    stopped: list[str] = []
    if state_file.exists():
        processes: dict[str, int] = json.loads(state_file.read_text())["processes"]
        # One at a time, the last started first: the API server shuts down cleanly only
        # while etcd still answers.
        for name, pid in reversed(list(processes.items())):
            if not _signal_group(pid, signal.SIGTERM):
                continue
            stopped.append(name)
            deadline = time.monotonic() + 10
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            _signal_group(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.05)
    if remove and folder.exists():
        shutil.rmtree(folder, ignore_errors=True)
    return stopped


def compact(folder: Path) -> int:
    """Compact etcd's history up to its current revision (physically, as the API
    server's own compactor does every 5 minutes), through etcd's gRPC gateway on the
    client port. A watch that resumes from a resourceVersion before it and is served
    by etcd gets 410 Gone. Returns the revision compacted at."""
    state = json.loads((folder / STATE).read_text())
    etcd = state["etcd"]
    with httpx.Client(base_url=etcd, timeout=10, trust_env=False) as http:
        ranged = http.post("/v3/kv/range", json={"key": "AA==", "limit": 1})  # key "\0"
        ranged.raise_for_status()
        revision = int(ranged.json()["header"]["revision"])
        compacted = http.post("/v3/kv/compaction", json={"revision": revision, "physical": True})
        compacted.raise_for_status()
    return revision


def restart(folder: Path, name: str, *, timeout: float = 120) -> None:
    """Stop the process ``name`` that ``start`` recorded (SIGTERM to its group, SIGKILL
    after 10 s) and start it again with the same command line, so the same port and
    flags; wait until it is ready again (``/readyz`` for kube-apiserver, ``/health``
    for etcd, still alive after a second for the others)."""
    state = json.loads((folder / STATE).read_text())
    pid = state["processes"][name]
    command = state["commands"][name]
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    _signal_group(pid, signal.SIGKILL)
    while _alive(pid):
        time.sleep(0.05)
    _spawn(folder, state, name, command["argv"], env=command["env"] or None)
    if name == "kube-apiserver":
        plane = attach(folder)
        ca = folder / "pki" / "ca.crt"
        _wait(
            folder,
            name,
            lambda: _http_ok(f"{plane.server}/readyz", token=plane.admin_token, ca=ca),
            timeout,
        )
    elif name == "etcd":
        _wait(folder, name, lambda: _http_ok(f"{state['etcd']}/health"), timeout)
    else:
        time.sleep(1)
        if not _alive(state["processes"][name]):
            raise RuntimeError(f"{name} exited after its restart:\n{log_tail(folder, name)}")


def _signal_group(pid: int, signum: int) -> bool:
    try:
        os.killpg(pid, signum)
        return True
    except (ProcessLookupError, PermissionError):
        return False


DEFAULT_RULES = """\
# How the pod completer finishes pods (read again for each pod): the first rule whose
# `match` fits decides; a Job's pod no rule matches succeeds at once; pods no Job owns stay
# Pending. See docs/testing.md.
#   - match: {namespace: NAME, labels: {KEY: VALUE}}   # both optional
#     exitCode: 1                                      # 0 (default) -> Succeeded
#     after: 2s                                        # wait before finishing
#     run: true      # run the pod's container command here, as a kubelet would
rules: []
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="cluster", description="Start or stop the local control plane."
    )
    parser.add_argument("action", choices=["up", "down", "status"])
    parser.add_argument("--dir", type=Path, default=ROOT / ".cluster")
    args = parser.parse_args(argv)
    folder: Path = args.dir.resolve()
    if args.action == "down":
        stopped = stop(folder)
        print(f"stopped: {', '.join(stopped) or 'nothing was running'}")
        return 0
    if args.action == "status":
        if not (folder / STATE).exists():
            print("not running")
            return 1
        state = json.loads((folder / STATE).read_text())
        for name, pid in state["processes"].items():
            print(f"{name}: pid {pid} {'running' if _alive(pid) else 'EXITED'}")
        return 0
    if (folder / STATE).exists():
        state = json.loads((folder / STATE).read_text())
        if all(_alive(pid) for pid in state["processes"].values()):
            print(f"already running: {state['server']}; kubeconfig {folder / 'kubeconfig'}")
            return 0
        stop(folder)
    try:
        plane = start(folder)
    except RuntimeError as error:
        print(f"cluster-up: {error}", file=sys.stderr)
        stop(folder)
        return 1
    print(f"Kubernetes {plane.version} at {plane.server}")
    print(f"  export KUBECONFIG={plane.kubeconfig}")
    print(f"  pods finish by the rules in {plane.pod_rules}; logs in {folder}/*.log")
    print("  stop it with: make cluster-down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
