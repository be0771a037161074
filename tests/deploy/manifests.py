"""The shipped manifests as data: every YAML document under deploy/, found by kind and name.

Role: one loader for the deploy tests, so they all read the same files the same way.
Neighbours: ``crdcheck`` (the CRD's admission), ``podsecurity`` (pod templates).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
EXAMPLES = ROOT / "examples"
NAMESPACE = "werfop-system"
SERVICE_ACCOUNT = "werfop"

Obj = dict[str, Any]


def is_kustomization(path: Path) -> bool:
    return path.name == "kustomization.yaml"


def manifest_files() -> list[Path]:
    """Every Kubernetes manifest under deploy/ (not kustomizations)."""
    return sorted(p for p in DEPLOY.rglob("*.yaml") if not is_kustomization(p))


def documents(path: Path) -> list[Obj]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def all_objects() -> Iterator[tuple[Path, Obj]]:
    for path in manifest_files():
        for doc in documents(path):
            yield path, doc


def find(kind: str, name: str, namespace: str | None = None) -> Obj:
    """The one object of this kind and name (and namespace) under deploy/."""
    found = [
        obj
        for _, obj in all_objects()
        if obj["kind"] == kind
        and obj["metadata"]["name"] == name
        and obj["metadata"].get("namespace") == namespace
    ]
    assert 1 == len(found), f"{kind} {namespace}/{name}: {len(found)} found"
    return found[0]


def operator_deployment() -> Obj:
    return find("Deployment", "werfop", NAMESPACE)


def operator_container() -> Obj:
    (container,) = operator_deployment()["spec"]["template"]["spec"]["containers"]
    return container


def flag(args: list[str], name: str) -> str | None:
    """The value of ``--name=value`` (or True-ish ``""`` for a bare ``--name``)."""
    for arg in args:
        if arg == f"--{name}":
            return ""
        if arg.startswith(f"--{name}="):
            return arg.split("=", 1)[1]
    return None


def example_objects() -> list[Obj]:
    objects: list[Obj] = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        objects += [d for d in documents(path) if isinstance(d, dict) and "kind" in d]
    return objects
