"""``werfop.kubeconfig.connect``: the context chosen (current or ``--context``), the
namespace it defaults to, and one line naming the file or context when it cannot."""

from __future__ import annotations

from pathlib import Path

import pytest

from werfop.kubeconfig import ConfigurationError, connect

TWO_CONTEXTS = """\
apiVersion: v1
kind: Config
clusters:
  - {name: one, cluster: {server: "https://127.0.0.1:9001"}}
  - {name: two, cluster: {server: "https://127.0.0.1:9002"}}
users: [{name: u, user: {token: not-a-secret}}]
contexts:
  - {name: first, context: {cluster: one, user: u}}
  - {name: second, context: {cluster: two, user: u, namespace: team-b}}
current-context: first
"""


@pytest.fixture
def kubeconfig(tmp_path: Path) -> str:
    path = tmp_path / "kubeconfig"
    path.write_text(TWO_CONTEXTS)
    return str(path)


@pytest.mark.parametrize(
    ("context", "server", "namespace"),
    [
        pytest.param(None, "https://127.0.0.1:9001", "default", id="current-without-namespace"),
        pytest.param("second", "https://127.0.0.1:9002", "team-b", id="named-with-namespace"),
    ],
)
def test_the_context_decides_the_server_and_the_default_namespace(
    kubeconfig, context, server, namespace
):
    connection = connect(kubeconfig, context)

    assert (server, namespace, kubeconfig) == (
        connection.api.configuration.host,
        connection.namespace,
        connection.source,
    )


def test_an_unknown_context_names_the_contexts_there_are(kubeconfig):
    with pytest.raises(ConfigurationError) as refused:
        connect(kubeconfig, "third")

    assert f"--context third: no such context in {kubeconfig} (contexts: first, second)" == str(
        refused.value
    )


def test_kubeconfig_env_is_read_when_no_file_is_given(kubeconfig, monkeypatch):
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", kubeconfig)

    assert kubeconfig == connect(None, "second").source


def test_nothing_to_read_is_one_line(monkeypatch, tmp_path):
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))

    with pytest.raises(ConfigurationError) as refused:
        connect(None)

    assert str(refused.value).startswith("no cluster configuration: not in a pod")


def test_a_file_that_is_not_a_kubeconfig_is_named(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello: [")

    with pytest.raises(ConfigurationError) as refused:
        connect(str(path))

    assert str(refused.value).startswith(f"--kubeconfig {path}: not a usable kubeconfig (")
