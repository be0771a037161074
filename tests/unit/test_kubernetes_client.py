"""``adapters.kubernetes_client``: werfop loads the official client's configuration, auth
and REST transport without the rest of the package, and changes nothing the library
does. Each case runs in a fresh interpreter (this one has loaded the whole package
for other tests): which modules ``werfop run`` loads; a token, a client-certificate and
an exec-plugin user, and the in-cluster configuration, still authenticate, through ``werfop.kubeconfig.connect`` and
``KubernetesApi``; and the whole package still works after werfop loaded its part."""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
import trustme
from pytest_httpserver import HTTPServer

NAMESPACE = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}


def run_python(program: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=120
    )
    assert 0 == done.returncode, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_werfop_run_loads_no_api_client_no_model_and_no_other_subpackage():
    loaded = run_python(
        "import json, sys\n"
        "import werfop.operator\n"
        "names = sorted(m for m in sys.modules if m.split('.')[0] in ('kubernetes', 'pydantic'))\n"
        "print(json.dumps({\n"
        "    'models': [m for m in names if m.startswith('kubernetes.client.models')],\n"
        "    'api classes': [m for m in names if m.startswith('kubernetes.client.api')],\n"
        "    'pydantic': 'pydantic' in names,\n"
        "    'subpackages': sorted({'.'.join(m.split('.')[:2]) for m in names} - {'kubernetes'}),\n"
        "}))"
    )

    assert {
        "models": [],
        "api classes": [],  # api_client (pydantic), api_response and the generated APIs
        "pydantic": False,
        "subpackages": ["kubernetes.client", "kubernetes.config", "kubernetes.utils"],
    } == loaded


def test_the_whole_package_still_works_after_werfop_loaded_its_part(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        kubeconfig_text("https://127.0.0.1:9", {"token": "not-a-secret"}, ca_data=None)
    )
    found = run_python(
        "import json\n"
        "import werfop.adapters.kubernetes\n"
        "import kubernetes\n"
        "from kubernetes.client import V1Pod\n"
        "from kubernetes.dynamic import DynamicClient\n"
        f"made = kubernetes.config.new_client_from_config(config_file={str(kubeconfig)!r})\n"
        "print(json.dumps({\n"
        "    'version': kubernetes.__version__ == kubernetes.client.__version__,\n"
        "    'api': kubernetes.client.CoreV1Api(made).api_client is made,\n"
        "    'client': isinstance(made, kubernetes.client.ApiClient),\n"
        "    'host': made.configuration.host,\n"
        "    'model': V1Pod(metadata={'name': 'p'}).metadata.name,\n"
        "    'watch': callable(kubernetes.watch.Watch().stream),\n"
        "    'dynamic': DynamicClient.__module__,\n"
        "}))"
    )

    assert {
        "version": True,
        "api": True,
        "client": True,
        "host": "https://127.0.0.1:9",
        "model": "p",
        "watch": True,
        "dynamic": "kubernetes.dynamic.client",
    } == found


def kubeconfig_text(server: str, user: dict, ca_data: bytes | None) -> str:
    cluster: dict = {"server": server}
    if ca_data is not None:
        cluster["certificate-authority-data"] = base64.b64encode(ca_data).decode()
    return json.dumps(  # JSON is YAML
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "c", "cluster": cluster}],
            "users": [{"name": "u", "user": user}],
            "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
            "current-context": "c",
        }
    )


def get_namespace_through_werfop(kubeconfig: Path) -> dict:
    """GET the default Namespace as ``werfop run`` would: ``connect``, then
    ``KubernetesApi.request``; the answer, or the error's type and message."""
    return run_python(
        "import json\n"
        "from werfop.adapters.kubernetes import KubernetesApi\n"
        "from werfop.kubeconfig import connect\n"
        "try:\n"
        f"    got = KubernetesApi(connect({str(kubeconfig)!r}).api).request(\n"
        "        'GET', '/api/v1/namespaces/default')\n"
        "except Exception as error:\n"
        "    got = {'error': type(error).__name__, 'message': str(error)}\n"
        "print(json.dumps(got))"
    )


def answer_when_authorized(httpserver: HTTPServer, authorization: str) -> None:
    httpserver.expect_request(
        "/api/v1/namespaces/default", headers={"Authorization": authorization}
    ).respond_with_json(NAMESPACE)
    httpserver.expect_request("/api/v1/namespaces/default").respond_with_json(
        {"kind": "Status", "reason": "Unauthorized", "message": "Unauthorized"}, status=401
    )


def test_a_token_user_authenticates(httpserver: HTTPServer, tmp_path):
    answer_when_authorized(httpserver, "Bearer a-token")
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        kubeconfig_text(httpserver.url_for("").rstrip("/"), {"token": "a-token"}, None)
    )

    assert NAMESPACE == get_namespace_through_werfop(kubeconfig)


def test_an_exec_plugin_user_authenticates_with_the_plugins_token(httpserver: HTTPServer, tmp_path):
    answer_when_authorized(httpserver, "Bearer from-the-plugin")
    plugin = tmp_path / "plugin.py"
    plugin.write_text(
        "import json\nprint(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1',"
        " 'kind': 'ExecCredential', 'status': {'token': 'from-the-plugin'}}))\n"
    )
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": sys.executable,
            "args": [str(plugin)],
            "interactiveMode": "Never",
        }
    }
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(kubeconfig_text(httpserver.url_for("").rstrip("/"), user, None))

    assert NAMESPACE == get_namespace_through_werfop(kubeconfig)


def test_an_unauthorized_token_is_refused_by_the_server(httpserver: HTTPServer, tmp_path):
    """The counterpart of the two above: the header is what the server checks."""
    answer_when_authorized(httpserver, "Bearer a-token")
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        kubeconfig_text(httpserver.url_for("").rstrip("/"), {"token": "another"}, None)
    )

    assert "TerminalError" == get_namespace_through_werfop(kubeconfig)["error"]


def https_server(ca: trustme.CA, *, client_certificates: bool) -> HTTPServer:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    if client_certificates:
        ca.configure_trust(context)
        context.verify_mode = ssl.CERT_REQUIRED
    server = HTTPServer(ssl_context=context)
    server.start()
    return server


@pytest.fixture
def tls():
    """A CA, and an HTTPS server that requires a client certificate it issued."""
    ca = trustme.CA()
    server = https_server(ca, client_certificates=True)
    server.expect_request("/api/v1/namespaces/default").respond_with_json(NAMESPACE)
    yield ca, server
    server.clear()
    server.stop()


def test_the_in_cluster_configuration_authenticates_with_the_pods_token(tmp_path):
    """``connect(None)`` in a pod: the service account's token, CA and namespace files
    (here in tmp_path: the library reads its module's paths when called)."""
    ca = trustme.CA()
    server = https_server(ca, client_certificates=False)
    try:
        answer_when_authorized(server, "Bearer the-pods-token")
        (tmp_path / "token").write_text("the-pods-token")
        (tmp_path / "ca.crt").write_bytes(ca.cert_pem.bytes())
        (tmp_path / "namespace").write_text("werfop-system")
        found = run_python(
            "import json, os\n"
            "os.environ.update(KUBERNETES_SERVICE_HOST='127.0.0.1',"
            f" KUBERNETES_SERVICE_PORT='{server.port}')\n"
            "os.environ.pop('KUBECONFIG', None)\n"
            "import werfop.kubeconfig\n"
            "from werfop.adapters.kubernetes import KubernetesApi\n"
            "from kubernetes.config import incluster_config\n"
            f"incluster_config.SERVICE_TOKEN_FILENAME = {str(tmp_path / 'token')!r}\n"
            f"incluster_config.SERVICE_CERT_FILENAME = {str(tmp_path / 'ca.crt')!r}\n"
            f"werfop.kubeconfig.IN_CLUSTER_NAMESPACE = {str(tmp_path / 'namespace')!r}\n"
            "connection = werfop.kubeconfig.connect(None)\n"
            "got = KubernetesApi(connection.api).request('GET', '/api/v1/namespaces/default')\n"
            "print(json.dumps([connection.source, connection.namespace, got]))"
        )
    finally:
        server.clear()
        server.stop()

    assert ["in-cluster", "werfop-system", NAMESPACE] == found


@pytest.mark.parametrize(
    ("with_certificate", "expected"),
    [
        pytest.param(True, NAMESPACE, id="with-the-certificate"),
        pytest.param(False, "TransientError", id="without-refused-in-the-handshake"),
    ],
)
def test_a_client_certificate_user_authenticates(tls, tmp_path, with_certificate, expected):
    ca, server = tls
    issued = ca.issue_cert("werfop-test")
    user = (
        {
            "client-certificate-data": base64.b64encode(issued.cert_chain_pems[0].bytes()).decode(),
            "client-key-data": base64.b64encode(issued.private_key_pem.bytes()).decode(),
        }
        if with_certificate
        else {"token": "no-certificate"}
    )
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        kubeconfig_text(f"https://127.0.0.1:{server.port}", user, ca.cert_pem.bytes())
    )

    got = get_namespace_through_werfop(kubeconfig)

    assert expected == (got if with_certificate else got.get("error"))
