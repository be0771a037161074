"""``werfop simulate`` as something to gate on and read: ``--fail-on`` (exit 3, the report
still complete; an unknown phase exits 2), ``--bundle`` (the report limited to some
bundles), a deleted bundle's row, aligned columns, durations with units, and registry
requests per repository."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from werfop.report_text import TIME_WIDTH

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
FEATURES = EXAMPLES / "features"


def _simulate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "werfop.main", "simulate", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _examples(*extra: str) -> subprocess.CompletedProcess:
    return _simulate(str(EXAMPLES), "--scenario", str(EXAMPLES / "scenario.yaml"), *extra)


def _feature(name: str, *extra: str) -> subprocess.CompletedProcess:
    folder = FEATURES / name
    return _simulate(str(folder), "--scenario", str(folder / "scenario.yaml"), *extra)


def _timeline(stdout: str) -> list[str]:
    lines = stdout.splitlines()
    return lines[: next(i for i, line in enumerate(lines) if line.startswith("("))]


def _table(stdout: str, header: str) -> list[list[str]]:
    lines = stdout.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[first:]:
        if not line.strip():
            break
        rows.append(line.split())
    return rows


@pytest.fixture(scope="module")
def plain():
    done = _examples()
    assert 0 == done.returncode, done.stderr
    return done


# --- --fail-on ------------------------------------------------------------------------


def test_fail_on_a_phase_a_bundle_ends_in_exits_3_with_the_whole_report(plain):
    done = _examples("--fail-on", "Failed,Suspended")

    assert 3 == done.returncode
    assert plain.stdout == done.stdout  # the report is complete all the same
    assert "werfop simulate: --fail-on: default/edge ended Suspended\n" in done.stderr


def test_fail_on_a_phase_no_bundle_ends_in_exits_0():
    # the shop is Failed during the outage, but recovers: only the end counts
    done = _examples("--fail-on", "Failed")

    assert 0 == done.returncode, done.stderr
    assert "--fail-on" not in done.stderr


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("Broken", id="unknown"),
        pytest.param("Failed,synced", id="one-of-two-unknown-case-matters"),
        pytest.param(",", id="empty"),
    ],
)
def test_fail_on_an_unknown_phase_exits_2_before_running(value):
    done = _examples("--fail-on", value)

    assert 2 == done.returncode
    assert "" == done.stdout
    assert "--fail-on:" in done.stderr
    assert "phases: Pending, Syncing, Synced, Failed, Suspended, Deleted" in done.stderr


def test_fail_on_deleted_counts_a_bundle_deleted_during_the_run():
    done = _feature("uninstall", "--fail-on", "Deleted")

    assert 3 == done.returncode
    assert "default/preview ended Deleted" in done.stderr


# --- --bundle -------------------------------------------------------------------------


def test_bundle_limits_the_timeline_and_the_tables(plain):
    done = _examples("--bundle", "default/shop")

    assert 0 == done.returncode, done.stderr
    assert {"default/shop"} == {line.split()[1] for line in _timeline(done.stdout)}
    assert [["default/shop", "Synced", "1.2.0", "5", "ghcr.io/acme/shop"]] == _table(
        done.stdout, "BUNDLE"
    )[1:]
    assert [["ghcr.io/acme/shop", "1", "313", "6", "1"]] == _table(done.stdout, "REPOSITORY")[1:]
    # the shop's lines are those of the whole run: the others ran alongside
    shop = [line.split() for line in _timeline(plain.stdout) if " default/shop " in line]
    assert shop == [line.split() for line in _timeline(done.stdout)]
    # the API server's requests cannot be told apart per bundle: the whole run's, said so
    whole = next(line for line in plain.stdout.splitlines() if line.startswith("API server"))
    assert whole.replace("requests:", "requests, all bundles:") in done.stdout.splitlines()


def test_bundle_is_repeatable_and_limits_the_json_report():
    done = _examples("--bundle", "default/shop", "--bundle", "platform/billing", "--output", "json")

    assert 0 == done.returncode, done.stderr
    document = json.loads(done.stdout)
    assert ["default/shop", "platform/billing"] == list(document["bundles"])
    assert {"default/shop", "platform/billing"} == {e["bundle"] for e in document["events"]}
    assert ["ghcr.io/acme/billing", "ghcr.io/acme/shop"] == list(document["registry"])


def test_an_unknown_bundle_exits_2_with_the_closest_name():
    done = _examples("--bundle", "default/shp")

    assert 2 == done.returncode
    assert "--bundle: no WerfBundle 'default/shp' in the files (did you mean 'default/shop'?)" in (
        done.stderr
    )


def test_fail_on_looks_at_the_bundles_asked_for_only():
    done = _examples("--bundle", "default/shop", "--fail-on", "Suspended")

    assert 0 == done.returncode, done.stderr


# --- the text report ------------------------------------------------------------------


def test_a_deleted_bundle_keeps_its_row_with_phase_deleted():
    done = _feature("uninstall")

    assert 0 == done.returncode, done.stderr
    assert [["default/preview", "Deleted", "0.4.0", "1", "ghcr.io/acme/preview"]] == _table(
        done.stdout, "BUNDLE"
    )[1:]


@pytest.mark.parametrize("feature", ["drift", "uninstall", "tenancy", None])
def test_every_timeline_line_has_its_columns_at_the_same_place(feature):
    done = _examples() if feature is None else _feature(feature)
    assert 0 == done.returncode, done.stderr
    lines = _timeline(done.stdout)
    assert lines
    # times with and without milliseconds, every event type, the longest names
    bundle_at = {len(line) - len(line[TIME_WIDTH:].lstrip()) for line in lines}
    assert {TIME_WIDTH + 2} == bundle_at, lines
    type_at = {line.index(line.split()[2], TIME_WIDTH + 2 + len(line.split()[1])) for line in lines}
    assert 1 == len(type_at), lines
    details_at = {
        line.index(line.split()[3], max(type_at) + len(line.split()[2]))
        for line in lines
        if len(line.split()) > 3
    }
    assert 1 == len(details_at), lines


def test_every_duration_has_its_unit(plain):
    retries = re.findall(r"retryIn=(\S+)", plain.stdout)

    assert 8 == len(retries)
    assert all(re.fullmatch(r"(\d+h)?(\d+m)?\d+s|\d+(\.\d+)?s", value) for value in retries), (
        retries
    )
    assert "retryIn=31s" in plain.stdout  # 30.65 seconds in the JSON report


def test_registry_requests_are_counted_per_repository_not_per_bundle(tmp_path):
    bundles = "".join(
        f"---\napiVersion: werf.io/v1alpha1\nkind: WerfBundle\nmetadata: {{name: {name}}}\n"
        "spec: {registry: {url: ghcr.io/acme/shared, pollInterval: 10m}}\n"
        for name in ("one", "two")
    )
    (tmp_path / "bundles.yaml").write_text(bundles)
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text("registries:\n  ghcr.io/acme/shared:\n    - {at: 0s, push: {tag: 1.0.0}}\n")

    done = _simulate(str(tmp_path / "bundles.yaml"), "--scenario", str(scenario), "--until", "2h")
    document = json.loads(
        _simulate(
            str(tmp_path / "bundles.yaml"),
            "--scenario",
            str(scenario),
            "--until",
            "2h",
            "--output",
            "json",
        ).stdout
    )

    assert 0 == done.returncode, done.stderr
    requests = document["registry"]["ghcr.io/acme/shared"]["requests"]
    assert [
        ["REPOSITORY", "BUNDLES", "REGISTRY", "REQUESTS", "PUSHES", "OUTAGES"],
        ["ghcr.io/acme/shared", "2", str(requests), "1", "0"],
    ] == _table(done.stdout, "REPOSITORY")
    assert ["BUNDLE", "PHASE", "APPLIED", "JOBS", "REPOSITORY"] == _table(done.stdout, "BUNDLE")[0]


# --- --report -------------------------------------------------------------------------


def test_report_writes_the_page_and_says_where(tmp_path, plain):
    page = tmp_path / "report.html"

    done = _examples("--report", str(page))

    assert 0 == done.returncode, done.stderr
    assert plain.stdout == done.stdout  # the text report is the same
    assert f"werfop simulate: wrote {page} (" in done.stderr
    text = page.read_text()
    assert text.startswith("<!doctype html>")
    assert all(f'"b":"{bundle}"' in text for bundle in ("default/edge", "default/shop"))


def test_report_into_a_missing_folder_exits_2_before_running(tmp_path):
    done = _examples("--report", str(tmp_path / "nope" / "report.html"))

    assert 2 == done.returncode
    assert "" == done.stdout
    assert "--report: the folder of" in done.stderr
