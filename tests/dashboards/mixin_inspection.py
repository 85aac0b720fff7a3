"""Reading the shipped mixin files the way the tests need them: PromQL texts, metric
names, runbook anchors, and promtool."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MIXIN = ROOT / "dashboards"
PROMETHEUS_DIR = MIXIN / "prometheus"
RULE_FILES = (PROMETHEUS_DIR / "rules.yml", PROMETHEUS_DIR / "alerts.yml")
DASHBOARD = MIXIN / "grafana" / "token-blacklist.json"
RUNBOOK = MIXIN / "runbook.md"
KUBERNETES = MIXIN / "kubernetes"
PROMETHEUS_RULE = KUBERNETES / "prometheusrule.yaml"
DASHBOARD_CONFIGMAP = KUBERNETES / "grafana-dashboard-configmap.yaml"


def load_yaml(path: Path) -> Any:
    """A YAML file as PyYAML's safe loader reads it (YAML 1.1, as go-yaml v2 does: "1" and
    "yes" unquoted would not be strings)."""
    return yaml.safe_load(path.read_text())


def require_binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not on PATH (Debian package: prometheus); CI installs it")
    return found


def run_promtool(promtool: str, *args: str, stdin: str | None = None) -> str:
    """promtool's combined output; fails the test with that output on a non-zero exit."""
    done = subprocess.run(
        [promtool, *args], input=stdin, capture_output=True, text=True, timeout=120, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"promtool {' '.join(args)} failed:\n{output}"
    return output


def metric_names(text: str) -> set[str]:
    """Library metric names in a text (recording-rule names, which contain ':', and rule
    group names, which contain '.', excluded)."""
    return set(re.findall(r"(?<![\w:.])token_blacklist_[a-z_]+(?![\w:.])", text))


def recording_names(text: str) -> set[str]:
    return set(re.findall(r"\b[a-z_]+:token_blacklist_[a-z_]+:[a-z0-9_]+\b", text))


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel that is not a row."""
    for panel in board["panels"]:
        if panel["type"] != "row":
            yield panel


def panel_queries(board: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, expr) of every query target."""
    return [
        (panel["title"], target["expr"])
        for panel in panels(board)
        for target in panel.get("targets", [])
    ]


def substitute(expr: str, *, job: str, instance: str, rate_interval: str) -> str:
    """What Grafana sends for ``expr`` with these variable values."""
    return (
        expr.replace("$__rate_interval", rate_interval)
        .replace("$job", job)
        .replace("$instance", instance)
    )


def runbook_anchors() -> set[str]:
    """GitHub's anchors of the runbook's headings (lower case, spaces to dashes)."""
    headings = re.findall(r"^#{1,6} (.+)$", RUNBOOK.read_text(), flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}
