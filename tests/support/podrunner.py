"""The pod runner: runs a pod's container command on this machine as a kubelet would, so
that the werf command werfop renders meets a real werf (scripts/build-werf.sh) with
exactly the inputs a real pod would give it.

Role, for one pod (the pod completer calls ``PodRunner.__call__`` for pods whose rule says
``run: true``):
- a root file system per pod under ``state/<pod uid>/root``, owned by root and not
  writable by the pod's user (so ``readOnlyRootFilesystem`` is felt), holding the image's
  binaries (``IMAGES``: the werf image's ``/usr/local/bin/werf`` is the locally built werf),
  ``/etc/passwd``, the system CA bundle and ``/dev/null``;
- every volume materialised at its ``mountPath`` from the real API objects: Secrets
  (``items``, ``defaultMode``, group ``fsGroup``), ConfigMaps, emptyDirs, and projected
  volumes, including the ServiceAccount token from TokenRequest bound to the pod, the
  cluster CA and the namespace: werf finds in-cluster credentials exactly where client-go
  looks, with exactly the RBAC of the pod's ServiceAccount;
- the environment a container gets: the image's ``ENV`` (for the werf image
  ``WERF_BUILDAH_MODE=auto`` among others), ``KUBERNETES_SERVICE_HOST/PORT`` (the API
  server's address), the service links of the namespace unless ``enableServiceLinks`` is
  false, then the container's ``env`` (values, Secret and ConfigMap keys, fields);
- the command, ``$(VAR)``-expanded, run in a chroot as ``runAsUser``/``runAsGroup`` with
  ``fsGroup`` as a supplementary group and ``no_new_privs`` set; the pod's deletion (the
  Job's ``activeDeadlineSeconds``, a deleted Job) kills it (``kill``).
Returns the exit code and the log's tail (the terminated state's message). The full log is
kept at ``state/<pod uid>/log``, which ``support.kubeletlogs`` serves as the pod's log.
Must not: run a pod whose image has no local binary (it fails the pod and says so), write
outside its state folder, or leave a process behind.
Not emulated: network isolation (the pod shares the machine's loopback), cgroups limits,
the image's other files (there is no shell), seccomp filters.
"""

from __future__ import annotations

import base64
import ctypes
import logging
import os
import re
import shutil
import signal
import ssl
import subprocess
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from support import children

log = logging.getLogger("podrunner")

# What an image carries that matters here: its binaries (image path -> local file), its
# ENV, USER and WORKDIR. The werf image's, from werf's scripts/werf-in-image/dockerfile/
# werf/alpine.Dockerfile (v2.75): USER build:build (uid 1000), WORKDIR /home/build.
WERF_IMAGE = re.compile(r"^registry\.werf\.io/werf/werf(:|@|$)")
WERF_IMAGE_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "WERF_CONTAINERIZED": "yes",
    "WERF_BUILDAH_MODE": "auto",
    "WERF_DISABLE_AUTO_HOST_CLEANUP": "1",
}
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
VAR = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)|\$\$")
PR_SET_NO_NEW_PRIVS = 38


class PodRunner:
    """Runs pods' commands; see the module docstring."""

    def __init__(self, api: client.CoreV1Api, *, state: Path) -> None:
        self.api = api
        self.state = state
        self.server = api.api_client.configuration.host  # https://127.0.0.1:port
        werf_dir = os.environ.get("WERFOP_WERF_DIR")
        self.werf = Path(werf_dir) / "werf" if werf_dir else None
        self.processes: dict[str, subprocess.Popen[bytes]] = {}  # pod uid -> its process

    # -- the image -----------------------------------------------------------------------
    def image_of(self, image: str) -> tuple[dict[str, Path], dict[str, str], int, str]:
        """(binaries, ENV, USER uid, WORKDIR) of ``image``; raises for an unknown image."""
        if WERF_IMAGE.match(image):
            if self.werf is None or not self.werf.is_file():
                raise RunError(
                    f"image {image}: no local werf (set WERFOP_WERF_DIR; make werf builds it)"
                )
            return {"/usr/local/bin/werf": self.werf}, dict(WERF_IMAGE_ENV), 1000, "/home/build"
        raise RunError(f"image {image}: the pod runner has no local binaries for it")

    # -- one pod -------------------------------------------------------------------------
    def __call__(self, pod: Any, hosts: dict[str, str] | None = None) -> tuple[int, str]:
        folder = self.state / pod.metadata.uid
        shutil.rmtree(folder, ignore_errors=True)
        root = folder / "root"
        root.mkdir(parents=True)
        try:
            container = pod.spec.containers[0]
            binaries, image_env, image_user, workdir = self.image_of(container.image)
            uid, gid, fs_group = self._identity(pod, container, image_user)
            self._root_fs(root, binaries, uid, gid, hosts or {})
            self._volumes(pod, container, root, fs_group)
            env = self._environment(pod, container, image_env)
            argv = [
                _expand(word, env) for word in [*(container.command or []), *(container.args or [])]
            ]
            cwd = container.working_dir or workdir
            inside = root / cwd.lstrip("/")
            inside.mkdir(parents=True, exist_ok=True)
            if cwd == workdir:
                os.chown(inside, uid, gid)  # the image's WORKDIR belongs to its user
        except RunError as error:
            return 128, f"podrunner: {error}"
        return self._execute(pod, folder, root, argv, env, cwd, uid, gid, fs_group)

    def _identity(self, pod: Any, container: Any, image_user: int) -> tuple[int, int, int | None]:
        pod_ctx = pod.spec.security_context or client.V1PodSecurityContext()
        ctx = container.security_context or client.V1SecurityContext()
        uid = ctx.run_as_user if ctx.run_as_user is not None else pod_ctx.run_as_user
        uid = image_user if uid is None else uid
        gid = ctx.run_as_group if ctx.run_as_group is not None else pod_ctx.run_as_group
        gid = uid if gid is None else gid
        non_root = (
            ctx.run_as_non_root if ctx.run_as_non_root is not None else pod_ctx.run_as_non_root
        )
        if non_root and uid == 0:
            raise RunError("container has runAsNonRoot and would run as root")
        return uid, gid, pod_ctx.fs_group

    def _root_fs(
        self, root: Path, binaries: dict[str, Path], uid: int, gid: int, hosts: dict[str, str]
    ) -> None:
        for inside, local in binaries.items():
            target = root / inside.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(local, target)
            except OSError:
                shutil.copy2(local, target)
        etc = root / "etc"
        etc.mkdir(exist_ok=True)
        (etc / "passwd").write_text(
            f"root:x:0:0:root:/root:/sbin/nologin\nbuild:x:{uid}:{gid}:build:/home/build:/sbin/nologin\n"
        )
        (etc / "group").write_text(f"root:x:0:\nbuild:x:{gid}:\n")
        (etc / "hosts").write_text(
            "127.0.0.1 localhost\n" + "".join(f"{a} {n}\n" for n, a in hosts.items())
        )
        certs = etc / "ssl" / "certs"
        certs.mkdir(parents=True)
        system_bundle = (
            ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt"
        )
        if Path(system_bundle).is_file():
            shutil.copy(system_bundle, certs / "ca-certificates.crt")
        dev = root / "dev"
        dev.mkdir()
        os.mknod(dev / "null", 0o666 | 0o020000, os.makedev(1, 3))
        os.chmod(dev / "null", 0o666)
        for path in (root, *root.rglob("*")):
            if path.is_dir():
                os.chmod(path, 0o755)

    def _volumes(self, pod: Any, container: Any, root: Path, fs_group: int | None) -> None:
        """Each mount in order (so nested mounts land inside their parents), with
        ``subPath`` picking one file or folder of the volume."""
        by_name = {v.name: v for v in pod.spec.volumes or []}
        for mount in container.volume_mounts or []:
            volume = by_name.get(mount.name)
            if volume is None:
                raise RunError(f"volume {mount.name} is mounted but not defined")
            target = root / mount.mount_path.lstrip("/")
            if volume.empty_dir is not None:
                target.mkdir(parents=True, exist_ok=True)
                os.chmod(target, 0o777)  # as the kubelet makes an emptyDir
                continue
            files = self._volume_files(pod, volume)
            sub = (mount.sub_path or "").strip("/")
            if sub and sub in files:  # one file mounted as the file at mountPath
                placed = {target: files[sub]}
            else:
                prefix = f"{sub}/" if sub else ""
                placed = {
                    target / name.removeprefix(prefix): content
                    for name, content in files.items()
                    if name.startswith(prefix)
                }
                target.mkdir(parents=True, exist_ok=True)
            for path, (data, mode) in placed.items():
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                os.chown(path, 0, fs_group if fs_group is not None else 0)
                os.chmod(path, mode)

    def _volume_files(self, pod: Any, volume: Any) -> dict[str, tuple[bytes, int]]:
        namespace = pod.metadata.namespace
        if volume.secret is not None:
            v = volume.secret
            return self._secret_files(namespace, v.secret_name, v.items, v.default_mode, v.optional)
        if volume.config_map is not None:
            v = volume.config_map
            return self._config_map_files(namespace, v.name, v.items, v.default_mode, v.optional)
        if volume.projected is not None:
            return self._projected_files(pod, volume.projected)
        raise RunError(f"volume {volume.name}: this volume type is not emulated")

    def _secret_files(
        self, namespace: str, name: str, items: Any, mode: int | None, optional: bool | None
    ) -> dict[str, tuple[bytes, int]]:
        try:
            secret = self.api.read_namespaced_secret(name, namespace)
        except ApiException as error:
            if error.status == 404 and optional:
                return {}
            raise RunError(
                f"MountVolume.SetUp failed: secret {namespace}/{name}: {error.reason}"
            ) from None
        data = {k: base64.b64decode(v) for k, v in (secret.data or {}).items()}
        return _items(data, items, mode, f"secret {name}")

    def _config_map_files(
        self, namespace: str, name: str, items: Any, mode: int | None, optional: bool | None
    ) -> dict[str, tuple[bytes, int]]:
        try:
            cm = self.api.read_namespaced_config_map(name, namespace)
        except ApiException as error:
            if error.status == 404 and optional:
                return {}
            raise RunError(f"MountVolume.SetUp failed: configmap {name}: {error.reason}") from None
        data = {k: v.encode() for k, v in (cm.data or {}).items()}
        return _items(data, items, mode, f"configmap {name}")

    def _projected_files(self, pod: Any, projected: Any) -> dict[str, tuple[bytes, int]]:
        mode = projected.default_mode if projected.default_mode is not None else 0o644
        files: dict[str, tuple[bytes, int]] = {}
        for source in projected.sources or []:
            if source.service_account_token is not None:
                token = self._token(pod, source.service_account_token)
                files[source.service_account_token.path] = (token.encode(), mode)
            elif source.config_map is not None:
                v = source.config_map
                files.update(
                    self._config_map_files(
                        pod.metadata.namespace, v.name, v.items, mode, v.optional
                    )
                )
            elif source.secret is not None:
                v = source.secret
                files.update(
                    self._secret_files(pod.metadata.namespace, v.name, v.items, mode, v.optional)
                )
            elif source.downward_api is not None:
                for item in source.downward_api.items or []:
                    value = _field(pod, item.field_ref.field_path)
                    files[item.path] = (value.encode(), item.mode or mode)
        return files

    def _token(self, pod: Any, source: Any) -> str:
        """A TokenRequest token for the pod's ServiceAccount, bound to the pod (as the
        kubelet asks for one)."""
        request = client.AuthenticationV1TokenRequest(
            spec=client.V1TokenRequestSpec(
                audiences=[source.audience] if source.audience else [],
                expiration_seconds=max(source.expiration_seconds or 3607, 600),
                bound_object_ref=client.V1BoundObjectReference(
                    api_version="v1", kind="Pod", name=pod.metadata.name, uid=pod.metadata.uid
                ),
            )
        )
        account = pod.spec.service_account_name or "default"
        made = self.api.create_namespaced_service_account_token(
            account, pod.metadata.namespace, request
        )
        return str(made.status.token)

    def _environment(self, pod: Any, container: Any, image_env: dict[str, str]) -> dict[str, str]:
        env = dict(image_env)
        host, _, port = self.server.removeprefix("https://").rpartition(":")
        env.update(
            {
                "HOSTNAME": pod.metadata.name,
                "KUBERNETES_SERVICE_HOST": host,
                "KUBERNETES_SERVICE_PORT": port,
                "KUBERNETES_SERVICE_PORT_HTTPS": port,
            }
        )
        if pod.spec.enable_service_links is not False:
            env.update(self._service_links(pod.metadata.namespace))
        namespace = pod.metadata.namespace
        for source in container.env_from or []:
            data: dict[str, str] = {}
            if source.secret_ref is not None:
                secret = self.api.read_namespaced_secret(source.secret_ref.name, namespace)
                data = {k: base64.b64decode(v).decode() for k, v in (secret.data or {}).items()}
            elif source.config_map_ref is not None:
                data = dict(
                    self.api.read_namespaced_config_map(source.config_map_ref.name, namespace).data
                    or {}
                )
            env.update({f"{source.prefix or ''}{k}": v for k, v in data.items()})
        for var in container.env or []:
            if var.value_from is None:
                env[var.name] = _expand(var.value or "", env)
                continue
            ref = var.value_from
            if ref.secret_key_ref is not None:
                secret = self.api.read_namespaced_secret(ref.secret_key_ref.name, namespace)
                env[var.name] = base64.b64decode(
                    (secret.data or {})[ref.secret_key_ref.key]
                ).decode()
            elif ref.config_map_key_ref is not None:
                cm = self.api.read_namespaced_config_map(ref.config_map_key_ref.name, namespace)
                env[var.name] = (cm.data or {})[ref.config_map_key_ref.key]
            elif ref.field_ref is not None:
                env[var.name] = _field(pod, ref.field_ref.field_path)
            else:
                raise RunError(f"env {var.name}: this valueFrom is not emulated")
        return env

    def _service_links(self, namespace: str) -> dict[str, str]:
        """Docker-link style variables for every Service of the namespace (as the kubelet
        sets them while ``enableServiceLinks`` is true)."""
        env: dict[str, str] = {}
        for service in self.api.list_namespaced_service(namespace).items:
            ip = service.spec.cluster_ip
            if not ip or ip == "None" or not service.spec.ports:
                continue
            prefix = service.metadata.name.upper().replace("-", "_")
            first = service.spec.ports[0]
            env[f"{prefix}_SERVICE_HOST"] = ip
            env[f"{prefix}_SERVICE_PORT"] = str(first.port)
            env[f"{prefix}_PORT"] = f"{first.protocol.lower()}://{ip}:{first.port}"
            for port in service.spec.ports:
                if port.name:
                    env[f"{prefix}_SERVICE_PORT_{port.name.upper().replace('-', '_')}"] = str(
                        port.port
                    )
                key = f"{prefix}_PORT_{port.port}_{port.protocol.upper()}"
                env[key] = f"{port.protocol.lower()}://{ip}:{port.port}"
                env[f"{key}_PROTO"] = port.protocol.lower()
                env[f"{key}_PORT"] = str(port.port)
                env[f"{key}_ADDR"] = ip
        return env

    # -- the process ---------------------------------------------------------------------
    def _execute(
        self,
        pod: Any,
        folder: Path,
        root: Path,
        argv: list[str],
        env: dict[str, str],
        cwd: str,
        uid: int,
        gid: int,
        fs_group: int | None,
    ) -> tuple[int, str]:
        if not argv:
            return (
                128,
                "podrunner: the container has no command (the image's ENTRYPOINT is not emulated)",
            )
        executable = _which(root, argv[0], env.get("PATH", ""))
        if executable is None:
            return 127, f'exec: "{argv[0]}": executable file not found in $PATH'
        groups = sorted({gid, *([fs_group] if fs_group is not None else [])})
        log_path = folder / "log"

        def enter() -> None:  # in the child, before exec: the container's view and identity
            os.chroot(root)
            os.chdir(cwd)
            os.setgroups(groups)
            os.setgid(gid)
            os.setuid(uid)
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
            # after setuid, which clears it: a killed completer takes its commands along
            children.die_with_parent(signal.SIGKILL)

        with log_path.open("wb") as out:
            process = subprocess.Popen(
                [executable, *argv[1:]],
                executable=executable,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=enter,
                start_new_session=True,
            )
        self.processes[pod.metadata.uid] = process
        code = process.wait()
        self.processes.pop(pod.metadata.uid, None)
        text = log_path.read_text(errors="replace")
        log.info(
            "pod %s/%s: %s exited %d", pod.metadata.namespace, pod.metadata.name, argv[:3], code
        )
        return (128 - code if code < 0 else code), text[-4000:]

    def kill(self, uid: str, grace: float = 2.0) -> None:
        """Stop the process of pod ``uid`` (its pod was deleted): SIGTERM, then SIGKILL."""
        process = self.processes.get(uid)
        if process is None:
            return
        for signum in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(process.pid, signum)
            except ProcessLookupError:
                return
            try:
                process.wait(grace)
                return
            except subprocess.TimeoutExpired:
                continue


class RunError(Exception):
    """The pod cannot start (what a kubelet would report as an event)."""


def _items(
    data: dict[str, bytes], items: Any, default_mode: int | None, what: str
) -> dict[str, tuple[bytes, int]]:
    mode = default_mode if default_mode is not None else 0o644
    if not items:
        return {k: (v, mode) for k, v in data.items()}
    files = {}
    for item in items:
        if item.key not in data:
            raise RunError(f"MountVolume.SetUp failed: {what} has no key {item.key}")
        files[item.path] = (data[item.key], item.mode if item.mode is not None else mode)
    return files


def _field(pod: Any, path: str) -> str:
    fields = {
        "metadata.name": pod.metadata.name,
        "metadata.namespace": pod.metadata.namespace,
        "metadata.uid": pod.metadata.uid,
        "spec.serviceAccountName": pod.spec.service_account_name or "default",
        "spec.nodeName": pod.spec.node_name or "",
    }
    if path not in fields:
        raise RunError(f"fieldRef {path} is not emulated")
    return str(fields[path])


def _expand(word: str, env: dict[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion: defined names expand, ``$$`` is ``$``."""

    def replace(found: re.Match[str]) -> str:
        if found.group(0) == "$$":
            return "$"
        return env.get(found.group(1), found.group(0))

    return VAR.sub(replace, word)


def _which(root: Path, name: str, path: str) -> str | None:
    """``name`` looked up in the container's ``PATH``: its path inside the container."""
    candidates = (
        [name] if "/" in name else [f"{d.rstrip('/')}/{name}" for d in path.split(":") if d]
    )
    return next((c for c in candidates if (root / c.lstrip("/")).is_file()), None)
