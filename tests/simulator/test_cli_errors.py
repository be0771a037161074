"""Invalid input stops the simulator with exit code 2 and messages naming file, document
and field."""

import subprocess
import sys
from pathlib import Path


def _simulate(*args):
    return subprocess.run(
        [sys.executable, "-m", "werfop.main", "simulate", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_invalid_bundle_is_reported_with_file_document_and_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: ok}\n---\n"
        "apiVersion: werf.io/v1alpha1\nkind: WerfBundle\nmetadata: {name: b}\n"
        "spec: {registry: {url: 'ghcr.io/acme/app:1.0', pollInterval: 5s}}\n"
    )
    done = _simulate(str(bad))
    assert 2 == done.returncode
    assert f"{bad} document 2 (b): spec.registry.url:" in done.stderr  # counted from 1
    assert (
        f"{bad} document 2 (b): spec.registry.pollInterval: must be between 30s and 24h"
        in done.stderr
    )
    assert "" == done.stdout


def test_bad_scenario_is_reported(tmp_path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text("registries:\n  r.io/a/b:\n    - {at: soon, push: {tag: 1.0.0}}\n")
    good = tmp_path / "b.yaml"
    good.write_text(
        "apiVersion: werf.io/v1alpha1\nkind: WerfBundle\nmetadata: {name: b}\nspec: {registry: {url: r.io/a/b}}\n"
    )
    done = _simulate(str(good), "--scenario", str(scenario))
    assert 2 == done.returncode
    assert "registries['r.io/a/b'][0].at: must be a duration" in done.stderr


def test_missing_path_is_an_input_error(tmp_path):
    done = _simulate(str(tmp_path / "nope"))
    assert 2 == done.returncode
    assert "no such file or directory" in done.stderr


def test_without_a_scenario_nothing_deploys(tmp_path):
    good = tmp_path / "b.yaml"
    good.write_text(
        "apiVersion: werf.io/v1alpha1\nkind: WerfBundle\nmetadata: {name: b}\nspec: {registry: {url: r.io/a/b}}\n"
    )
    done = _simulate(str(good), "--until", "2h", "--output", "json")
    assert 0 == done.returncode, done.stderr
    assert "JobCreated" not in done.stdout
    assert '"phase": "Pending"' in done.stdout


def test_a_reader_that_goes_away_stops_the_run_quietly():
    # ``werfop simulate ... | head``: the report streams, so the pipe breaks mid-run.
    root = Path(__file__).resolve().parents[2]
    examples = root / "examples"
    process = subprocess.Popen(
        [sys.executable, "-m", "werfop.main", "simulate", str(examples)]
        + ["--scenario", str(examples / "scenario.yaml"), "--until", "7d", "--output", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    assert b'{\n  "events": [' == process.stdout.read(15)
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert 141 == process.wait(timeout=120)
    assert "" == stderr
