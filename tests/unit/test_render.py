"""``werfop render``: exactly the Job and inputs Secret the operator creates, with every
input file replaced by its sha256; bad input exits 2 naming file, object and field."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.inmemory import World, shop_bundle, values_map
from werfop.adapters.frozen import thaw
from werfop.main import main

DIGEST = "sha256:" + "b" * 64
CANARIES = ("canary-registry-token-77f1", "canary-werf-key-90ad", "canary-values-1e2b")


def _secret(name: str, data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {"name": name, "namespace": "default"},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }


def _objects() -> list[dict[str, Any]]:
    bundle = shop_bundle()
    bundle["spec"]["registry"]["secretRef"] = {"name": "shop-registry"}
    converge = bundle["spec"]["converge"]
    converge["secretKeySecretRef"] = {"name": "shop-werf-key"}
    converge["valuesFrom"].append({"secretRef": {"name": "shop-secret-values"}})
    converge["values"] = {"replicas": 3}
    return [
        values_map(),
        _secret("shop-registry", {"token": CANARIES[0]}),
        _secret("shop-werf-key", {"secret-key": CANARIES[1]}),
        _secret("shop-secret-values", {"values.yaml": f"password: {CANARIES[2]}\n"}),
        bundle,
    ]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["render", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _server_side(obj: dict[str, Any]) -> dict[str, Any]:
    """What the API server adds to an object, dropped for comparison."""
    metadata = {
        k: v
        for k, v in obj["metadata"].items()
        if k not in ("uid", "resourceVersion", "creationTimestamp", "generation")
    }
    return {k: v for k, v in obj.items() if k != "status"} | {"metadata": metadata}


def test_render_prints_exactly_what_the_operator_creates_with_inputs_hashed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = World(_objects())
    world.registry.push("ghcr.io/acme/shop", "1.0.0", DIGEST)
    world.run_now()
    [(namespace, name)] = list(world.jobs)
    created_job = thaw(world.cluster.get_job(namespace, name))
    created_secret = thaw(world.cluster.get("Secret", namespace, f"{name}-inputs"))
    stored_bundle = thaw(world.bundle("shop"))
    assert created_job is not None and created_secret is not None and stored_bundle is not None
    given = [*_objects()[:-1], {**_objects()[-1], "metadata": stored_bundle["metadata"]}]
    (tmp_path / "shop.yaml").write_text(yaml.safe_dump_all(given))

    code, out, err = _run(capsys, str(tmp_path), "--tag", "1.0.0", "--digest", DIGEST)

    assert (0, "") == (code, err)
    job, secret = yaml.safe_load_all(out)
    assert _server_side(created_job) == job
    hashed = {
        key: "sha256:" + hashlib.sha256(base64.b64decode(value)).hexdigest()
        for key, value in created_secret["data"].items()
    }
    assert hashed == secret["data"]
    assert {"werf-secret-key", "docker-config.json"} <= set(secret["data"])
    expected_metadata = _server_side(created_secret)["metadata"]
    expected_metadata["ownerReferences"][0]["uid"] = "<the Job's uid>"
    assert expected_metadata == secret["metadata"]
    assert not any(canary in out for canary in CANARIES)


@pytest.mark.parametrize(
    ("kind", "verb", "secret"),
    [("apply", "apply", True), ("plan", "plan", True), ("uninstall", "uninstall", False)],
)
def test_each_kind_renders_its_command_and_json_is_a_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, verb: str, secret: bool
) -> None:
    (tmp_path / "shop.yaml").write_text(yaml.safe_dump_all(_objects()))

    code, out, err = _run(
        capsys, str(tmp_path / "shop.yaml"), "--tag", "1.0.0", "--kind", kind, "--output", "json"
    )

    document = json.loads(out)
    assert (0, "List") == (code, document["kind"])
    kinds = [item["kind"] for item in document["items"]]
    assert (["Job", "Secret"] if secret else ["Job"]) == kinds
    command = document["items"][0]["spec"]["template"]["spec"]["containers"][0]["command"]
    assert verb == command[2]
    assert "no metadata.uid" in err
    assert not any(canary in out + err for canary in CANARIES)


@pytest.mark.parametrize(
    ("change", "argv", "fragment"),
    [
        pytest.param(
            lambda objs: objs.pop(2),
            [],
            "shop.yaml document 4 (shop): spec.converge.secretKeySecretRef.name: "
            "Secret default/shop-werf-key not found",
            id="missing-secret",
        ),
        pytest.param(
            lambda objs: objs[-1]["spec"]["converge"].update(timeout="2d"),
            [],
            "shop.yaml document 5 (shop): spec.converge.timeout:",
            id="bad-field",
        ),
        pytest.param(lambda objs: None, ["--tag", "no tag"], "--tag: 'no tag'", id="bad-tag"),
        pytest.param(
            lambda objs: None, ["--digest", "sha256:short"], "--digest: 'sha256:short'", id="digest"
        ),
        pytest.param(lambda objs: objs.pop(), [], "no WerfBundle found", id="no-bundle"),
    ],
)
def test_bad_input_exits_2_naming_file_object_and_field_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change, argv, fragment
) -> None:
    objects = _objects()
    change(objects)
    (tmp_path / "shop.yaml").write_text(yaml.safe_dump_all(objects))

    code, out, err = _run(capsys, str(tmp_path / "shop.yaml"), "--tag", "1.0.0", *argv)

    assert (2, "") == (code, out)
    assert fragment in err
    assert "Traceback" not in err
    assert not any(canary in err for canary in CANARIES)


def test_a_missing_path_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, str(tmp_path / "nope.yaml"), "--tag", "1.0.0")
    assert (2, "") == (code, out)
    assert "nope.yaml: no such file or directory" in err
