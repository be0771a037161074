"""The alerts of deploy/monitoring evaluated by Prometheus's own engine: ``promtool check
rules`` on the rule file and ``promtool test rules`` on made-up series, one scenario per
alert, each with a case that must fire and cases that must not (a suspended bundle, a
registry that also answers, a replica that leads). promtool comes from Debian's
prometheus package (scripts/promtool.sh, which ``make test`` runs); the annotations are
left out of what promtool sees, as they are prose, and test_monitoring.py checks them.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from .manifests import NAMESPACE, find


def _promtool() -> str | None:
    given = os.environ.get("WERFOP_PROMTOOL")
    if given:
        return given
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    cached = sorted(glob.glob(f"{cache}/werfop/promtool/*/promtool"))
    return cached[-1] if cached else shutil.which("promtool")


PROMTOOL = _promtool()
pytestmark = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool not found: scripts/promtool.sh fetches it (make test runs it)",
)


def rule_file(folder: Path) -> Path:
    """The PrometheusRule's spec as a Prometheus rule file, without annotations."""
    spec = find("PrometheusRule", "werfop", NAMESPACE)["spec"]
    groups = [
        {
            **group,
            "rules": [{k: v for k, v in r.items() if k != "annotations"} for r in group["rules"]],
        }
        for group in spec["groups"]
    ]
    path = folder / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": groups}))
    return path


def promtool_test(
    folder: Path, series: list[tuple[str, str]], checks: list[dict[str, Any]]
) -> None:
    rules = rule_file(folder)
    test = {
        "rule_files": [rules.name],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in series],
                "alert_rule_test": checks,
            }
        ],
    }
    path = folder / "test.yaml"
    path.write_text(yaml.safe_dump(test))
    done = subprocess.run(
        [str(PROMTOOL), "test", "rules", path.name], cwd=folder, capture_output=True, text=True
    )
    assert 0 == done.returncode, done.stdout + done.stderr


def alert(at: str, name: str, *fired: dict[str, str]) -> dict[str, Any]:
    return {"eval_time": at, "alertname": name, "exp_alerts": [{"exp_labels": f} for f in fired]}


def condition(
    namespace: str, name: str, type_: str, current: str, samples: str
) -> list[tuple[str, str]]:
    """The three series of one condition, as werfop exports them (from pod werfop-a)."""
    zeros = samples.replace("1x", "0x").replace("1+", "0+")
    return [
        (
            f'werfop_bundle_condition{{namespace="{namespace}",name="{name}",type="{type_}",'
            f'status="{s}",pod="werfop-a"}}',
            samples if s == current else zeros,
        )
        for s in ("True", "False", "Unknown")
    ]


def bundle_gauge(metric: str, name: str, samples: str) -> tuple[str, str]:
    return (f'{metric}{{namespace="apps",name="{name}",pod="werfop-a"}}', samples)


def test_promtool_accepts_the_rule_file(tmp_path):
    done = subprocess.run(
        [str(PROMTOOL), "check", "rules", str(rule_file(tmp_path))], capture_output=True, text=True
    )
    assert 0 == done.returncode, done.stdout + done.stderr


def test_not_ready_fires_after_15_minutes_and_never_for_a_suspended_or_ready_bundle(tmp_path):
    series = [
        *condition("apps", "shop", "Ready", "False", "1x40"),
        *condition("apps", "edge", "Ready", "False", "1x40"),  # suspended
        *condition("apps", "blog", "Ready", "True", "1x40"),
        *condition("apps", "cart", "Ready", "Unknown", "1x40"),
        bundle_gauge("werfop_bundle_suspended", "shop", "0x40"),
        bundle_gauge("werfop_bundle_suspended", "edge", "1x40"),
        bundle_gauge("werfop_bundle_suspended", "blog", "0x40"),
        bundle_gauge("werfop_bundle_suspended", "cart", "0x40"),
    ]
    fired = [
        {"severity": "warning", "namespace": "apps", "name": n, "status": s}
        for n, s in (("shop", "False"), ("cart", "Unknown"))
    ]
    promtool_test(
        tmp_path,
        series,
        [alert("10m", "WerfBundleNotReady"), alert("20m", "WerfBundleNotReady", *fired)],
    )


def test_stalled_fires_after_5_minutes(tmp_path):
    series = [
        # Stalled is carried only while True: one series set, from minute 0
        *condition("apps", "shop", "Stalled", "True", "1x20"),
    ]
    fired = {"severity": "warning", "namespace": "apps", "name": "shop"}
    promtool_test(
        tmp_path,
        series,
        [alert("3m", "WerfBundleStalled"), alert("10m", "WerfBundleStalled", fired)],
    )


def test_bundle_registry_unreachable_fires_on_the_registry_reachable_condition(tmp_path):
    series = [
        *condition("apps", "shop", "RegistryReachable", "False", "1x30"),
        *condition("apps", "blog", "RegistryReachable", "True", "1x30"),
    ]
    fired = {"severity": "warning", "namespace": "apps", "name": "shop"}
    promtool_test(
        tmp_path,
        series,
        [
            alert("10m", "WerfBundleRegistryUnreachable"),
            alert("20m", "WerfBundleRegistryUnreachable", fired),
        ],
    )


def test_version_lag_fires_after_an_hour_and_never_for_a_suspended_bundle(tmp_path):
    series = [
        bundle_gauge("werfop_version_lag", "shop", "1x90"),
        bundle_gauge("werfop_version_lag", "edge", "1x90"),
        bundle_gauge("werfop_version_lag", "blog", "0x90"),
        bundle_gauge("werfop_bundle_suspended", "shop", "0x90"),
        bundle_gauge("werfop_bundle_suspended", "edge", "1x90"),
        bundle_gauge("werfop_bundle_suspended", "blog", "0x90"),
    ]
    fired = {"severity": "warning", "namespace": "apps", "name": "shop"}
    promtool_test(
        tmp_path,
        series,
        [alert("50m", "WerfBundleVersionLag"), alert("70m", "WerfBundleVersionLag", fired)],
    )


@pytest.mark.parametrize(
    ("failed", "succeeded", "fires"),
    [
        pytest.param("0+1x90", "0+0x90", True, id="failing-and-none-succeed"),
        pytest.param("0+1x90", "0+2x90", False, id="more-succeed-than-fail"),
        pytest.param("0x30 1x60", None, False, id="one-failure-and-no-success-series"),
        pytest.param("0+1x90", None, True, id="failing-and-no-success-series"),
    ],
)
def test_deploy_jobs_failing_fires_when_most_jobs_fail(tmp_path, failed, succeeded, fires):
    series = [('werfop_jobs_total{result="Failed",pod="werfop-a"}', failed)]
    if succeeded is not None:
        series.append(('werfop_jobs_total{result="Succeeded",pod="werfop-a"}', succeeded))
    expected = [{"severity": "warning"}] if fires else []
    promtool_test(tmp_path, series, [alert("80m", "WerfopDeployJobsFailing", *expected)])


def test_registry_unreachable_fires_for_a_host_that_answers_nothing(tmp_path):
    def requests(host: str, outcome: str, samples: str) -> tuple[str, str]:
        return (
            f'werfop_registry_requests_total{{registry="{host}",outcome="{outcome}",pod="werfop-a"}}',
            samples,
        )

    series = [
        requests("down.example.com", "OK", "0+1x10 10x35"),  # answers for 10 minutes only
        requests("down.example.com", "Timeout", "0+1x45"),
        requests("flaky.example.com", "Timeout", "0+1x45"),
        requests("flaky.example.com", "NotModified", "0+1x45"),
        requests("strict.example.com", "Unauthorized", "0+1x45"),  # a bundle's problem
    ]
    fired = {"severity": "warning", "registry": "down.example.com"}
    promtool_test(
        tmp_path,
        series,
        [
            alert("20m", "WerfopRegistryUnreachable"),  # it answered 10 minutes ago
            alert("40m", "WerfopRegistryUnreachable", fired),
        ],
    )


@pytest.mark.parametrize(
    ("series", "fired"),
    [
        pytest.param(
            [
                ('werfop_leader{namespace="werfop-system",pod="werfop-a"}', "0x20"),
                ('werfop_leader{namespace="werfop-system",pod="werfop-b"}', "0x20"),
            ],
            [{"severity": "critical", "namespace": "werfop-system"}],
            id="no-replica-leads",
        ),
        pytest.param(
            [('werfop_bundles{phase="Synced",pod="werfop-a"}', "1x20")],
            [{"severity": "critical"}],
            id="no-werfop-scraped",
        ),
        pytest.param(
            [
                ('werfop_leader{namespace="werfop-system",pod="werfop-a"}', "1x20"),
                ('werfop_leader{namespace="werfop-system",pod="werfop-b"}', "0x20"),
            ],
            [],
            id="one-leads",
        ),
    ],
)
def test_no_leader_fires_when_no_replica_leads_or_none_is_scraped(tmp_path, series, fired):
    promtool_test(tmp_path, series, [alert("10m", "WerfopNoLeader", *fired)])
