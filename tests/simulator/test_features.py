"""One scenario per lifecycle feature (examples/features/*), checked against
expectations written out by hand from each scenario file."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

FEATURES = Path(__file__).resolve().parents[2] / "examples" / "features"


def _run(name):
    folder = FEATURES / name
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "werfop.main",
            "simulate",
            str(folder),
            "--scenario",
            str(folder / "scenario.yaml"),
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert 0 == done.returncode, done.stderr
    return json.loads(done.stdout)


def _of(document, type_, **match):
    return [
        e
        for e in document["events"]
        if e["type"] == type_ and all(e.get(k) == v for k, v in match.items())
    ]


def _times(events):
    return [e["time"] for e in events]


def test_drift_is_corrected_twice_then_given_up():
    document = _run("drift")
    # deployed at 00:00 (1 min Job); checks every 30m after a deploy or check; each finds drift
    assert ["2026-01-01T00:32:00Z", "2026-01-01T01:03:00Z"] == _times(
        _of(document, "DriftCorrection")
    )
    assert 3 == len(_of(document, "JobCreated"))  # the deploy and two corrections
    assert ["2026-01-01T01:34:00Z"] == _times(_of(document, "DriftCorrectionFailed"))
    conditions = {
        c["type"]: c for c in document["bundles"]["default/ledger"]["status"]["conditions"]
    }
    assert ("True", "DriftDetected") == (
        conditions["Drifted"]["status"],
        conditions["Drifted"]["reason"],
    )
    assert "True" == conditions["DriftCorrectionFailed"]["status"]
    assert "True" == conditions["Ready"]["status"]  # the applied version is still 3.1.0


def test_drift_checks_keep_their_interval_after_the_corrections_gave_up():
    """Regression: after DriftCorrectionFailed the checks followed the poll pace (02:04,
    02:46, 03:41 with interval 30m and pollInterval 1h), not the interval."""
    document = _run("drift")

    # each check runs 30 minutes after the previous one finished (a check takes 1 min)
    assert [
        "2026-01-01T00:31:00Z",
        "2026-01-01T01:02:00Z",
        "2026-01-01T01:33:00Z",
        "2026-01-01T02:04:00Z",
        "2026-01-01T02:35:00Z",
        "2026-01-01T03:06:00Z",
        "2026-01-01T03:37:00Z",
    ] == _times(_of(document, "DriftCheckStarted"))


def test_rollback_holds_an_older_version_until_the_annotation_goes():
    document = _run("rollback")
    created = [(e["time"][:13], e["tag"]) for e in _of(document, "JobCreated")]
    # 2.0.0 at start; 2.1.0 at the first poll after 1h; rollback at 3h; back at 6h+
    assert [
        ("2026-01-01T00", "2.0.0"),
        ("2026-01-01T01", "2.1.0"),
        ("2026-01-01T03", "2.0.0"),
        ("2026-01-01T06", "2.1.0"),
    ] == created
    assert "2.1.0" == document["bundles"]["default/web"]["status"]["lastAppliedTag"]


def test_tenancy_refuses_a_namespace_that_did_not_opt_in():
    document = _run("tenancy")
    assert [("apps/welcome", "1.0.0")] == [
        (e["bundle"], e["tag"]) for e in _of(document, "JobCreated")
    ]
    intruder = document["bundles"]["apps/intruder"]["status"]
    stalled = next(c for c in intruder["conditions"] if c["type"] == "Stalled")
    assert "spec.converge.targetNamespace" in stalled["message"]
    assert "werf.io/accept-bundles-from=apps" in stalled["message"]
    assert "Failed" == intruder["phase"]


def test_uninstall_runs_retries_then_releases_the_finalizer():
    document = _run("uninstall")
    assert ["2026-01-01T01:00:00Z", "2026-01-01T01:03:00Z"] == _times(
        _of(document, "UninstallStarted")
    )
    assert ["2026-01-01T01:02:00Z"] == _times(_of(document, "UninstallFailed"))
    assert ["2026-01-01T01:04:00Z"] == _times(_of(document, "Finalized"))
    # the bundle is gone from the cluster; the report keeps its last status, and when
    assert ["default/preview"] == list(document["bundles"])
    assert "2026-01-01T01:04:00Z" == document["bundles"]["default/preview"]["deletedAt"]


def test_a_push_notification_polls_at_once_and_only_when_sent():
    document = _run("push-notification")
    created = [(e["time"], e["tag"]) for e in _of(document, "JobCreated")]
    # 5.1.0 was announced at 2h: deployed at 2h; 5.2.0 at 4h was not: waits for the 24h poll
    assert [("2026-01-01T00:00:00Z", "5.0.0"), ("2026-01-01T02:00:00Z", "5.1.0")] == created


def test_a_watched_values_change_redeploys_at_once():
    document = _run("values-watch")
    assert ["2026-01-01T00:00:00Z", "2026-01-01T03:00:00Z"] == _times(_of(document, "JobCreated"))
    assert {"1.0.0"} == {e["tag"] for e in _of(document, "JobCreated")}


@pytest.mark.parametrize("name", sorted(p.name for p in FEATURES.iterdir()))
def test_every_feature_scenario_is_deterministic(name):
    assert _run(name) == _run(name)
