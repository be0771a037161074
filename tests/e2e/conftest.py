"""The e2e tier needs a Docker engine (kind runs the cluster in it). Where there is none,
every test here is skipped, and the skip says why."""

from __future__ import annotations

import shutil
import subprocess

import pytest


def docker_problem() -> str | None:
    if shutil.which("docker") is None:
        return "no docker command on PATH"
    try:
        done = subprocess.run(["docker", "info"], capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"docker info failed: {error}"
    if done.returncode != 0:
        first = (done.stderr.decode(errors="replace").strip().splitlines() or ["?"])[0]
        return f"no Docker engine answers (docker info: {first})"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    problem = docker_problem()
    if problem is None:
        return
    skip = pytest.mark.skip(reason=f"e2e tier needs Docker and kind: {problem}")
    for item in items:
        if "tests/e2e" in str(item.fspath):
            item.add_marker(skip)
