"""deploy/monitoring: the alerts and the Grafana dashboard say only what werfop can
answer. Every expression parses and type-checks with a real PromQL parser
(promql-parser, the Rust parser's Python binding), and names only metrics that a live
``Metrics()`` registry exports (collectors included, so no hand-kept list can drift);
the label values the rules match on are ones werfop writes; every alert is explained in
docs/monitoring.md."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import promql_parser
import pytest
import yaml

from werfop.adapters.registry import Reason
from werfop.runtime.metrics import CONDITION_STATUSES, Metrics

from .manifests import DEPLOY, NAMESPACE, ROOT, documents, find

MONITORING = DEPLOY / "monitoring"
DASHBOARD = MONITORING / "grafana_dashboard.json"
DOC = ROOT / "docs" / "monitoring.md"

# What prometheus-client appends to a family's name in the samples it exposes.
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "gaugehistogram": ("_bucket", "_gcount", "_gsum"),
    "info": ("_info",),
    "stateset": ("",),
    "gauge": ("",),
    "unknown": ("",),
}
# Grafana's interval macros, replaced by a duration before parsing (they are not PromQL).
GRAFANA_MACROS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}


def exported_names() -> set[str]:
    """Every sample name a fresh operator's /metrics can show."""
    names: set[str] = set()
    for family in Metrics().registry.collect():
        names |= {family.name + suffix for suffix in SUFFIXES[family.type]}
        names |= {sample.name for sample in family.samples}
    return names


EXPORTED = exported_names()


def selectors(expr: str) -> list[promql_parser.VectorSelector]:
    """The vector selectors of an expression; parsing raises ValueError when the
    expression is not valid PromQL (syntax, unknown function, argument types)."""
    found: list[promql_parser.VectorSelector] = []

    def visit(node: object) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            found.append(node)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return found


def metric_names(expr: str) -> set[str]:
    names = set()
    for selector in selectors(expr):
        assert selector.name, f"a selector without a metric name in {expr!r}"
        names.add(selector.name)
    return names


# --- the rules ----------------------------------------------------------------------------


def rules() -> list[dict[str, Any]]:
    rule = find("PrometheusRule", "werfop", NAMESPACE)
    return [r for group in rule["spec"]["groups"] for r in group["rules"]]


RULES = rules()


def _rule_id(rule: dict[str, Any]) -> str:
    return str(rule.get("alert") or rule.get("record"))


@pytest.mark.parametrize("rule", [pytest.param(r, id=_rule_id(r)) for r in RULES])
def test_alert_rule_parses_and_names_only_exported_metrics(rule):
    names = metric_names(rule["expr"])

    assert names, "an alert on no metric"
    assert set() == names - EXPORTED


@pytest.mark.parametrize("rule", [pytest.param(r, id=_rule_id(r)) for r in RULES])
def test_alert_rule_is_complete(rule):
    assert {"alert", "expr", "for", "labels", "annotations"} == rule.keys()
    assert rule["labels"]["severity"] in ("warning", "critical")
    assert {"summary", "description"} <= rule["annotations"].keys()
    promql_parser.parse_duration(rule["for"])  # raises ValueError on a bad duration


def _matched_values(name: str, label: str) -> Iterator[str]:
    """The values that the rules' selectors of metric ``name`` match ``label`` against
    (each alternative of a regular expression)."""
    for rule in RULES:
        for selector in selectors(rule["expr"]):
            if selector.name != name:
                continue
            for matcher in selector.matchers.matchers:
                if matcher.name == label:
                    yield from matcher.value.split("|")


def test_registry_outcomes_in_the_rules_are_ones_werfop_counts():
    outcomes = {v for k, v in vars(Reason).items() if k.isupper()} | {"OK", "NotModified"}
    used = set(_matched_values("werfop_registry_requests_total", "outcome"))

    assert used
    assert set() == used - outcomes


def test_condition_statuses_and_job_results_in_the_rules_are_ones_werfop_writes():
    statuses = set(_matched_values("werfop_bundle_condition", "status"))
    results = set(_matched_values("werfop_jobs_total", "result"))

    assert statuses and statuses <= set(CONDITION_STATUSES)
    assert results and results <= {"Created", "Succeeded", "Failed"}


def test_every_alert_is_explained_in_docs_monitoring():
    headings = set(re.findall(r"^#+ .*?`?(\w+)`?$", DOC.read_text(), re.MULTILINE))

    assert set() == {r["alert"] for r in RULES} - headings


def test_a_rule_that_names_an_unknown_metric_is_caught():
    """The check above can fail: a misspelt metric and invalid PromQL are both seen."""
    misspelt = 'werfop_bundle_conditions{type="Ready"} == 1 or werfop_leader'
    assert {"werfop_bundle_conditions"} == metric_names(misspelt) - EXPORTED
    with pytest.raises(ValueError):
        metric_names("rate(werfop_jobs_total)")  # a range vector is needed


def test_process_and_leader_metrics_are_exported():
    assert {"werfop_leader", "process_resident_memory_bytes", "werfop_bundle_condition"} <= (
        EXPORTED
    )


# --- the dashboard -------------------------------------------------------------------------


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels") or [])


def dashboard_queries() -> list[tuple[str, str]]:
    """(where, PromQL) for every panel target and every query variable; a variable's
    ``label_values(selector, label)`` contributes its selector."""
    board = dashboard()
    out = []
    for panel in _panels(board["panels"]):
        for target in panel.get("targets") or []:
            out.append((f"panel {panel['title']!r} {target['refId']}", target["expr"]))
    for variable in board["templating"]["list"]:
        if variable["type"] != "query":
            continue
        query = variable["query"]
        text = query["query"] if isinstance(query, dict) else query
        found = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", text)
        assert found, f"variable {variable['name']}: {text!r} is not label_values(selector, label)"
        out.append((f"variable {variable['name']}", found[1]))
    return out


def _promql(expr: str) -> str:
    for macro, duration in GRAFANA_MACROS.items():
        expr = expr.replace(macro, duration)
    assert "$__" not in expr, f"an unknown Grafana macro in {expr!r}"
    return expr


QUERIES = dashboard_queries()


@pytest.mark.parametrize(("where", "expr"), [pytest.param(w, e, id=w) for w, e in QUERIES])
def test_dashboard_query_parses_and_names_only_exported_metrics(where, expr):
    names = metric_names(_promql(expr))

    assert names, f"{where} names no metric"
    assert set() == names - EXPORTED


def test_dashboard_has_queries_in_panels_and_variables():
    wheres = [w for w, _ in QUERIES]

    assert any(w.startswith("panel") for w in wheres)
    assert {"variable namespace", "variable bundle"} <= set(wheres)


def test_dashboard_shows_the_condition_leader_and_process_metrics():
    used = set().union(*(metric_names(_promql(e)) for _, e in QUERIES))

    assert {
        "werfop_bundle_condition",
        "werfop_leader",
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
    } <= used


# --- the kustomization ---------------------------------------------------------------------


def test_service_monitor_keeps_the_bundle_namespace_label():
    """The rules and the dashboard group by the bundle's ``namespace``; without
    honorLabels Prometheus would rename it to ``exported_namespace``."""
    (endpoint,) = find("ServiceMonitor", "werfop", NAMESPACE)["spec"]["endpoints"]

    assert endpoint["honorLabels"] is True


KUBECTL = shutil.which("kubectl")


@pytest.mark.skipif(
    KUBECTL is None, reason="kubectl (with its built-in kustomize) is not installed"
)
def test_kustomize_builds_the_monitor_the_rule_and_the_dashboard_config_map():
    built = subprocess.run(
        [str(KUBECTL), "kustomize", str(MONITORING)], capture_output=True, text=True, check=True
    ).stdout
    objects = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(built) if d}
    config_map = objects[("ConfigMap", "werfop-grafana-dashboard")]

    assert {
        ("ServiceMonitor", "werfop"),
        ("PrometheusRule", "werfop"),
        ("ConfigMap", "werfop-grafana-dashboard"),
    } == objects.keys()
    assert NAMESPACE == config_map["metadata"]["namespace"]
    assert "1" == config_map["metadata"]["labels"]["grafana_dashboard"]
    assert dashboard() == json.loads(config_map["data"]["werfop.json"])


def test_the_rule_file_holds_one_document():
    assert 1 == len(documents(MONITORING / "prometheus_rule.yaml"))
