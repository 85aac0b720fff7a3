"""The shipped rules, alerts, dashboard and runbook: generated, valid, and consistent with
the metrics the library really exports."""

# Fixtures imported from dashboards_fixtures are used as test parameters (pytest's way):
# ruff: noqa: F811
from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from dashboards.generate import generated_files
from dashboards.rules import Alert, alert_groups, recording_groups
from dashboards.settings import BURN_WINDOWS, Settings
from dashboards_fixtures import exported, promtool, revoker_server  # noqa: F401 - fixtures
from mixin_inspection import (
    DASHBOARD,
    PROMETHEUS_DIR,
    ROOT,
    RULE_FILES,
    dashboard,
    metric_names,
    panel_queries,
    panels,
    recording_names,
    run_promtool,
    runbook_anchors,
    substitute,
)

from token_blacklist.testing import TelemetryCapture

PROMTOOL_TESTS = sorted((PROMETHEUS_DIR / "tests").glob("*.yml"))


def _alerts() -> list[Alert]:
    return [
        rule
        for group in alert_groups(Settings())
        for rule in group.rules
        if isinstance(rule, Alert)
    ]


def test_committed_files_are_what_the_generator_writes() -> None:
    for path, text in generated_files(Settings()).items():
        assert path.read_text() == text, (
            f"{path.relative_to(ROOT)}: run python -m dashboards.generate"
        )


def test_generate_check_reports_a_stale_file(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "dashboards.generate", "--check", "--objective", "0.99"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "dashboards/prometheus/alerts.yml: differs from the generator" in done.stderr
    assert "rules.yml" not in done.stderr  # recording rules do not depend on the objective


def test_rule_files_pass_promtool_check_without_lint_warnings(promtool: str) -> None:
    output = run_promtool(promtool, "check", "rules", *map(str, RULE_FILES))
    assert output.count("SUCCESS") == len(RULE_FILES)
    assert "WARNING" not in output.upper().replace("SUCCESS", "")


def test_promtool_unit_tests_pass(promtool: str) -> None:
    assert len(PROMTOOL_TESTS) >= 7
    output = run_promtool(promtool, "test", "rules", *map(str, PROMTOOL_TESTS))
    assert output.count("SUCCESS") == len(PROMTOOL_TESTS)


def test_promtool_unit_tests_catch_a_wrong_threshold(promtool: str, tmp_path: Path) -> None:
    """The unit tests can fail: alerts generated for a 99% objective do not pass them."""
    shutil.copytree(PROMETHEUS_DIR, tmp_path / "prometheus")
    loose = replace(Settings(), objective=0.99)
    alerts = generated_files(loose)
    (tmp_path / "prometheus" / "alerts.yml").write_text(alerts[RULE_FILES[1]])
    done = subprocess.run(
        [
            promtool,
            "test",
            "rules",
            str(tmp_path / "prometheus" / "tests" / "error_budget_burn.yml"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    assert "TokenBlacklistErrorBudgetBurn" in done.stdout + done.stderr


def test_every_alert_is_tested_by_promtool() -> None:
    tested = "".join(path.read_text() for path in PROMTOOL_TESTS)
    for alert in _alerts():
        assert f"alertname: {alert.alert}" in tested


def test_every_alert_is_complete_and_has_a_runbook_section() -> None:
    anchors = runbook_anchors()
    alerts = _alerts()
    assert {a.alert for a in alerts} >= {
        "TokenBlacklistErrorBudgetBurn",
        "TokenBlacklistHighFailureRatio",
        "TokenBlacklistRedisUnavailable",
        "TokenBlacklistCheckErrors",
        "TokenBlacklistSlowBlacklisting",
        "TokenBlacklistMetricsAbsent",
    }
    for alert in alerts:
        assert alert.alert.startswith("TokenBlacklist")
        assert alert.severity in {"critical", "warning", "info"}
        assert alert.summary and "{{" not in alert.summary
        assert "{{ $labels.job }}" in alert.description
        url, _, anchor = alert.runbook_url.partition("#")
        assert url == Settings().runbook_url
        assert anchor in anchors, f"runbook.md has no section for {alert.alert}"
    severities = {a.severity for a in alerts if a.alert == "TokenBlacklistErrorBudgetBurn"}
    assert severities == {"critical", "warning"}  # page and ticket


def test_every_metric_used_is_exported_by_the_library(exported: TelemetryCapture) -> None:
    samples = {s.name for family in exported.registry.collect() for s in family.samples}
    texts = [path.read_text() for path in RULE_FILES] + [DASHBOARD.read_text()]
    used = set().union(*(metric_names(text) for text in texts))
    assert len(used) >= 8  # the six families, histogram buckets and counts
    assert used <= samples, f"not exported: {sorted(used - samples)}"


def test_every_recording_rule_used_is_defined() -> None:
    defined = {
        r.record for group in recording_groups() for r in group.rules if hasattr(r, "record")
    }
    used = recording_names(RULE_FILES[1].read_text()) | recording_names(DASHBOARD.read_text())
    assert used and used <= defined, f"undefined: {sorted(used - defined)}"


def test_every_dashboard_query_parses(promtool: str, tmp_path: Path) -> None:
    """promtool parses each query (variables substituted) as a recording rule expression."""
    queries = panel_queries(dashboard())
    lines = ["groups:", "  - name: dashboard", "    rules:"]
    for number, (_, expr) in enumerate(queries):
        text = substitute(expr, job=".+", instance=".+", rate_interval="1m")
        lines += [f"      - record: dashboard:query_{number}:parse", "        expr: |-"]
        lines += [f"          {line}" for line in text.splitlines()]
    rules = tmp_path / "dashboard-queries.yml"
    rules.write_text("\n".join(lines) + "\n")
    assert f"SUCCESS: {len(queries)} rules found" in run_promtool(
        promtool, "check", "rules", str(rules)
    )


def test_dashboard_follows_the_conventions() -> None:
    board = dashboard()
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert {"job", "instance"} <= set(variables)
    assert board["uid"] == "token-blacklist" and board["tags"]
    rows = [p["title"] for p in board["panels"] if p["type"] == "row"]
    assert rows == ["Overview", "Token failures", "Operations", "Latency", "Checks", "Check cache"]
    assert any(link["url"] == Settings().runbook_url for link in board["links"])
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in panels(board):
        assert panel["title"] and panel["description"], panel
        assert panel["type"] in {"stat", "timeseries", "heatmap", "text"}
        if panel["type"] == "text":
            continue
        assert panel["fieldConfig"]["defaults"]["unit"], panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"]
            expr = target["expr"]
            assert "[$__rate_interval]" in expr or "ratio_rate30d" in expr, expr
            assert "[5m]" not in expr and "[1m]" not in expr
            assert 'job=~"$job"' in expr, expr
            # Only the 30-day budget comes from a per-job recording rule.
            assert 'instance=~"$instance"' in expr or "ratio_rate30d" in expr, expr
    heatmaps = [p for p in panels(board) if p["type"] == "heatmap"]
    assert heatmaps and all(t.get("exemplar") for p in heatmaps for t in p["targets"])


def test_dashboard_draws_the_alert_thresholds() -> None:
    settings = Settings()
    ratio = next(
        p
        for p in panels(dashboard())
        if p["title"] == "Token failure ratio" and p["type"] == "timeseries"
    )
    drawn = {step["value"] for step in ratio["fieldConfig"]["defaults"]["thresholds"]["steps"]}
    assert settings.fast_failure_ratio in drawn
    assert {settings.burn_threshold(window) for window in BURN_WINDOWS} <= drawn
    assert ratio["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] == "line"


def test_library_exposition_passes_promtool_check_metrics(
    promtool: str, exported: TelemetryCapture
) -> None:
    from prometheus_client import generate_latest

    exposition = generate_latest(exported.registry).decode()
    assert 'token_blacklist_tokens_total{outcome="failed"} 8.0' in exposition
    run_promtool(promtool, "check", "metrics", stdin=exposition)
