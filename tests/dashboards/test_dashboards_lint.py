"""The monitoring-mixin lint rules (dashboards/lint.py): the shipped mixin passes them, and
each check fails on a small fixture that breaks it (and only that check)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from dashboards.lint import Problem, lint_dashboard, lint_rules, selectors
from mixin_inspection import (
    DASHBOARD,
    DASHBOARD_CONFIGMAP,
    PROMETHEUS_RULE,
    RULE_FILES,
    dashboard,
    load_yaml,
)

Fixture = dict[str, Any]


def _shown(problems: list[Problem]) -> str:
    return "\n".join(map(str, problems))


# The shipped files -------------------------------------------------------------------------


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_shipped_rule_files_pass_the_lint(path: Any) -> None:
    problems = lint_rules(load_yaml(path))
    assert problems == [], _shown(problems)


def test_shipped_prometheus_rule_passes_the_lint() -> None:
    spec = load_yaml(PROMETHEUS_RULE)["spec"]
    assert len(spec["groups"]) == 3
    problems = lint_rules(spec)
    assert problems == [], _shown(problems)


def test_shipped_dashboard_passes_the_lint() -> None:
    import json

    shipped = load_yaml(DASHBOARD_CONFIGMAP)["data"][DASHBOARD.name]
    for board in (dashboard(), json.loads(shipped)):
        assert sum(1 for p in board["panels"] if p["type"] != "row") >= 10
        problems = lint_dashboard(board)
        assert problems == [], _shown(problems)


# The PromQL reader the checks rely on ------------------------------------------------------


def _read(expr: str) -> list[tuple[str, str | None, str | None]]:
    return [(s.metric, s.function, s.range) for s in selectors(expr)]


def test_selectors_names_the_function_each_selector_is_an_argument_of() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (job, le) (rate(a_bucket{job=~".+"}[5m])))\n'
        "and on (job) ignoring (le) group_left (x)\n"
        "sum without (instance) (b_total) / (c:d:e > 0) unless count(f offset 5m)"
    )
    assert _read(expr) == [
        ("a_bucket", "rate", "5m"),
        ("b_total", "sum", None),
        ("c:d:e", None, None),
        ("f", "count", None),
    ]
    (found,) = selectors('x{a="1,}", b!~"y\\"z", job=~"$job"}[$__rate_interval]')
    assert found.matchers == (("a", "=", "1,}"), ("b", "!~", 'y\\"z'), ("job", "=~", "$job"))
    assert found.range == "$__rate_interval" and found.has("job", "=~", ("$job",))
    assert selectors("sum(rate(x[5m])) by (job)")[0].function == "rate"
    assert selectors('{__name__=~"x_total"}')[0].metric == ""


@pytest.mark.parametrize("expr", ["sum(rate(x[5m])", "rate(x[5m]))", 'x{a="1"', "x{a}"])
def test_selectors_refuses_what_it_cannot_read(expr: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        selectors(expr)


# Rules: one good fixture, one mutation per check --------------------------------------------

RECORD = "job:example_failures_per_requests:ratio_rate5m"
GOOD_RULES: Fixture = {
    "groups": [
        {
            "name": "example.rules",
            "rules": [
                {
                    "record": RECORD,
                    "expr": 'sum by (job) (rate(example_failures_total{job=~".+"}[5m]))\n/\n'
                    'sum by (job) (rate(example_requests_total{job=~".+"}[5m]))',
                },
            ],
        },
        {
            "name": "example.alerts",
            "rules": [
                {
                    "alert": "ExampleHighFailureRatio",
                    "expr": f"{RECORD} > 0.05",
                    "for": "5m",
                    "labels": {"severity": "critical"},
                    "annotations": {
                        "summary": "Requests are failing.",
                        "description": "{{ $labels.job }} fails {{ $value | humanizePercentage }}.",
                        "runbook_url": "https://runbooks.example.com/x#examplehighfailureratio",
                    },
                },
                {
                    "alert": "ExampleMetricsAbsent",
                    # Presence only: the counter's value is not read.
                    "expr": "group by (job) "
                    '(present_over_time(example_requests_total{job="a"}[1h]))'
                    ' unless on (job) group by (job) (example_requests_total{job="a"})',
                    "labels": {"severity": "warning"},
                    "annotations": {
                        "summary": "Metrics are gone.",
                        "description": "{{ $labels.job }} exports nothing.",
                        "runbook_url": "https://runbooks.example.com/x#examplemetricsabsent",
                    },
                },
            ],
        },
    ]
}


def _alert(fixture: Fixture) -> dict[str, Any]:
    alert: dict[str, Any] = fixture["groups"][1]["rules"][0]
    return alert


def _set(path: str, value: Any) -> Callable[[Fixture], None]:
    """Set ``alert[key1][key2]...`` (``None`` deletes)."""

    def mutate(fixture: Fixture) -> None:
        *parents, last = path.split(".")
        node = _alert(fixture)
        for key in parents:
            node = node[key]
        if value is None:
            del node[last]
        else:
            node[last] = value

    return mutate


def _too_many_rules(fixture: Fixture) -> None:
    rules = fixture["groups"][0]["rules"]
    rules.extend(
        {**rules[0], "record": f"job:example_failures_per_requests:ratio_rate{n}m"}
        for n in range(20)
    )


def _duplicate_group(fixture: Fixture) -> None:
    fixture["groups"][1]["name"] = fixture["groups"][0]["name"]


def _record(**changes: str) -> Callable[[Fixture], None]:
    def mutate(fixture: Fixture) -> None:
        fixture["groups"][0]["rules"][0].update(changes)

    return mutate


RULE_MUTATIONS = [
    ("alert-name", _set("alert", "exampleHighFailureRatio")),
    ("alert-name", _set("alert", "Example_High_Failure_Ratio")),
    ("alert-name", _set("alert", "ExampleHighFailureRatioOfTheLoginServices")),  # 41
    ("alert-severity", _set("labels.severity", "page")),
    ("alert-severity", _set("labels", None)),
    ("alert-summary", _set("annotations.summary", "{{ $labels.job }} requests are failing.")),
    ("alert-summary", _set("annotations.summary", "Requests of {{ $labels.job }} fail.")),
    ("alert-summary", _set("annotations.summary", "requests are failing.")),
    ("alert-summary", _set("annotations.summary", "Requests are failing")),
    ("alert-summary", _set("annotations.summary", None)),
    ("alert-description", _set("annotations.description", "Requests are failing.")),
    ("alert-description", _set("annotations.description", None)),
    ("alert-runbook", _set("annotations.runbook_url", None)),
    ("group-size", _too_many_rules),
    ("group-name", _duplicate_group),
    ("record-name", _record(record="example_failure_ratio")),
    ("rule-job-matcher", _record(expr="sum by (job) (rate(example_failures_total[5m]))")),
    (
        "rule-job-matcher",
        _set("expr", 'sum by (job) (rate(example_failures_total{code="5"}[5m])) > 0'),
    ),
    ("counter-rate", _set("expr", 'sum by (job) (example_failures_total{job=~".+"}) > 10')),
    ("counter-rate", _set("expr", 'example_requests_count{job=~".+"} > 10')),
    ("counter-rate", _set("expr", 'delta(example_requests_total{job=~".+"}[5m]) > 10')),
    ("promql", _set("expr", f"({RECORD} > 0.05")),
]


def test_the_good_rules_fixture_passes() -> None:
    assert lint_rules(GOOD_RULES) == []
    at_the_limit = copy.deepcopy(GOOD_RULES)
    _set("alert", "ExampleHighFailureRatioOfTheLoginService")(at_the_limit)  # 40
    assert lint_rules(at_the_limit) == []


@pytest.mark.parametrize(
    ("check", "mutate"), RULE_MUTATIONS, ids=[f"{c}-{n}" for n, (c, _) in enumerate(RULE_MUTATIONS)]
)
def test_each_rules_check_fails_on_a_bad_fixture(
    check: str, mutate: Callable[[Fixture], None]
) -> None:
    bad = copy.deepcopy(GOOD_RULES)
    mutate(bad)
    problems = lint_rules(bad)
    assert problems, f"{check} passed a bad fixture"
    assert {p.check for p in problems} == {check}, _shown(problems)


# Dashboard: one good fixture, one mutation per check -----------------------------------------

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
SELECTOR = 'job=~"$job", instance=~"$instance"'


def _panel(expr: str, title: str = "Requests") -> dict[str, Any]:
    return {
        "type": "timeseries",
        "id": 2,
        "title": title,
        "description": "Requests per second.",
        "datasource": dict(DATASOURCE),
        "fieldConfig": {"defaults": {"unit": "ops"}},
        "targets": [{"refId": "A", "expr": expr, "datasource": dict(DATASOURCE)}],
    }


GOOD_DASHBOARD: Fixture = {
    "title": "Example",
    "uid": "example-service",
    "templating": {
        "list": [
            {"name": "datasource", "type": "datasource", "query": "prometheus"},
            *(
                {
                    "name": name,
                    "type": "query",
                    "datasource": dict(DATASOURCE),
                    "multi": True,
                    "includeAll": True,
                }
                for name in ("job", "instance")
            ),
        ]
    },
    "panels": [
        {"type": "row", "id": 1, "title": "Overview", "panels": []},
        _panel(f"sum by (job) (rate(example_requests_total{{{SELECTOR}}}[$__rate_interval]))"),
        # A per-job recorded series has no instance label to match.
        _panel(f'{RECORD}{{job=~"$job"}}', "Failure ratio"),
    ],
}


def _board_set(path: str, value: Any) -> Callable[[Fixture], None]:
    """Set ``board[...]``; a path starting with ``panel.`` or ``target.`` goes into the first
    query panel or its target; ``var.<name>.`` into a template variable."""

    def mutate(board: Fixture) -> None:
        keys = path.split(".")
        node: Any = board
        if keys[0] == "panel":
            node, keys = board["panels"][1], keys[1:]
        elif keys[0] == "target":
            node, keys = board["panels"][1]["targets"][0], keys[1:]
        elif keys[0] == "var":
            node = next(v for v in board["templating"]["list"] if v["name"] == keys[1])
            keys = keys[2:]
        *parents, last = keys
        for key in parents:
            node = node[key]
        if value is None:
            del node[last]
        else:
            node[last] = value

    return mutate


def _drop_variable(name: str) -> Callable[[Fixture], None]:
    def mutate(board: Fixture) -> None:
        board["templating"]["list"] = [v for v in board["templating"]["list"] if v["name"] != name]

    return mutate


def _in_collapsed_row(board: Fixture) -> None:
    panel = board["panels"].pop(1)
    del panel["description"]
    board["panels"][0].update(collapsed=True, panels=[panel])


def _expr(expr: str) -> Callable[[Fixture], None]:
    return _board_set("target.expr", expr)


DASHBOARD_MUTATIONS = [
    ("dashboard-title", _board_set("title", "")),
    ("dashboard-uid", _board_set("uid", None)),
    ("dashboard-uid", _board_set("uid", "has spaces")),
    ("template-datasource", _drop_variable("datasource")),
    ("template-datasource", _board_set("var.datasource.query", "loki")),
    ("template-job", _drop_variable("job")),
    ("template-job", _board_set("var.job.multi", False)),
    ("template-instance", _board_set("var.instance.datasource", {"uid": "prometheus-prod"})),
    ("panel-title", _board_set("panel.title", "")),
    ("panel-description", _board_set("panel.description", None)),
    ("panel-description", _in_collapsed_row),
    ("panel-unit", _board_set("panel.fieldConfig.defaults", {})),
    ("panel-datasource", _board_set("panel.datasource", {"uid": "prometheus-prod"})),
    ("panel-datasource", _board_set("target.datasource", None)),
    ("panel-targets", _board_set("panel.targets", [])),
    (
        "target-job",
        _expr('sum(rate(example_requests_total{instance=~"$instance"}[$__rate_interval]))'),
    ),
    ("target-job", _expr(f'{RECORD}{{job="api"}}')),
    ("target-instance", _expr('sum(rate(example_requests_total{job=~"$job"}[$__rate_interval]))')),
    # A recorded series whose level keeps the instance must be matched on it.
    ("target-instance", _expr('job_instance:example_requests:rate5m{job=~"$job"}')),
    ("target-rate-interval", _expr(f"sum(rate(example_requests_total{{{SELECTOR}}}[5m]))")),
    ("counter-rate", _expr(f"sum(example_requests_total{{{SELECTOR}}})")),
    ("promql", _expr(f"sum(rate(example_requests_total{{{SELECTOR}}}[$__rate_interval])")),
]


def test_the_good_dashboard_fixture_passes() -> None:
    assert lint_dashboard(GOOD_DASHBOARD) == []


@pytest.mark.parametrize(
    ("check", "mutate"),
    DASHBOARD_MUTATIONS,
    ids=[f"{c}-{n}" for n, (c, _) in enumerate(DASHBOARD_MUTATIONS)],
)
def test_each_dashboard_check_fails_on_a_bad_fixture(
    check: str, mutate: Callable[[Fixture], None]
) -> None:
    bad = copy.deepcopy(GOOD_DASHBOARD)
    mutate(bad)
    problems = lint_dashboard(bad)
    assert problems, f"{check} passed a bad fixture"
    assert {p.check for p in problems} == {check}, _shown(problems)


def test_a_text_panel_without_a_query_fails_the_lint() -> None:
    """The shipped dashboard had a markdown "Runbook" panel: no unit, no data source."""
    bad = copy.deepcopy(GOOD_DASHBOARD)
    bad["panels"].append({"type": "text", "id": 9, "title": "Runbook", "description": "Docs."})
    checks = {p.check for p in lint_dashboard(bad)}
    assert checks == {"panel-unit", "panel-datasource", "panel-targets"}
