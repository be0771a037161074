"""Which cluster to talk to: the configuration rules shared by ``werfop run`` and the
day-2 commands (``werfop get``, ``status``, ``reconcile``...).

Role: choose the configuration as kubectl and client-go do (``--kubeconfig``; else the
in-cluster configuration inside a pod; else ``$KUBECONFIG``, then ``~/.kube/config``),
honour ``--context``, and say which namespace that context defaults to. Returns a
``Transport``: the official client's configuration (its auth, token refresh, TLS and
exec plugins, loaded by ``kubernetes.config``) and REST client, which
``adapters.kubernetes.KubernetesApi`` speaks raw JSON over; neither ``ApiClient`` nor
the generated models are loaded (``adapters.kubernetes_client``). Every way it cannot be
used is a ``ConfigurationError`` whose message is the one line to print (it names the
file or context, never a credential).
Neighbours: ``operator`` and ``cli.commands`` call ``connect``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from werfop.adapters.kubernetes_client import Transport

IN_CLUSTER_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


class ConfigurationError(Exception):
    """No usable cluster configuration; the message is the one line to print."""


@attrs.frozen(kw_only=True)
class Connection:
    """The API server's transport, where its configuration came from, and the namespace
    its context defaults to (``default`` when the context names none)."""

    api: Transport
    source: str  # the kubeconfig file, or "in-cluster"
    namespace: str


def connect(kubeconfig: str | None, context: str | None = None) -> Connection:
    """The connection for ``kubeconfig`` (and ``context``), chosen as the module
    docstring says. A ``context`` rules the in-cluster configuration out (it only exists
    in a kubeconfig). Raises ``ConfigurationError`` naming the file or context."""
    # Imported here: the commands that never reach a cluster do not pay for the client.
    from werfop.adapters.kubernetes_client import Configuration, Transport, config

    source = kubeconfig
    if source is None:
        if os.environ.get("KUBERNETES_SERVICE_HOST") and context is None:
            configuration = Configuration()
            config.load_incluster_config(client_configuration=configuration)
            return Connection(
                api=Transport.of(configuration), source="in-cluster", namespace=_pod_ns()
            )
        candidates = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
        candidates.append(os.path.expanduser("~/.kube/config"))
        source = next((p for p in candidates if os.path.isfile(p)), None)
        if source is None:
            raise ConfigurationError(
                "no cluster configuration: not in a pod, no --kubeconfig, $KUBECONFIG "
                "names no file and ~/.kube/config does not exist"
            )
    try:
        contexts, current = config.list_kube_config_contexts(config_file=source)
    except Exception as error:  # the client raises TypeError, ValueError, ConfigException...
        raise ConfigurationError(
            f"--kubeconfig {source}: not a usable kubeconfig ({_first(error)})"
        ) from None
    chosen = (
        current
        if context is None
        else next((c for c in contexts or [] if c.get("name") == context), None)
    )
    if chosen is None:
        known = ", ".join(sorted(str(c.get("name")) for c in contexts or [])) or "none"
        raise ConfigurationError(
            f"--context {context}: no such context in {source} (contexts: {known})"
        )
    configuration = Configuration()
    try:
        # What config.new_client_from_config does, but for the ApiClient it returns.
        config.load_kube_config(
            config_file=source, context=context, client_configuration=configuration
        )
        made = Transport.of(configuration)
    except Exception as error:
        raise ConfigurationError(
            f"--kubeconfig {source}: not a usable kubeconfig ({_first(error)})"
        ) from None
    namespace = (chosen.get("context") or {}).get("namespace") or "default"
    return Connection(api=made, source=source, namespace=str(namespace))


def _first(error: Exception) -> str:
    text = str(error)
    return text.splitlines()[0] if text else type(error).__name__


def _pod_ns() -> str:
    try:
        with open(IN_CLUSTER_NAMESPACE) as handle:
            return handle.read().strip() or "default"
    except OSError:
        return "default"
