"""``werfop run`` starting up: which configuration it uses, and a clear line and the
documented exit code for each way it cannot start, never a traceback. Each case was
reproduced against main first (TypeError traceback for a bad kubeconfig, a
TransientError traceback and exit 1 for SIGTERM before the caches synced, an
in-cluster-only default)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

UNREACHABLE = """\
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: u, user: {token: not-a-secret}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
"""


def wait_for_readyz(port: int, process: subprocess.Popen[str]) -> tuple[int, str]:
    """The first answer of ``/readyz`` (status, text), once the process serves it."""
    deadline = time.monotonic() + 30
    while True:
        assert process.poll() is None, "werfop run exited before it answered /readyz"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as answer:
                return answer.status, answer.read().decode().strip()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode().strip()
        except OSError:
            assert time.monotonic() < deadline, "/readyz never answered"
            time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def werfop_run(
    *args: str, env: dict[str, str] | None = None, health: int | None = None
) -> subprocess.Popen[str]:
    base = {
        k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST")
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "werfop.main",
            "run",
            "--log-format",
            "text",
            "--health-addr",
            f"127.0.0.1:{health or free_port()}",
            "--metrics-addr",
            "0",
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**base, **(env or {})},
    )


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        pytest.param(
            ["--kubeconfig", "/etc/passwd"],
            {},
            "--kubeconfig /etc/passwd: not a usable kubeconfig",
            id="not-a-kubeconfig",
        ),
        pytest.param(
            ["--kubeconfig", "/nonexistent/kubeconfig"],
            {},
            "--kubeconfig /nonexistent/kubeconfig: not a usable",
            id="missing",
        ),
        pytest.param(
            [], {"HOME": "/nonexistent"}, "no cluster configuration: not in a pod", id="nothing"
        ),
        pytest.param(["--log-level", "banana"], {}, "--log-level: 'banana' is not", id="log-level"),
    ],
)
def test_a_configuration_it_cannot_use_exits_2_with_one_line(args, env, message):
    process = werfop_run(*args, env=env)
    out, _ = process.communicate(timeout=60)

    assert 2 == process.returncode
    assert message in out
    assert "Traceback" not in out


@pytest.mark.timeout(60)
def test_kubeconfig_env_is_used_and_sigterm_before_the_caches_sync_exits_0(tmp_path: Path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(UNREACHABLE)
    health = free_port()
    process = werfop_run(
        "--log-level",
        "debug",
        env={"KUBECONFIG": str(kubeconfig), "HOME": str(tmp_path)},
        health=health,
    )
    # The process is up and waiting for its caches (it handles signals before its
    # endpoints answer), and says so: the informers are failing to list.
    assert (503, "caches are not synced") == wait_for_readyz(health, process)

    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=30)

    assert 0 == process.returncode
    assert time.monotonic() - started < 10
    assert f"using a kubeconfig kubeconfig={kubeconfig}" in out
    assert "Traceback" not in out
    assert "Retrying (Retry(" not in out  # urllib3's lines are folded into werfop's own


@pytest.mark.timeout(60)
def test_a_port_in_use_is_one_line_naming_the_address(tmp_path: Path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(UNREACHABLE)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        process = werfop_run("--kubeconfig", str(kubeconfig), "--health-addr", address)
        out, _ = process.communicate(timeout=30)

    assert 1 == process.returncode
    assert f"cannot listen: Address already in use addresses={address}" in out
    assert "Traceback" not in out
