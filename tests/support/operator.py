"""Helpers for the operator tier: ``werfop run`` as a subprocess, waiting, and the
objects the tests create."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(
    predicate: Callable[[], Any],
    timeout: float = 20.0,
    what: str = "condition",
    interval: float = 0.1,
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Operator:
    """One ``werfop run`` process with its own health port and log file."""

    def __init__(
        self,
        kubeconfig: Path,
        log: Path,
        args: list[str],
        env: dict[str, str],
        *,
        health: int | None = None,
    ):
        self.health = health or free_port()
        self.metrics = free_port()
        self.log = log
        command = [
            sys.executable,
            "-m",
            "werfop.main",
            "run",
            "--kubeconfig",
            str(kubeconfig),
            "--health-addr",
            f"127.0.0.1:{self.health}",
            "--metrics-addr",
            f"127.0.0.1:{self.metrics}",
            "--log-format",
            "json",
            "--workers",
            "2",
            *args,
        ]
        self.process = subprocess.Popen(
            command,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **env},
        )

    def ready(self) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.health}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self, timeout: float = 20.0) -> Operator:
        wait_for(lambda: self.ready() or self.process.poll() is not None, timeout, "readiness")
        assert self.process.poll() is None, self.log.read_text()[-3000:]
        return self

    def scrape(self) -> str:
        return httpx.get(f"http://127.0.0.1:{self.metrics}/metrics", timeout=2).text

    def lines(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log.read_text(errors="replace").splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({"msg": line})
        return out

    def terminate(self, timeout: float = 15.0) -> tuple[int, float]:
        started = time.monotonic()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout)
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)


@contextlib.contextmanager
def operator_pool(folder: Path) -> Iterator[Callable[..., Operator]]:
    """``start(kubeconfig, *args, env=...)`` starts a ``werfop run`` with its log in
    ``folder``; every one started is stopped (SIGTERM, then SIGKILL) on leaving."""
    started: list[Operator] = []

    def start(kubeconfig: Path, *args: str, env: dict[str, str] | None = None) -> Operator:
        operator = Operator(
            kubeconfig, folder / f"operator-{len(started)}.log", list(args), env or {}
        )
        started.append(operator)
        return operator

    try:
        yield start
    finally:
        for operator in started:
            try:
                operator.terminate(timeout=12)
            except subprocess.TimeoutExpired:
                operator.kill()


def bundle(name: str, url: str, namespace: str = "default", **spec: Any) -> dict[str, Any]:
    registry = {"url": url, "insecure": True, "pollInterval": "30s", **spec.pop("registry", {})}
    return {
        "apiVersion": "werf.io/v1alpha1",
        "kind": "WerfBundle",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"registry": registry, **spec},
    }


def status_of(api: Any, name: str, namespace: str = "default") -> dict[str, Any]:
    found = api.get("werfbundles", namespace, name)
    return (found or {}).get("status") or {}


def werf_jobs(api: Any, namespace: str | None = None) -> list[dict[str, Any]]:
    return [
        j
        for j in api.list("jobs", namespace)
        if (j["metadata"].get("labels") or {}).get("app.kubernetes.io/managed-by") == "werfop"
    ]
