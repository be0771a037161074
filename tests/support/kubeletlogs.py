"""A Node for the pod completer, so the API server serves ``pods/log`` for real.

The API server answers ``GET pods/NAME/log`` by proxying to the kubelet of the pod's node
(``https://<node InternalIP>:<daemonEndpoints.kubeletEndpoint.Port>/containerLogs/...``).
This module registers a Node (``werfop-local``, address 127.0.0.1), keeps it Ready (a
Lease in ``kube-node-lease`` renewed every 10 s, its Ready condition every minute), binds
each Job pod the completer takes to it (``pods/binding``, as a scheduler would), and serves
``/containerLogs/{namespace}/{pod}/{container}`` (with ``tailLines``) from the log the pod
left in the completer's state folder, over HTTPS with a certificate made at start.

Because a bound pod is deleted gracefully (the kubelet confirms), the completer also
confirms deletions of this node's pods (``confirm_deletion``).
Must not: listen anywhere but 127.0.0.1, or serve a file outside the state folder.
Neighbours: ``support.podcompleter`` (owns one), ``support.podrunner`` (writes the logs).
"""

from __future__ import annotations

import logging
import re
import ssl
import tempfile
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import trustme
from kubernetes import client
from kubernetes.client.rest import ApiException

log = logging.getLogger("kubeletlogs")
NODE = "werfop-local"
LOG_PATH = re.compile(r"^/containerLogs/([a-z0-9-]+)/([a-z0-9.-]+)/([a-z0-9-]+)$")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LocalNode:
    """The Node, its heartbeat and its log endpoint (see the module docstring)."""

    def __init__(self, api: client.CoreV1Api, state: Path) -> None:
        self.api = api
        self.state = state
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with tempfile.TemporaryDirectory() as folder:
            chain, key = Path(folder) / "chain.pem", Path(folder) / "key.pem"
            cert.cert_chain_pems[0].write_to_path(str(chain))
            cert.private_key_pem.write_to_path(str(key))
            context.load_cert_chain(str(chain), str(key))
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = int(self.server.server_address[1])

    # -- the log endpoint ------------------------------------------------------------------
    def log_file(self, namespace: str, name: str) -> Path | None:
        try:
            pod = self.api.read_namespaced_pod(name, namespace)
        except ApiException:
            return None
        path = self.state / pod.metadata.uid / "log"
        return path if path.is_file() else None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        node = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlparse(self.path)
                found = LOG_PATH.match(url.path)
                path = node.log_file(found.group(1), found.group(2)) if found else None
                if path is None:
                    self.send_error(404, "no such container log")
                    return
                text = path.read_bytes()
                tail = parse_qs(url.query).get("tailLines")
                if tail:
                    text = b"".join(text.splitlines(keepends=True)[-int(tail[0]) :])
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug(format, *args)

        return Handler

    # -- the Node ----------------------------------------------------------------------------
    def register(self) -> None:
        node = client.V1Node(
            metadata=client.V1ObjectMeta(name=NODE, labels={"kubernetes.io/hostname": NODE}),
        )
        try:
            self.api.create_node(node)
        except ApiException as error:
            if error.status != 409:
                raise
        self._report_status()

    def _report_status(self) -> None:
        now = _now()
        self.api.patch_node_status(
            NODE,
            {
                "status": {
                    "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                    "daemonEndpoints": {"kubeletEndpoint": {"Port": self.port}},
                    "capacity": {"cpu": "64", "memory": "256Gi", "pods": "1000"},
                    "allocatable": {"cpu": "64", "memory": "256Gi", "pods": "1000"},
                    "conditions": [
                        {
                            "type": "Ready",
                            "status": "True",
                            "reason": "KubeletReady",
                            "message": "the werfop pod completer stands in for a kubelet",
                            "lastHeartbeatTime": now,
                            "lastTransitionTime": now,
                        }
                    ],
                }
            },
        )

    def _renew_lease(self) -> None:
        coordination = client.CoordinationV1Api(self.api.api_client)
        body = {
            "metadata": {"name": NODE, "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": NODE, "leaseDurationSeconds": 40, "renewTime": _now()},
        }
        try:
            coordination.patch_namespaced_lease(NODE, "kube-node-lease", body)
        except ApiException as error:
            if error.status != 404:
                raise
            coordination.create_namespaced_lease("kube-node-lease", body)

    def heartbeat(self, stop: threading.Event) -> None:
        beats = 0
        while not stop.wait(10.0 if beats else 0.0):
            try:
                self._renew_lease()
                if beats % 6 == 0:
                    self._report_status()
            except Exception as error:  # the API server may be restarting
                log.warning("node heartbeat failed: %s", type(error).__name__)
            beats += 1

    def serve(self) -> None:
        threading.Thread(target=self.server.serve_forever, name="kubelet-logs", daemon=True).start()

    # -- pods ----------------------------------------------------------------------------------
    def bind(self, pod: Any) -> bool:
        """Bind ``pod`` to this node, as a scheduler would; False when it is gone."""
        body = client.V1Binding(
            metadata=client.V1ObjectMeta(name=pod.metadata.name),
            target=client.V1ObjectReference(kind="Node", name=NODE, api_version="v1"),
        )
        try:
            self.api.create_namespaced_pod_binding(
                pod.metadata.name, pod.metadata.namespace, body, _preload_content=False
            )
            return True
        except ApiException as error:
            if error.status in (404, 409):
                return False
            raise

    def confirm_deletion(self, pod: Any) -> None:
        """What a kubelet does once a deleted pod's containers stopped: delete it for good."""
        try:
            self.api.delete_namespaced_pod(
                pod.metadata.name,
                pod.metadata.namespace,
                grace_period_seconds=0,
                body=client.V1DeleteOptions(
                    grace_period_seconds=0,
                    preconditions=client.V1Preconditions(uid=pod.metadata.uid),
                ),
            )
        except ApiException as error:
            if error.status not in (404, 409):
                log.warning(
                    "pod %s/%s: deletion not confirmed: %s",
                    pod.metadata.namespace,
                    pod.metadata.name,
                    error.reason,
                )
