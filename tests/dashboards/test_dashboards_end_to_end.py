"""End to end against real parts: a real ``prometheus`` loads the shipped rules (a test copy
with short ``for:``), scrapes an application that revokes tokens through the library against
a real redis-server whose ACL refuses half of the key space, and the test asks Prometheus'
HTTP API what an SRE would see."""

# Fixtures imported from dashboards_fixtures are used as test parameters (pytest's way):
# ruff: noqa: F811
from __future__ import annotations

import json
import math
import select
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import pytest
from dashboards.rule_files import render
from dashboards.rules import Alert, Group, Record, alert_groups, recording_groups
from dashboards.settings import Settings
from dashboards_fixtures import revoker_server  # noqa: F401 - fixtures
from mixin_inspection import ROOT, dashboard, panel_queries, require_binary, substitute
from revoker_redis import PREFIX, REVOKER

from token_blacklist.server import RedisServer, _die_with_parent, free_port

JOB = "token-blacklist-e2e"
APP = Path(__file__).with_name("dashboards_traffic_app.py")
DATASOURCE_PROVISIONING = (
    ROOT / "dashboards" / "grafana" / "provisioning" / "datasources" / "token-blacklist.yml"
)
T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 30.0) -> T:
    """Poll ``probe`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.25)


class TrafficApp:
    def __init__(self, server: RedisServer, directory: Path) -> None:
        self.port = free_port()
        self.log = directory / "app.log"
        command = [sys.executable, str(APP), "--redis-port", str(server.port)]
        command += ["--username", REVOKER[0], "--password", REVOKER[1]]
        command += ["--metrics-port", str(self.port)]
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=self.log.open("wb"),
            text=True,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - gone if pytest is killed
        )
        assert self.process.stdout is not None
        # Imports (OpenTelemetry SDK, prometheus_client) take seconds on a loaded 2-core CI.
        ready, _, _ = select.select([self.process.stdout], [], [], 60)
        line = self.process.stdout.readline().strip() if ready else ""
        assert line == "ready", f"the traffic app did not start:\n{self.log.read_text()[-3000:]}"

    def stop_traffic(self) -> None:
        self.process.send_signal(signal.SIGUSR1)

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


class Prometheus:
    """A private prometheus on a free loopback port, scraping and evaluating every second."""

    def __init__(self, directory: Path, target_port: int) -> None:
        binary = require_binary("prometheus")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = directory / "prometheus.log"
        (directory / "rules.yml").write_text(render(e2e_recording_groups()))
        (directory / "alerts.yml").write_text(render(e2e_alert_groups()))
        (directory / "prometheus.yml").write_text(
            "global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}\n"
            "rule_files: [rules.yml, alerts.yml]\n"
            f"scrape_configs:\n  - job_name: {JOB}\n"
            f"    static_configs: [{{targets: ['127.0.0.1:{target_port}']}}]\n"
        )
        self.process = subprocess.Popen(
            [
                binary,
                f"--config.file={directory / 'prometheus.yml'}",
                f"--storage.tsdb.path={directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--enable-feature=exemplar-storage",
            ],
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("wb"),
            start_new_session=True,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - gone if pytest is killed
        )
        wait_for("prometheus to be ready", self._ready)

    def _ready(self) -> bool:
        assert self.process.poll() is None, self.log.read_text()[-2000:]
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def api(self, path: str, **params: str) -> Any:
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=10) as response:
            body = json.load(response)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.api("query", query=expr)["result"]
        return result

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


def e2e_recording_groups() -> list[Group]:
    # The 30-day group evaluates every 5m in production; here with everything else.
    return [replace(group, interval=None) for group in recording_groups()]


def e2e_alert_groups() -> list[Group]:
    return [
        replace(group, rules=tuple(a.held_for("2s") for a in group.rules if isinstance(a, Alert)))
        for group in alert_groups(Settings())
    ]


@pytest.fixture(scope="module")
def app(
    revoker_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TrafficApp]:
    require_binary("prometheus")
    traffic = TrafficApp(revoker_server, tmp_path_factory.mktemp("app"))
    yield traffic
    traffic.close()


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory, app: TrafficApp) -> Iterator[Prometheus]:
    server = Prometheus(tmp_path_factory.mktemp("prometheus"), app.port)
    yield server
    server.close()


def _finite(result: list[dict[str, Any]]) -> bool:
    return any(math.isfinite(float(series["value"][1])) for series in result)


def test_recording_rules_have_values(prometheus: Prometheus) -> None:
    for group in e2e_recording_groups():
        for rule in group.rules:
            assert isinstance(rule, Record)
            labels = "".join(f', {k}="{v}"' for k, v in rule.labels.items())
            expr = f'{rule.record}{{job="{JOB}"{labels}}}'
            wait_for(expr, lambda expr=expr: _finite(prometheus.query(expr)))


def _label_values(prometheus: Prometheus, label: str) -> str:
    """What Grafana substitutes for a multi-value variable with everything selected."""
    values = prometheus.api(
        f"label/{label}/values", **{"match[]": "token_blacklist_operations_total"}
    )
    assert values, f"no {label} exports token_blacklist_operations_total"
    return "(" + "|".join(values) + ")"


def test_every_dashboard_query_returns_data(prometheus: Prometheus) -> None:
    wait_for("a first scrape", lambda: prometheus.query("token_blacklist_operations_total"))
    job, instance = _label_values(prometheus, "job"), _label_values(prometheus, "instance")
    queries = panel_queries(dashboard())
    assert len(queries) >= 14
    for title, expr in queries:
        # Grafana's $__rate_interval is at least four scrape intervals (here 1s each).
        sent = substitute(expr, job=job, instance=instance, rate_interval="4s")
        wait_for(
            f"data for panel {title!r}: {sent}", lambda sent=sent: _finite(prometheus.query(sent))
        )


def _firing(prometheus: Prometheus) -> dict[str, list[dict[str, Any]]]:
    by_name: dict[str, list[dict[str, Any]]] = {}
    for alert in prometheus.api("alerts")["alerts"]:
        if alert["state"] == "firing":
            by_name.setdefault(alert["labels"]["alertname"], []).append(alert)
    return by_name


def test_revoke_all_alert_fires(prometheus: Prometheus) -> None:
    """The traffic's ACL denies the not-before keys: every "log out everywhere" fails,
    while single tokens partly succeed."""
    name = "TokenBlacklistRevokeAllFailing"
    firing = wait_for(
        f"{name} firing", lambda: _firing(prometheus) if name in _firing(prometheus) else None
    )
    (alert,) = firing[name]
    assert alert["labels"] == {"alertname": name, "job": JOB, "severity": "critical"}
    assert alert["annotations"]["description"].startswith(
        f"100% of the revoke_all calls of {JOB} failed"
    )
    assert alert["annotations"]["runbook_url"].endswith("#tokenblacklistrevokeallfailing")


def test_fast_failure_ratio_alert_fires(prometheus: Prometheus) -> None:
    name = "TokenBlacklistHighFailureRatio"
    firing = wait_for(
        f"{name} firing", lambda: _firing(prometheus) if name in _firing(prometheus) else None
    )
    (alert,) = firing[name]
    assert alert["labels"] == {"alertname": name, "job": JOB, "severity": "critical"}
    description = alert["annotations"]["description"]
    assert description.startswith(f"{JOB} failed to revoke ") and "% of the tokens" in description
    assert alert["annotations"]["runbook_url"].endswith("#tokenblacklisthighfailureratio")
    # Redis answers (NOPERM for half the keys): not "unreachable", and metrics are there.
    assert "TokenBlacklistRedisUnavailable" not in firing
    assert "TokenBlacklistMetricsAbsent" not in firing


def test_exemplars_carry_trace_ids(prometheus: Prometheus) -> None:
    now = time.time()

    def exemplars() -> list[dict[str, Any]]:
        found = prometheus.api(
            "query_exemplars",
            query="token_blacklist_operation_duration_seconds_bucket",
            start=str(now - 300),
            end=str(time.time()),
        )
        return [e for series in found for e in series["exemplars"]]

    found = wait_for("exemplars", exemplars)
    trace_ids = {e["labels"]["trace_id"] for e in found}
    assert all(len(t) == 32 and int(t, 16) for t in trace_ids)
    # The shipped Grafana data source links exactly this exemplar label to traces.
    assert {label for e in found for label in e["labels"]} == {"trace_id"}
    assert "- name: trace_id\n" in DATASOURCE_PROVISIONING.read_text()


def _scalar(prometheus: Prometheus, expr: str) -> float:
    result = prometheus.query(expr)
    return float(result[0]["value"][1]) if result else math.nan


def test_prometheus_counts_equal_what_redis_holds(
    prometheus: Prometheus, app: TrafficApp, revoker_server: RedisServer
) -> None:
    app.stop_traffic()
    succeeded = f'sum(token_blacklist_tokens_total{{job="{JOB}", outcome="succeeded"}})'
    stopped_at = time.time()
    # A scrape 2.5s after the traffic stopped (in-flight calls long done): the counters
    # Prometheus holds are final.
    last_scrape = f'timestamp(up{{job="{JOB}"}}) - {stopped_at}'
    wait_for("a scrape after the traffic stopped", lambda: _scalar(prometheus, last_scrape) > 2.5)
    admin = revoker_server.client()
    try:
        held = sum(1 for _ in admin.scan_iter(f"{PREFIX}:*", count=1000))
    finally:
        admin.close()
    assert held > 0
    assert _scalar(prometheus, succeeded) == held
    failed = _scalar(
        prometheus, f'sum(token_blacklist_tokens_total{{job="{JOB}", outcome="failed"}})'
    )
    noperm = _scalar(
        prometheus, f'sum(token_blacklist_token_failures_total{{job="{JOB}", reason="noperm"}})'
    )
    all_reasons = _scalar(prometheus, f'sum(token_blacklist_token_failures_total{{job="{JOB}"}})')
    requested = _scalar(prometheus, f'sum(token_blacklist_batch_size_sum{{job="{JOB}"}})')
    assert failed == noperm == all_reasons > 0
    assert held + failed == requested
