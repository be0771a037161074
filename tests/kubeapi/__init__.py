"""A Kubernetes API test server for integration tests, built on kmock.

Start it with :func:`running_kube_api` (or the pytest fixtures in :mod:`kubeapi.fixtures`),
point the official ``kubernetes`` client at :meth:`KubeApiServer.write_kubeconfig`, and use
the server object for direct access to objects, the request log and fault injection.
"""

from kubeapi.faults import FailureRule, Faults
from kubeapi.jobcontroller import JobController, Outcome
from kubeapi.requestlog import RequestLog, RequestRecord
from kubeapi.resources import DEFAULT_RESOURCES, ResourceType
from kubeapi.server import KubeApiServer, running_kube_api

__all__ = [
    "DEFAULT_RESOURCES",
    "FailureRule",
    "Faults",
    "JobController",
    "KubeApiServer",
    "Outcome",
    "RequestLog",
    "RequestRecord",
    "ResourceType",
    "running_kube_api",
]
