"""The alerting rules and the dashboard in ops/ use only metrics Errand exposes.

PromQL is checked by promtool in CI (`scripts/promtool check rules`, `test rules`);
this test holds the files to the code: every metric name they use is defined in one
of METRICS_SOURCES, or is one the product has yet to add (ADDED_BY_PRODUCT, to be
emptied as they land), so a renamed metric cannot leave a silent alert behind.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from typing import Any

import yaml

from tests.support.procs import ROOT

ALERTS = ROOT / "ops" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "ops" / "grafana" / "errand.json"
# Where metrics are defined: each floor's counters, and the scrape-time families.
METRICS_SOURCES = [
    ROOT / "bot" / "metrics.py",
    ROOT / "worker" / "metrics.py",
    ROOT / "errand" / "exposition.py",
]

# Used by ops/ before the product defines them; remove each once a metrics source has it.
ADDED_BY_PRODUCT = {
    "errand_provider_breaker_open",  # gauge: 1 while the provider breaker is open
    "errand_notices_undeliverable_total",  # counter, label milestone
    "errand_cost_usd_total",  # counter, label kind
}

NAME = re.compile(r"\berrand_[a-z0-9_]+\b")
QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
# What prometheus_client exposes for a metric defined under a name, by its type.
SUFFIXES = {
    "Counter": ("_total", "_created"),
    "Histogram": ("_bucket", "_sum", "_count", "_created"),
    "Summary": ("_sum", "_count", "_created"),
}


def exposed_names() -> set[str]:
    """Every series name the metrics sources define (read from their source, not imported)."""
    names: set[str] = set()
    trees = [ast.parse(source.read_text()) for source in METRICS_SOURCES]
    for node in (node for tree in trees for node in ast.walk(tree)):
        if not (isinstance(node, ast.Call) and node.args):
            continue
        first, kind = node.args[0], getattr(node.func, "id", getattr(node.func, "attr", ""))
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            if kind in SUFFIXES:
                base = first.value.removesuffix("_total")
                names.update(base + suffix for suffix in SUFFIXES[kind])
            elif kind.endswith(("Gauge", "MetricFamily")):
                names.add(first.value)
    return names


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression (label values in quotes are not names)."""
    return set(NAME.findall(QUOTED.sub('""', expr)))


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def dashboard_panels() -> Iterator[dict[str, Any]]:
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        yield panel
        yield from panel.get("panels", [])


def dashboard_exprs() -> list[str]:
    return [t["expr"] for p in dashboard_panels() for t in p.get("targets", [])]


def test_every_metric_used_is_defined_or_announced() -> None:
    known = exposed_names() | ADDED_BY_PRODUCT
    assert {"errand_jobs", "errand_result_lag_seconds_bucket"} <= known  # the reader works
    for where, exprs in (
        ("alerts.yml", [rule["expr"] for rule in alert_rules()]),
        ("errand.json", dashboard_exprs()),
    ):
        for expr in exprs:
            used = metric_names(expr)
            assert used, f"{where}: no Errand metric in {expr!r}"
            assert used <= known, f"{where}: unknown metrics {used - known} in {expr!r}"


def test_every_alert_tells_on_call_what_to_do() -> None:
    rules = alert_rules()
    wanted = {
        "errand_provider_breaker_open",
        "errand_result_lag_seconds_bucket",
        "errand_pulse_tick_failures_total",
        "errand_notices_undeliverable_total",
        "errand_cost_usd_total",
        "errand_metrics_source_up",
    }
    assert wanted == {name for rule in rules for name in metric_names(rule["expr"])}
    for rule in rules:
        notes = rule["annotations"]
        assert notes["summary"].strip() and len(notes["description"]) > 100, rule["alert"]
        assert rule["labels"]["severity"] in {"page", "ticket"}, rule["alert"]


def test_dashboard_is_a_grafana_model_on_a_chosen_prometheus() -> None:
    model = json.loads(DASHBOARD.read_text())
    [variable] = [v for v in model["templating"]["list"] if v["type"] == "datasource"]
    assert variable["query"] == "prometheus"
    source = {"type": "prometheus", "uid": f"${{{variable['name']}}}"}
    panels = list(dashboard_panels())
    assert len({p["id"] for p in panels}) == len(panels), "panel ids repeat"
    assert model["uid"] and model["title"] and isinstance(model["schemaVersion"], int)
    for panel in panels:
        assert {"h", "w", "x", "y"} <= panel["gridPos"].keys(), panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == source, panel["title"]
        assert panel["targets"] and all(t["datasource"] == source for t in panel["targets"])


def test_dashboard_covers_what_operators_watch() -> None:
    used = {name for expr in dashboard_exprs() for name in metric_names(expr)}
    for name in (
        "errand_jobs",
        "errand_queue_depth",
        "errand_result_lag_seconds_bucket",
        "errand_provider_calls_total",
        "errand_slack_calls_total",
        "errand_slack_rate_limited_total",
        "errand_bot_errors_total",
        "errand_webhook_deliveries_total",
        "errand_pulse_tick_failures_total",
        "errand_cost_usd_total",
    ):
        assert name in used, name
