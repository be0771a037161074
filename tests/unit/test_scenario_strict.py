"""A scenario says exactly what it means or is refused: an unknown key anywhere is an
error naming its path and the closest known key, and a value of the wrong type is an
error, never a traceback and never silently ignored (a rule with ``bundel: shop`` used to
match every Job). Each case was run against main first: the typos were ignored,
``attempt: abc`` raised ValueError and ``patch: "hello"`` TypeError."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from werfop.main import main
from werfop.simulate import InputError, load_scenario

BUNDLE = """\
apiVersion: werf.io/v1alpha1
kind: WerfBundle
metadata: {name: shop, namespace: default}
spec:
  registry: {url: ghcr.io/acme/shop, versionConstraint: "^1"}
"""


@pytest.mark.parametrize(
    ("scenario", "message"),
    [
        pytest.param(
            {"registires": {}},
            "registires: unknown field (did you mean 'registries'?)",
            id="top-level",
        ),
        pytest.param(
            {"jobs": {"default": {"afterr": "1m"}}},
            "jobs.default.afterr: unknown field (did you mean 'after'?)",
            id="jobs-default",
        ),
        pytest.param(
            {"jobs": {"rules": [{"bundel": "shop", "result": "failed"}]}},
            "jobs.rules[0].bundel: unknown field (did you mean 'bundle'?)",
            id="rule",
        ),
        pytest.param(
            {"registries": {"r/x": [{"push": {"tga": "1.0.0", "tag": "1.0.0"}}]}},
            "registries['r/x'][0].push.tga: unknown field (did you mean 'tag'?)",
            id="push",
        ),
        pytest.param(
            {
                "changes": [
                    {"at": "1h", "object": {"kind": "WerfBundle", "name": "shop"}, "changez": {}}
                ]
            },
            "changes[0].changez: unknown field",
            id="change",
        ),
        pytest.param(
            {"jobs": {"rules": [{"attempt": "abc"}]}},
            "jobs.rules[0].attempt: must be an integer, not 'abc'",
            id="attempt-type",
        ),
        pytest.param(
            {"changes": [{"object": {"kind": "WerfBundle", "name": "shop"}, "patch": "hello"}]},
            "changes[0].patch: must be a mapping",
            id="patch-type",
        ),
        pytest.param(
            {"registries": {"r/x": [{"outage": "30m"}]}},
            "registries['r/x'][0].outage: must be a mapping",
            id="outage-type",
        ),
        pytest.param(
            {"jobs": {"rules": [{"bundle": ["shop"]}]}},
            "jobs.rules[0].bundle: must be a string",
            id="bundle-type",
        ),
    ],
)
def test_a_mistaken_scenario_is_refused_naming_the_path(tmp_path: Path, scenario, message):
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario))

    with pytest.raises(InputError) as refused:
        load_scenario(str(path))

    assert any(message in problem for problem in refused.value.problems), refused.value.problems


def test_the_cli_exits_2_with_the_problem_and_no_traceback(tmp_path: Path, capsys):
    (tmp_path / "bundle.yaml").write_text(BUNDLE)
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        yaml.safe_dump({"jobs": {"rules": [{"bundel": "shop", "result": "failed"}]}})
    )

    code = main(["simulate", str(tmp_path / "bundle.yaml"), "--scenario", str(scenario)])

    err = capsys.readouterr().err
    assert 2 == code
    assert "jobs.rules[0].bundel: unknown field (did you mean 'bundle'?)" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(
            {
                "object": {"kind": "WerfBundle", "name": "nosuch"},
                "patch": {"spec": {"suspend": True}},
            },
            "changes[0].object: WerfBundle default/nosuch is not defined in the files",
            id="phantom",
        ),
        pytest.param(
            {"object": {"kind": "WerfBundle", "name": "shop"}, "patch": {"spec": [1, 2]}},
            "changes[0].patch: WerfBundle default/shop would be invalid: spec: must be of type object",
            id="spec-list",
        ),
        pytest.param(
            {
                "object": {"kind": "WerfBundle", "name": "shop"},
                "patch": {"spec": {"registry": {"pollInterval": "1s"}}},
            },
            "would be invalid: spec.registry.pollInterval: must be between 30s and 24h",
            id="poll-interval",
        ),
    ],
)
def test_a_change_must_aim_at_an_object_and_leave_it_valid(tmp_path: Path, capsys, change, message):
    (tmp_path / "bundle.yaml").write_text(BUNDLE)
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(yaml.safe_dump({"changes": [{"at": "1h", **change}]}))

    code = main(
        ["simulate", str(tmp_path / "bundle.yaml"), "--scenario", str(scenario), "--until", "2h"]
    )

    err = capsys.readouterr().err
    assert 2 == code
    assert message in err
    assert "Traceback" not in err


def test_every_shipped_scenario_is_still_accepted():
    root = Path(__file__).resolve().parents[2] / "examples"
    for path in [root / "scenario.yaml", *sorted(root.glob("features/*/scenario.yaml"))]:
        load_scenario(str(path))  # raises InputError on any unknown key or type


def test_a_scenario_named_as_a_manifest_is_refused_and_one_in_a_folder_is_skipped_aloud(
    tmp_path: Path, capsys
):
    (tmp_path / "bundle.yaml").write_text(BUNDLE)
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(yaml.safe_dump({"until": "1h"}))

    named = main(["simulate", str(tmp_path / "bundle.yaml"), str(scenario)])
    named_err = capsys.readouterr().err
    folder = main(["simulate", str(tmp_path), "--until", "1h"])
    folder_err = capsys.readouterr().err
    given = main(["simulate", str(tmp_path), "--scenario", str(scenario)])
    given_err = capsys.readouterr().err

    assert (2, 0, 0) == (named, folder, given)
    assert f"{scenario}: this is a scenario: pass it with --scenario" in named_err
    assert f"{scenario}: skipped, a scenario" in folder_err
    assert "skipped" not in given_err


def test_yaml_errors_name_file_line_and_column(tmp_path: Path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [x}\n")

    code = main(["simulate", str(bad)])

    assert 2 == code
    assert f"{bad}:3:" in capsys.readouterr().err


def test_a_scripted_registry_no_bundle_follows_is_a_warning_not_an_error(tmp_path: Path, capsys):
    (tmp_path / "bundle.yaml").write_text(BUNDLE)
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        yaml.safe_dump({"registries": {"ghcr.io/acme/shp": [{"push": {"tag": "1.0.0"}}]}})
    )

    code = main(
        ["simulate", str(tmp_path / "bundle.yaml"), "--scenario", str(scenario), "--until", "1h"]
    )

    err = capsys.readouterr().err
    assert 0 == code
    assert "warning: registries['ghcr.io/acme/shp'] is scripted but no bundle follows it" in err
    assert "warning: default/shop: its repository ghcr.io/acme/shop has no script" in err
