"""The operator image (Dockerfile, .dockerignore) and `make local-test`'s script, checked
without Docker: what the image runs, as whom, from which files, and that the script says
what is missing instead of failing obscurely."""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from .manifests import DEPLOY, ROOT, operator_deployment

DOCKERFILE = (ROOT / "Dockerfile").read_text()
LOCAL_TEST = DEPLOY / "scripts" / "local-test.sh"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def final_stage() -> list[tuple[str, str]]:
    steps = instructions(DOCKERFILE)
    start = max(i for i, (k, _) in enumerate(steps) if k == "FROM")
    return steps[start:]


def test_image_runs_werfop_run_as_its_entrypoint():
    (entrypoint,) = [args for k, args in final_stage() if k == "ENTRYPOINT"]
    container = operator_deployment()["spec"]["template"]["spec"]["containers"][0]

    assert '["werfop", "run"]' == entrypoint
    assert "command" not in container, "the Deployment passes args and keeps the entrypoint"


def test_image_is_based_on_slim_python_3_11():
    arg = next(args for k, args in instructions(DOCKERFILE) if k == "ARG")
    (base,) = {args.split()[0] for k, args in instructions(DOCKERFILE) if k == "FROM"}

    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.11-slim(-\w+)?", arg)
    assert "${PYTHON_IMAGE}" == base


def test_image_runs_as_the_numeric_non_root_user_the_deployment_expects():
    (user,) = [args for k, args in final_stage() if k == "USER"]
    uid, gid = (int(part) for part in user.split(":"))
    pod = operator_deployment()["spec"]["template"]["spec"]["securityContext"]

    assert 0 not in (uid, gid)
    assert (pod["runAsUser"], pod["runAsGroup"]) == (uid, gid)


def test_image_installs_the_package_without_extras_and_ships_no_sources():
    runs = " ".join(args for k, args in instructions(DOCKERFILE) if k == "RUN")
    copies = [args for k, args in final_stage() if k == "COPY"]

    assert "pip install . " in runs + " "
    assert "[" not in runs, "no optional dependencies (test, lint) in the image"
    assert ["--from=build /opt/werfop /opt/werfop"] == copies


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Whether Docker leaves ``path`` out of the build context (last matching pattern wins;
    a pattern that matches a directory matches everything under it)."""
    parts = path.split("/")
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern.lstrip("!").rstrip("/")
        if body.startswith("**/"):
            tail = body[3:]
            hit = any(
                fnmatch.fnmatchcase("/".join(parts[i:j]), tail)
                for i in range(len(parts))
                for j in range(i + 1, len(parts) + 1)
            )
        else:
            hit = any(
                fnmatch.fnmatchcase("/".join(parts[:j]), body) for j in range(1, len(parts) + 1)
            )
        if hit:
            ignored = not negate
    return ignored


@pytest.mark.parametrize(
    ("path", "ignored"),
    [
        ("pyproject.toml", False),
        ("README.md", False),
        ("src/werfop/main.py", False),
        ("src/werfop/core/model.py", False),
        (".venv/bin/python", True),
        (".git/config", True),
        ("tests/conftest.py", True),
        ("deploy/kustomization.yaml", True),
        ("examples/shop.yaml", True),
        ("src/werfop/__pycache__/main.cpython-311.pyc", True),
        ("src/werfop.egg-info/PKG-INFO", True),
        ("kubeconfig", True),
    ],
)
def test_build_context_holds_only_what_the_package_needs(path, ignored):
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert ignored == dockerignored(path, patterns)


def test_every_file_the_dockerfile_copies_is_in_the_build_context():
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    sources = [
        source
        for k, args in instructions(DOCKERFILE)
        if k == "COPY" and not args.startswith("--from")
        for source in shlex.split(args)[:-1]
    ]
    assert ["pyproject.toml", "README.md", "src"] == sources
    assert [] == [s for s in sources if dockerignored(s, patterns) or not (ROOT / s).exists()]


# --- make local-test --------------------------------------------------------------------------------


def _run_local_test(tmp_path: Path, **tools: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHON": sys.executable, **tools}
    return subprocess.run(
        ["bash", str(LOCAL_TEST)], capture_output=True, text=True, env=env, timeout=30, check=False
    )


def test_local_test_names_every_missing_tool_and_fails(tmp_path):
    absent = str(tmp_path / "absent")

    result = _run_local_test(tmp_path, DOCKER=absent, KIND=absent, KUBECTL=absent)

    assert 1 == result.returncode
    assert "" == result.stdout
    assert [
        "make local-test cannot run; missing:",
        "  - docker: the Docker CLI (https://docs.docker.com/engine/install/)",
        "  - kind: Kubernetes in Docker (https://kind.sigs.k8s.io/docs/user/quick-start/#installation)",
        "  - kubectl (https://kubernetes.io/docs/tasks/tools/)",
        "The tiers that need no cluster run with: make test",
    ] == result.stderr.splitlines()


def test_local_test_says_when_docker_is_installed_but_its_daemon_is_not_running(tmp_path):
    docker = tmp_path / "docker"
    docker.write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n")
    docker.chmod(0o755)
    present = tmp_path / "present"
    present.write_text("#!/bin/sh\nexit 0\n")
    present.chmod(0o755)

    result = _run_local_test(tmp_path, DOCKER=str(docker), KIND=str(present), KUBECTL=str(present))

    assert 1 == result.returncode
    assert (
        f"  - a running Docker daemon: `{docker} info` failed (start dockerd, or join the docker group)"
        in result.stderr.splitlines()
    )
