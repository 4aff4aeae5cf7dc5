"""The operations files under ops/ against the metrics the gateway really exports: every metric
name and label an alert rule or a dashboard panel queries is in the /metrics exposition of
``GatewayMetrics``; every alert links to its runbook entry; the rules pass ``promtool check
rules`` and their unit tests (ops/prometheus/alerts.test.yml) pass ``promtool test rules``."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.parser import text_string_to_metric_families

from consumers.metrics import GatewayMetrics

ROOT = Path(__file__).resolve().parents[2]
OPS = ROOT / "ops"
ALERTS = OPS / "prometheus" / "alerts.yml"
ALERT_TESTS = OPS / "prometheus" / "alerts.test.yml"
DASHBOARD = OPS / "grafana" / "custody-gateway.json"
RUNBOOK = OPS / "RUNBOOK.md"

PROMETHEUS_OWN = {"up"}
"""Series Prometheus writes itself for every scrape target."""
TARGET_LABELS = {"job", "instance"}
"""Labels Prometheus adds to every scraped series."""
PROMQL_WORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "offset", "bool"}


def _exposition() -> dict[str, set[str]]:
    """Every sample name of the exposition, once each metric has a series, with its labels."""
    metrics = GatewayMetrics()
    for metric in vars(metrics).values():
        if not isinstance(metric, Counter | Gauge | Histogram):
            continue
        names = metric._labelnames
        series = metric.labels(*("x" for _ in names)) if names else metric
        if isinstance(series, Counter):
            series.inc()
        elif isinstance(series, Gauge):
            series.set(1)
        else:
            series.observe(1)
    text = metrics.render().decode("utf-8")
    found: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, set()).update(sample.labels)
    return found


def _alert_rules() -> list[dict[str, str]]:
    """alert, expr and runbook_url of each rule (the file's own plain layout: ``expr:`` on
    one line or as a ``|`` block)."""
    rules: list[dict[str, str]] = []
    lines = ALERTS.read_text(encoding="utf-8").splitlines()
    for index, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("- alert:"):
            rules.append({"alert": stripped.removeprefix("- alert:").strip()})
        elif stripped.startswith("expr:"):
            value = stripped.removeprefix("expr:").strip()
            if value == "|":
                indent = len(line) - len(line.lstrip())
                block = []
                for following in lines[index + 1 :]:
                    if following.strip() and len(following) - len(following.lstrip()) <= indent:
                        break
                    block.append(following.strip())
                value = " ".join(block)
            rules[-1]["expr"] = value
        elif stripped.startswith("runbook_url:"):
            rules[-1]["runbook_url"] = stripped.removeprefix("runbook_url:").strip()
    return rules


def _dashboard_expressions() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return [
        (panel["title"], target["expr"])
        for panel in dashboard["panels"]
        for target in panel.get("targets", ())
    ]


def _names_and_labels(expr: str) -> tuple[set[str], set[str]]:
    """The metric names an expression selects, and the label names it matches or groups by."""
    labels: set[str] = set()
    for matchers in re.findall(r"\{([^}]*)\}", expr):
        labels.update(re.findall(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)", matchers))
    for grouping in re.findall(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", expr):
        labels.update(name.strip() for name in grouping.split(",") if name.strip())
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\"[^\"]*\"", " ", expr)
    bare = re.sub(r"\b(?:by|without|on|ignoring)\s*\([^)]*\)", " ", bare)
    names = {
        token
        for token in re.findall(r"(?<![\w$.])([a-zA-Z_:][\w:]*)\b(?!\s*\()", bare)
        if token not in PROMQL_WORDS
    }
    return names, labels


EXPOSITION = _exposition()
EXPRESSIONS = [(f"alert {rule['alert']}", rule["expr"]) for rule in _alert_rules()] + [
    (f"panel {title!r}", expr) for title, expr in _dashboard_expressions()
]


@pytest.mark.parametrize(("where", "expr"), EXPRESSIONS, ids=[where for where, _ in EXPRESSIONS])
def test_every_queried_metric_and_label_is_in_the_exposition(where: str, expr: str) -> None:
    names, labels = _names_and_labels(expr)
    assert names, f"{where}: no metric name found in {expr!r}"
    unknown = sorted(name for name in names - PROMETHEUS_OWN if name not in EXPOSITION)
    assert not unknown, f"{where}: not in /metrics: {unknown}"
    known_labels = set(TARGET_LABELS)
    for name in names - PROMETHEUS_OWN:
        known_labels |= EXPOSITION[name]
    assert labels <= known_labels, f"{where}: labels not on its metrics: {labels - known_labels}"


def test_the_name_check_finds_a_misspelt_metric() -> None:
    names, labels = _names_and_labels(
        'sum by (processor) (rate(custody_gateway_transaction_total{result="aborted"}[5m])) > 3'
    )
    assert names == {"custody_gateway_transaction_total"}
    assert "custody_gateway_transaction_total" not in EXPOSITION
    assert labels == {"processor", "result"}


def test_the_dashboard_and_the_rules_cover_the_issue_s_metrics() -> None:
    queried = set().union(*(_names_and_labels(expr)[0] for _, expr in EXPRESSIONS))
    assert {
        "custody_gateway_consumer_lag_messages",
        "custody_gateway_broker_reachable",
        "custody_gateway_ready",
        "custody_gateway_transactions_total",
        "custody_gateway_dead_letters_total",
        "custody_gateway_record_to_commit_seconds_bucket",
        "up",
    } <= queried


def test_every_alert_links_to_its_runbook_entry_and_the_readme_to_the_runbook() -> None:
    rules = _alert_rules()
    assert len(rules) == 7
    headings = {
        re.sub(r"[^\w-]", "", line.removeprefix("## ").strip().lower().replace(" ", "-"))
        for line in RUNBOOK.read_text(encoding="utf-8").splitlines()
        if line.startswith("## ")
    }
    for rule in rules:
        assert rule.get("runbook_url") == f"ops/RUNBOOK.md#{rule['alert'].lower()}", rule
        assert rule["alert"].lower() in headings, f"no runbook entry for {rule['alert']}"
    assert "ops/RUNBOOK.md" in (ROOT / "README.md").read_text(encoding="utf-8")


def _promtool() -> str:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip(
            "promtool is not installed (Debian: apt-get install prometheus; make toolchain)"
        )
    return promtool


def test_promtool_checks_the_alert_rules() -> None:
    result = subprocess.run(
        [_promtool(), "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 7 rules found" in result.stdout


def test_promtool_unit_tests_fire_and_hold_every_alert() -> None:
    text = ALERT_TESTS.read_text(encoding="utf-8")
    for rule in _alert_rules():
        assert f"alertname: {rule['alert']}" in text, f"{rule['alert']} has no promtool test"
    result = subprocess.run(
        [_promtool(), "test", "rules", str(ALERT_TESTS)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
